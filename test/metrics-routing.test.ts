// When an issue goes through enrich-metrics: only with Prometheus enabled in the configuration,
// for what it can draw (a pod's memory, CPU throttling, the alert's own expression), and after
// enrich-pod when the pod turns out OOM-killed.
import test from 'ava';
import { DEFAULT_CONFIG } from '../lib/domain/config/defaults.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { Config } from '../lib/domain/config/schema.ts';
import { metricsParts } from '../lib/domain/metrics.ts';
import { nextStagesAfterPod } from '../lib/domain/routing.ts';
import { makeIssue, oomEnrichment } from './support/issue-factory.ts';

const WITH_PROMETHEUS = Config.parse({ prometheus: { url: 'http://prometheus:9090' } });
const GRAPH = {
  type: 'graph' as const,
  title: 'Graph',
  url: 'http://prometheus:9090/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1',
};

test('metrics routing: without Prometheus configured no issue takes the extra hop', (t) => {
  const planned = planIssue(makeIssue({ links: [GRAPH] }), DEFAULT_CONFIG).issue;
  t.deepEqual(planned?.plan, ['enrichpod', 'dispatch']);
  t.is(planned?.actions?.metrics, undefined);
});

test('metrics routing: with Prometheus, an alert with a graph link goes through enrich-metrics after the pod', (t) => {
  const planned = planIssue(makeIssue({ links: [GRAPH] }), WITH_PROMETHEUS).issue;
  t.deepEqual(planned?.plan, ['enrichpod', 'enrichmetrics', 'dispatch']);
  t.is(planned?.actions?.metrics, true);
  t.deepEqual(metricsParts(planned ?? makeIssue()), { expr: 'rate(x[5m]) > 1' });
});

test('metrics routing: memory and CPU throttling alerts name their pod; a crash loop without a graph link does not go', (t) => {
  const cpu = makeIssue({
    labels: { alertname: 'CPUThrottlingHigh', namespace: 'shop', pod: 'api-1', container: 'app' },
    subject: { kind: 'Pod', name: 'api-1', namespace: 'shop', container: 'app' },
  });
  t.deepEqual(metricsParts(cpu).cpu, { namespace: 'shop', pod: 'api-1', container: 'app' });
  const mem = makeIssue({
    labels: { alertname: 'KubeContainerMemoryNearLimit', namespace: 'shop', pod: 'api-1' },
    subject: { kind: 'Pod', name: 'api-1', namespace: 'shop' },
  });
  t.deepEqual(metricsParts(mem).memory, {
    namespace: 'shop',
    pod: 'api-1',
    container: undefined,
    killed: false,
  });
  t.deepEqual(planIssue(makeIssue(), WITH_PROMETHEUS).issue?.plan, ['enrichpod', 'dispatch']);
  t.deepEqual(metricsParts(makeIssue({ status: 'resolved', links: [GRAPH] })), {});
});

test('metrics routing: enrich-pod adds enrich-metrics once it finds an OOM kill, only when Prometheus is on', (t) => {
  const issue = makeIssue();
  const found = { enrichment: oomEnrichment() };
  t.deepEqual(nextStagesAfterPod({ ...issue, actions: { metrics: true } }, found), ['enrichmetrics']);
  t.deepEqual(nextStagesAfterPod(issue, found), []);
  t.deepEqual(
    nextStagesAfterPod(
      { ...issue, actions: { metrics: true } },
      { enrichment: { source: 'enrich-pod', blocks: [] } },
    ),
    [],
  );
  t.deepEqual(
    nextStagesAfterPod({ ...issue, actions: { metrics: true } }, { ...found, unhealthyNode: 'worker-3' }),
    ['enrichnode', 'enrichmetrics'],
  );
});
