// Trigger loading: the real knative/ manifests, Knative's delivery rules and load-time rejection.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { EventTypes } from '../lib/domain/events.ts';
import { STAGES } from '../lib/domain/issue.ts';
import { triggerFilterAccepts } from '../scripts/broker/filter.ts';
import {
  DEFAULT_DELIVERY,
  InvalidTriggerError,
  loadKnativeWiring,
  loadTriggers,
  parseIsoDuration,
  parseTrigger,
  withDelivery,
} from '../scripts/broker/triggers.ts';

function reply(type: string, nextstage: string): Record<string, string> {
  return { specversion: '1.0', id: '1', source: '/kubeincident/test', type, nextstage, partitionkey: 'fp' };
}

test('triggers: the real knative/ wiring loads one Trigger per subscriber', async (t) => {
  const { broker, triggers } = await loadKnativeWiring();
  t.is(broker.name, 'kubeincident');
  t.deepEqual(
    triggers.map((tr) => [tr.name, tr.subscriber.ref?.kind, tr.subscriber.ref?.name]),
    [
      ['dispatch-jira', 'Service', 'dispatch-jira'],
      ['dispatch-pagerduty', 'Service', 'dispatch-pagerduty'],
      ['dispatch-slack', 'Service', 'dispatch-slack'],
      ['dispatch-teams', 'Service', 'dispatch-teams'],
      ['dispatch-webhook', 'Service', 'dispatch-webhook'],
      ['enrich-metrics', 'Service', 'enrich-metrics'],
      ['enrich-node', 'Service', 'enrich-node'],
      ['enrich-pod', 'Service', 'enrich-pod'],
      ['k8s-event-ingest', 'Service', 'k8s-event-ingest'],
      ['run-workflows', 'Service', 'run-workflows'],
    ],
  );
  for (const tr of triggers) {
    t.is(tr.broker, 'kubeincident');
    t.is(tr.delivery.backoffPolicy, 'exponential', tr.name);
    t.is(tr.delivery.deadLetterSink?.ref?.name, 'kubeincident-dead-letters', tr.name);
  }
});

test('triggers: each stage Trigger filters on exactly one nextstage, so no subscriber receives its own reply', async (t) => {
  const { triggers } = await loadKnativeWiring();
  const byName = new Map(triggers.map((tr) => [tr.name, tr]));
  const stageOf = {
    'enrich-pod': 'enrichpod',
    'enrich-node': 'enrichnode',
    'enrich-metrics': 'enrichmetrics',
    'dispatch-slack': 'dispatch',
    'dispatch-webhook': 'dispatch',
    'dispatch-pagerduty': 'dispatch',
    'dispatch-teams': 'dispatch',
    'dispatch-jira': 'dispatch',
  } as const;
  for (const [name, stage] of Object.entries(stageOf)) {
    const tr = byName.get(name);
    t.deepEqual(tr?.filter, { attributes: { nextstage: stage } }, name);
    t.is(tr?.filters, undefined, name);
    t.true(
      triggerFilterAccepts(tr ?? {}, reply(EventTypes.issueCreated, stage)),
      `${name} takes its own stage`,
    );
    // Stages only move forward: whatever the subscriber replies carries a later stage or done.
    const replyType = name.startsWith('dispatch-') ? EventTypes.notificationSent : EventTypes.issueEnriched;
    for (const later of [...STAGES.slice(STAGES.indexOf(stage) + 1), 'done']) {
      t.false(
        triggerFilterAccepts(tr ?? {}, reply(replyType, later)),
        `${name} reply with nextstage=${later}`,
      );
    }
  }
  const ingest = byName.get('k8s-event-ingest');
  t.deepEqual(ingest?.filters, [{ prefix: { type: 'dev.knative.apiserver.' } }]);
  t.is(ingest?.filter, undefined);
  t.true(triggerFilterAccepts(ingest ?? {}, reply('dev.knative.apiserver.resource.add', 'x')));
  for (const stage of [...STAGES, 'done'])
    t.false(triggerFilterAccepts(ingest ?? {}, reply(EventTypes.issueCreated, stage)));
});

test('triggers: every event the pipeline emits is matched by at most one Trigger, but dispatch by every destination function', async (t) => {
  const { triggers } = await loadKnativeWiring();
  const destinations = triggers.filter((tr) => tr.name.startsWith('dispatch-')).map((tr) => tr.name);
  t.is(destinations.length, 5);
  for (const type of Object.values(EventTypes)) {
    for (const stage of [...STAGES, 'done']) {
      const matched = triggers.filter((tr) => triggerFilterAccepts(tr, reply(type, stage)));
      if (stage === 'dispatch')
        t.deepEqual(
          matched.map((m) => m.name),
          destinations,
          `${type} dispatch`,
        );
      else t.true(matched.length <= 1, `${type} ${stage}: ${matched.map((m) => m.name).join(', ')}`);
      if (stage === 'done') t.is(matched.length, 0, 'nextstage=done ends the pipeline');
    }
  }
});

test('triggers: Retry-After is honoured on the dispatch functions and k8s-event-ingest only, capped by their retryAfterMax', async (t) => {
  const { triggers } = await loadKnativeWiring();
  for (const tr of triggers) {
    if (tr.name === 'dispatch-slack') t.is(tr.delivery.retryAfterMaxMs, 120_000);
    // PagerDuty, Jira and Teams ask for longer waits than Slack does.
    else if (tr.name.startsWith('dispatch-')) t.is(tr.delivery.retryAfterMaxMs, 300_000, tr.name);
    // k8s-event-ingest defers a pod's recovery with Retry-After until it has stayed Ready.
    else if (tr.name === 'k8s-event-ingest') t.is(tr.delivery.retryAfterMaxMs, 600_000);
    else t.is(tr.delivery.retryAfterMaxMs, undefined, tr.name);
  }
});

test('triggers: ISO-8601 durations parse to milliseconds', (t) => {
  t.is(parseIsoDuration('PT0.2S'), 200);
  t.is(parseIsoDuration('PT1M'), 60_000);
  t.is(parseIsoDuration('PT1H30M'), 5_400_000);
  t.is(parseIsoDuration('P1DT1S'), 86_401_000);
  t.is(parseIsoDuration('P1W'), 604_800_000);
  for (const bad of ['0.2s', 'P', 'PT', 'P1Y', 'P1M', 'PT-1S', '']) {
    t.throws(() => parseIsoDuration(bad), { instanceOf: InvalidTriggerError }, bad);
  }
});

const base = {
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name: 'sample' },
  spec: { broker: 'b', subscriber: { uri: 'http://x' } },
};

test("triggers: a Trigger's delivery replaces the Broker's whole object, unset fields take the defaults", (t) => {
  const brokerDelivery = { ...DEFAULT_DELIVERY, retry: 3, backoffDelayMs: 1000, retryAfterMaxMs: 5000 };
  const own = parseTrigger({ ...base, spec: { ...base.spec, delivery: { retry: 1 } } }, brokerDelivery);
  t.deepEqual(own.delivery, { ...DEFAULT_DELIVERY, retry: 1 });
  const inherited = parseTrigger(base, brokerDelivery);
  t.deepEqual(inherited.delivery, brokerDelivery);
  t.deepEqual(parseTrigger(base).delivery, DEFAULT_DELIVERY);
});

test('triggers: a cesql filter rejects the Trigger at load, naming the trigger', (t) => {
  const doc = { ...base, spec: { ...base.spec, filters: [{ cesql: "type LIKE 'dev.%'" }] } };
  const err = t.throws(() => parseTrigger(doc, undefined, 'x.yaml'), { instanceOf: InvalidTriggerError });
  t.regex(
    err?.message ?? '',
    /^x\.yaml: Trigger sample: spec\.filters\[0\]\.cesql: CESQL filters are not supported/,
  );
});

test('triggers: two dialects in one filters item reject the Trigger at load', (t) => {
  const doc = { ...base, spec: { ...base.spec, filters: [{ exact: { type: 'a' }, suffix: { type: 'b' } }] } };
  t.throws(() => parseTrigger(doc), { instanceOf: InvalidTriggerError, message: /multiple dialects/ });
});

test('triggers: wrong shapes are rejected with the path of the problem', (t) => {
  const cases: [unknown, RegExp][] = [
    [
      { ...base, spec: { ...base.spec, filter: { attributes: { NextStage: 'x' } } } },
      /spec\.filter\.attributes/,
    ],
    [{ ...base, spec: { ...base.spec, filters: [{ exacts: { type: 'a' } }] } }, /spec\.filters\[0\]/],
    [{ ...base, spec: { ...base.spec, delivery: { backoffDelay: '200ms' } } }, /invalid ISO-8601 duration/],
    [{ ...base, spec: { ...base.spec, delivery: { backoffPolicy: 'fibonacci' } } }, /backoffPolicy/],
    [{ ...base, spec: { broker: 'b', subscriber: {} } }, /subscriber: needs ref or uri/],
  ];
  for (const [doc, message] of cases) {
    t.throws(() => parseTrigger(doc), { instanceOf: InvalidTriggerError, message });
  }
});

test('triggers: a bad file in the directory fails the whole load with the file name', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'triggers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    path.join(dir, 'a.yaml'),
    'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: a}\n',
  );
  const err = await t.throwsAsync(loadTriggers({ dir }), { instanceOf: InvalidTriggerError });
  t.true(err?.message.startsWith(path.join(dir, 'a.yaml')));
});

test('triggers: withDelivery overrides delivery without touching the loaded triggers', async (t) => {
  const { triggers } = await loadKnativeWiring();
  const fast = withDelivery(triggers, { backoffDelayMs: 1, retry: 2 });
  t.true(fast.every((tr) => tr.delivery.backoffDelayMs === 1 && tr.delivery.retry === 2));
  t.true(triggers.every((tr) => tr.delivery.backoffDelayMs >= 200));
});
