// issueEventMessage() writes the binary-mode message of a new Issue's CloudEvent directly; it must
// equal what binaryMessage() (the SDK's HTTP.binary with attribute values percent-encoded) gives
// for issueEvent(), for any alert.
import { readFileSync } from 'node:fs';
import test from 'ava';
import fc from 'fast-check';
import { type AlertmanagerAlert, alertToIssue, parseWebhook } from '../lib/domain/alertmanager.ts';
import { EXPLANATIONS } from '../lib/domain/config/explanations.ts';
import { DEFAULT_CONFIG } from '../lib/domain/config/load.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { issueEvent, issueEventMessage } from '../lib/domain/events.ts';
import { binaryMessage } from '../lib/platform/cloudevents/encode.ts';
import { hostileAlert, hostileText, NUM_RUNS } from './support/arbitraries.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function both(payload: unknown, source: string) {
  const webhook = parseWebhook(payload);
  return webhook.alerts.map((a) => {
    const issue = alertToIssue(a, webhook, { cluster: 'prod' });
    const sdk = binaryMessage(issueEvent(issue, source, TRACEPARENT));
    const direct = issueEventMessage(issue, source, TRACEPARENT);
    // The event time is "now" in both; it is the only attribute allowed to differ.
    const headers = (h: Record<string, unknown>) => {
      const { 'ce-time': time, ...rest } = h;
      return { time: typeof time === 'string' && !Number.isNaN(Date.parse(time)), rest };
    };
    return {
      sdk: { headers: headers(sdk.headers), body: sdk.body },
      // A body past ASCII goes as its UTF-8 bytes; ASCII stays a string.
      direct: {
        headers: headers(direct.headers),
        body: typeof direct.body === 'string' ? direct.body : direct.body.toString('utf8'),
      },
      directKind: typeof direct.body === 'string' ? 'string' : 'bytes',
    };
  });
}

test('issueEventMessage equals binaryMessage(issueEvent()) for the kube-prometheus fixture', (t) => {
  const payload = JSON.parse(
    readFileSync(new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url), 'utf8'),
  );
  for (const { sdk, direct, directKind } of both(payload, '/kubeincident/prod/alert-ingest')) {
    t.deepEqual(direct, sdk);
    t.true(direct.headers.time);
    t.is(directKind, 'string', 'an ASCII body stays a string');
  }
});

test('issueEventMessage sends a body past ASCII as its UTF-8 bytes, equal to the SDK body', (t) => {
  const payload = JSON.parse(
    readFileSync(new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url), 'utf8'),
  );
  payload.alerts[0].annotations.description = 'the container’s last lines: 容器 🚨 café';
  const [only] = both(payload, '/kubeincident/prod/alert-ingest');
  if (!only) return t.fail('no alert mapped');
  t.deepEqual(only.direct, only.sdk);
  t.is(only.directKind, 'bytes');
  t.regex(String(only.direct.body), /container’s last lines: 容器 🚨 café/);
});

test('issueEventMessage equals binaryMessage(issueEvent()) for hostile alerts', (t) => {
  fc.assert(
    fc.property(
      fc.record({
        externalURL: fc.oneof(fc.webUrl(), hostileText),
        alerts: fc.array(hostileAlert, { maxLength: 3 }),
      }),
      (payload) => {
        for (const { sdk, direct, directKind } of both(payload, '/kubeincident/alert-ingest')) {
          t.deepEqual(direct, sdk);
          t.is(
            directKind,
            Buffer.byteLength(String(sdk.body)) === String(sdk.body).length ? 'string' : 'bytes',
          );
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

test('issueEventMessage: with the default configuration, every explained alert is sent as the SDK would, its explanation as written', (t) => {
  // The explanations are written for a reader (typographic apostrophes): an issue carrying one
  // goes out as UTF-8 bytes, which must be exactly the SDK's body.
  const fixture = JSON.parse(
    readFileSync(new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url), 'utf8'),
  );
  const names = Object.keys(EXPLANATIONS);
  t.true(names.length > 10);
  for (const alertname of names) {
    fixture.alerts[0].labels.alertname = alertname;
    const webhook = parseWebhook(fixture);
    const issue = planIssue(
      alertToIssue(webhook.alerts[0] as AlertmanagerAlert, webhook),
      DEFAULT_CONFIG,
    ).issue;
    if (!issue) return t.fail(`${alertname} was silenced by the defaults`);
    const explained = issue.enrichments.find((e) => e.source === 'explanation');
    if (!explained) return t.fail(`${alertname} carries no explanation`);
    const { body } = issueEventMessage(issue, '/src', TRACEPARENT);
    const sent = typeof body === 'string' ? body : body.toString('utf8');
    t.is(
      sent,
      String(binaryMessage(issueEvent(issue, '/src', TRACEPARENT)).body),
      `${alertname}'s event body`,
    );
    const steps = EXPLANATIONS[alertname]?.nextSteps ?? [];
    t.true(
      steps.every((step) => sent.includes(JSON.stringify(step).slice(1, -1))),
      `${alertname}'s next steps arrive as written`,
    );
  }
});
