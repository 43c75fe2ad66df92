import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  alertFingerprint,
  alertToIssue,
  inferSubject,
  parseWebhook,
  silenceLink,
} from '../lib/domain/alertmanager.ts';
import { Issue, severityFromLabel } from '../lib/domain/issue.ts';
import { BadRequestError } from '../lib/platform/errors.ts';

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url), 'utf8'),
);

test('alertmanager: severity labels map to HIGH/LOW/INFO/DEBUG, anything else to INFO', (t) => {
  const cases: Array<[string | undefined, ReturnType<typeof severityFromLabel>]> = [
    ['critical', 'HIGH'],
    ['high', 'HIGH'],
    ['error', 'HIGH'],
    ['Critical ', 'HIGH'],
    ['warning', 'LOW'],
    ['low', 'LOW'],
    ['info', 'INFO'],
    ['debug', 'DEBUG'],
    ['none', 'INFO'],
    ['page', 'INFO'],
    [undefined, 'INFO'],
  ];
  for (const [label, want] of cases) t.is(severityFromLabel(label), want, String(label));
});

test('alertmanager: the subject is the narrowest object the labels name', (t) => {
  t.deepEqual(inferSubject({ pod: 'p', namespace: 'ns', container: 'c', node: 'n1' }), {
    kind: 'Pod',
    name: 'p',
    namespace: 'ns',
    node: 'n1',
    container: 'c',
  });
  t.deepEqual(inferSubject({ deployment: 'web', namespace: 'ns' }), {
    kind: 'Deployment',
    name: 'web',
    namespace: 'ns',
  });
  t.deepEqual(inferSubject({ statefulset: 'db', namespace: 'ns' }), {
    kind: 'StatefulSet',
    name: 'db',
    namespace: 'ns',
  });
  t.deepEqual(inferSubject({ daemonset: 'agent', namespace: 'ns' }), {
    kind: 'DaemonSet',
    name: 'agent',
    namespace: 'ns',
  });
  t.deepEqual(inferSubject({ job_name: 'backup-123', namespace: 'ns', job: 'kube-state-metrics' }), {
    kind: 'Job',
    name: 'backup-123',
    namespace: 'ns',
  });
  // `job` alone is Prometheus's scrape job, not a Kubernetes Job.
  t.deepEqual(inferSubject({ job: 'kube-state-metrics', namespace: 'ns' }), {
    kind: 'Namespace',
    name: 'ns',
    namespace: 'ns',
  });
  t.deepEqual(inferSubject({ node: 'worker-3' }), { kind: 'Node', name: 'worker-3' });
  t.deepEqual(inferSubject({ alertname: 'NodeFilesystemSpaceFillingUp', instance: 'worker-1:9100' }), {
    kind: 'Node',
    name: 'worker-1',
  });
  t.deepEqual(inferSubject({ alertname: 'TargetDown', instance: '10.0.0.1:9100' }), { kind: 'Cluster' });
  t.deepEqual(inferSubject({}), { kind: 'Cluster' });
});

test('alertmanager: a v4 payload maps to valid Issues with links, cluster and plan', (t) => {
  const payload = parseWebhook(fixture);
  const [pod, node] = payload.alerts.map((a) => alertToIssue(a, payload, { cluster: 'prod-eu' }));
  if (!pod || !node) return t.fail('expected two issues');
  t.true(Issue.safeParse(pod).success);
  t.is(pod.fingerprint, '4f1a3c2b9d8e7f60');
  t.is(pod.title, 'Pod is crash looping.');
  t.is(pod.severity, 'LOW');
  t.is(pod.status, 'firing');
  t.is(pod.endsAt, undefined, 'the zero endsAt of a firing alert is not an end');
  t.is(pod.startsAt, '2026-11-22T03:41:10.123Z');
  t.is(pod.cluster, 'prod-eu');
  t.deepEqual(pod.plan, ['enrichpod', 'dispatch']);
  t.deepEqual(
    pod.links.map((l) => l.type),
    ['graph', 'runbook', 'silence'],
  );
  t.is(node.subject.kind, 'Node');
  t.is(node.severity, 'HIGH');
  t.deepEqual(node.plan, ['enrichnode', 'dispatch']);
});

test('alertmanager: a repeat of the same firing keeps its id; resolution gets a new one', (t) => {
  const payload = parseWebhook(fixture);
  const alert = payload.alerts[0];
  if (!alert) return t.fail();
  const a = alertToIssue(alert, payload);
  const b = alertToIssue(structuredClone(alert), payload);
  const resolved = alertToIssue({ ...alert, status: 'resolved', endsAt: '2026-11-22T03:55:10Z' }, payload);
  t.is(a.id, b.id);
  t.not(a.id, resolved.id);
  t.is(a.fingerprint, resolved.fingerprint);
  t.is(resolved.endsAt, '2026-11-22T03:55:10.000Z');
});

test('alertmanager: without a fingerprint the label set is hashed, independent of order', (t) => {
  const base = { status: 'firing' as const, annotations: {}, startsAt: '2026-11-22T00:00:00Z' };
  const a = alertFingerprint({ ...base, labels: { a: '1', b: '2' } });
  const b = alertFingerprint({ ...base, labels: { b: '2', a: '1' } });
  const c = alertFingerprint({ ...base, labels: { a: '1', b: '3' } });
  t.is(a, b);
  t.not(a, c);
});

test('alertmanager: the silence link pre-fills matchers for all labels, quotes escaped', (t) => {
  const url = silenceLink('http://am:9093/', { alertname: 'X', namespace: 'y', msg: 'say "hi"' });
  t.true(url.startsWith('http://am:9093/#/silences/new?filter='));
  const filter = decodeURIComponent(url.split('filter=')[1] ?? '');
  t.is(filter, '{alertname="X",msg="say \\"hi\\"",namespace="y"}');
});

test('alertmanager: unknown fields are accepted; malformed payloads are clear 400s', (t) => {
  t.notThrows(() =>
    parseWebhook({ ...fixture, somethingNew: { x: 1 }, alerts: [{ ...fixture.alerts[0], extra: true }] }),
  );
  const cases: Array<[unknown, RegExp]> = [
    [null, /invalid Alertmanager payload/],
    [{ version: '4' }, /alerts: /],
    [{ ...fixture, alerts: [{ labels: {} }] }, /alerts\[0\]\.status/],
    [
      { ...fixture, alerts: [{ ...fixture.alerts[0], startsAt: 'yesterday' }] },
      /alerts\[0\]\.startsAt: not an RFC 3339 timestamp/,
    ],
    [{ ...fixture, alerts: [{ ...fixture.alerts[0], labels: { a: 1 } }] }, /alerts\[0\]\.labels\.a/],
    [{ ...fixture, version: '3' }, /unsupported Alertmanager payload version/],
  ];
  for (const [body, message] of cases) {
    const err = t.throws(() => parseWebhook(body), { instanceOf: BadRequestError });
    t.regex(err?.message ?? '', message);
  }
});

test('alertmanager: links that are not http(s) are dropped, not rendered', (t) => {
  const payload = parseWebhook({
    ...fixture,
    externalURL: 'javascript:alert(1)',
    alerts: [
      {
        ...fixture.alerts[0],
        generatorURL: 'javascript:alert(1)',
        annotations: { runbook_url: 'file:///etc/passwd' },
      },
    ],
  });
  const alert = payload.alerts[0];
  if (!alert) return t.fail();
  t.deepEqual(alertToIssue(alert, payload).links, []);
});

test('alertmanager: a label set too long for a link still gets a silence link on its identifying labels', (t) => {
  const url = silenceLink('http://am:9093', {
    alertname: 'X',
    namespace: 'ns',
    pod: 'p-1',
    image: 'i'.repeat(5000),
  });
  t.true(url.length <= 4000);
  t.is(decodeURIComponent(url.split('filter=')[1] ?? ''), '{alertname="X",namespace="ns",pod="p-1"}');
});
