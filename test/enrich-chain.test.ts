// The enrichers as functions: enrich-pod records the pod's node on the issue and sends it on to
// enrich-node only when that node is unhealthy; enrich-node then adds a short section, not the
// full node report. What they produce renders in Slack and in the terminal.
import test from 'ava';
import type { CloudEvent } from 'cloudevents';
import { create as createNode } from '../functions/enrich-node/index.ts';
import { create as createPod } from '../functions/enrich-pod/index.ts';
import { detailsAsText } from '../lib/adapters/slack/plain.ts';
import { renderDetails } from '../lib/adapters/slack/render-details.ts';
import { issueEvent } from '../lib/domain/events.ts';
import { Issue, type Subject } from '../lib/domain/issue.ts';
import { planFor } from '../lib/domain/routing.ts';
import type { InvocationContext } from '../lib/platform/runtime/types.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';
import { captureLogs } from './support/logs.ts';

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const ctx = () => ({ log: captureLogs().log, traceparent: TRACE }) as unknown as InvocationContext;

async function run(fn: ReturnType<typeof createPod>, issue: Issue): Promise<{ issue: Issue; next: unknown }> {
  const reply = (await fn.handle(ctx(), issueEvent(issue, '/test', TRACE))) as CloudEvent<Issue>;
  return { issue: Issue.parse(reply.data), next: reply.nextstage };
}

function podIssue(subject: Subject): Issue {
  return makeIssue({ subject, plan: planFor(subject) });
}

test('enrich chain: a pod on a node under memory pressure goes on to enrich-node, which adds a short node section', async (t) => {
  const env = { KUBECONFIG: kube.kubeconfigPath, ENRICH_BUDGET_MS: '4000' };
  const pod = createPod(env);
  const node = createNode(env);
  await pod.init?.();
  await node.init?.();
  const first = await run(pod, podIssue({ kind: 'Pod', name: 'billing-6c9d7f8b5-p2m7x', namespace: 'shop' }));
  t.is(first.issue.subject.node, 'node-7');
  t.deepEqual(first.issue.plan, ['enrichnode', 'dispatch']);
  t.is(first.next, 'enrichnode');

  const before = kube.requests.length;
  const second = await run(node, first.issue);
  t.deepEqual(second.issue.plan, ['dispatch']);
  t.is(second.next, 'dispatch');
  const section = second.issue.enrichments.find((e) => e.source === 'enrich-node');
  t.is(section?.title, 'Node node-7 (where it runs)');
  t.regex(section?.verdict ?? '', /^MemoryPressure: node node-7 is Ready but reports MemoryPressure/);
  t.deepEqual(
    section?.blocks.map((b) => (b.type === 'table' ? b.title : b.type)),
    ['Conditions', 'Taints', 'Recent events'],
    'no capacity, kubelet facts or pod list in the short section',
  );
  t.false(
    kube.requests.slice(before).some((r) => r.path === '/api/v1/pods'),
    'the short section does not list the node pods',
  );

  // Both enrichments render: Slack blocks within limits with the verdicts, and plain text.
  const slack = renderDetails(second.issue);
  t.true(slack.attachments[0].blocks.length <= 50);
  const text = JSON.stringify(slack.attachments);
  t.regex(text, /ImagePullBackOff: container billing cannot pull/);
  t.regex(text, /Diagnosis: image pull/);
  t.regex(text, /MemoryPressure: node node-7/);
  const plain = detailsAsText(second.issue);
  t.regex(
    plain,
    /Verdict: ImagePullBackOff: container billing cannot pull registry\.example\.com\/shop\/billing:3\.2\.0/,
  );
  t.regex(plain, /Conditions\n.*Condition.*Status/);
});

test('enrich chain: a pod on a healthy node records the node but goes straight to dispatch', async (t) => {
  const pod = createPod({ KUBECONFIG: kube.kubeconfigPath });
  await pod.init?.();
  const out = await run(pod, podIssue({ kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments' }));
  t.is(out.issue.subject.node, 'worker-1');
  t.deepEqual(out.issue.plan, ['dispatch']);
  t.regex(out.issue.enrichments[0]?.verdict ?? '', /^CrashLoopBackOff/);
});

test('enrich chain: a workload issue is planned through enrich-pod and its sick node chained', async (t) => {
  // Which kinds go where is test/stage-routing.test.ts's table; here the chain itself.
  const daemonSet = podIssue({ kind: 'DaemonSet', name: 'node-agent', namespace: 'kube-system' });
  t.deepEqual(daemonSet.plan, ['enrichpod', 'dispatch']);
  const pod = createPod({ KUBECONFIG: kube.kubeconfigPath });
  await pod.init?.();
  const out = await run(pod, daemonSet);
  t.is(out.issue.subject.node, 'worker-2');
  t.deepEqual(out.issue.plan, ['enrichnode', 'dispatch']);
  // A redelivery to enrich-node cannot send the issue back to enrich-pod: stages only move forward.
  const node = createNode({ KUBECONFIG: kube.kubeconfigPath });
  await node.init?.();
  const after = await run(node, { ...out.issue, plan: ['enrichpod', 'enrichnode', 'dispatch'] });
  t.deepEqual(after.issue.plan, ['dispatch']);
});

test('enrich chain: a bad LOG_REDACT_PATTERNS stops the enricher at start', async (t) => {
  const pod = createPod({ LOG_REDACT_PATTERNS: '["(unclosed"]' });
  await t.throwsAsync(async () => pod.init?.(), { message: /LOG_REDACT_PATTERNS/ });
});
