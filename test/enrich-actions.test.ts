// The configuration's per-issue choices (Issue.actions, decided at ingest) shape what enrich-pod
// gathers: logs off, a different tail, the current instance, no events table.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import type { Actions, Enrichment, FileBlock } from '../lib/domain/issue.ts';
import { podOptionsFor } from '../lib/stages/enrich/actions.ts';
import { enrichNode } from '../lib/stages/enrich/node.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';

const OPTS: PodEnrichOptions = {
  logTailLines: 100,
  logLimitBytes: 16 * 1024,
  timeBudgetMs: 4000,
  now: new Date('2026-03-10T12:00:00Z'),
};

let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(() => kube?.close());

async function run(actions: Actions | undefined): Promise<Enrichment> {
  const issue = makeIssue({
    subject: { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments' },
    ...(actions ? { actions } : {}),
  });
  const planned = podOptionsFor(issue, OPTS);
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  return (await enrichPod(planned.issue, reader, planned.opts)).enrichment;
}
const file = (e: Enrichment) => e.blocks.find((b): b is FileBlock => b.type === 'file');
const logRequests = () => kube.requests.filter((r) => r.path.endsWith('/log'));

test.serial('enrich-pod actions: without actions the previous container log is attached', async (t) => {
  const e = await run(undefined);
  t.regex(file(e)?.title ?? '', /previous instance.*last 100 lines/);
});

test.serial('enrich-pod actions: logs turned off read no log at all', async (t) => {
  const before = logRequests().length;
  const e = await run({ podLogs: false });
  t.is(file(e), undefined);
  t.is(logRequests().length, before, 'no log request reached the API');
  t.truthy(e.verdict, 'the diagnosis is still there');
});

test.serial('enrich-pod actions: a workflow tail and current instance are honoured', async (t) => {
  const e = await run({ podLogs: { tail: 20, previous: false } });
  t.regex(file(e)?.title ?? '', /current instance.*last 20 lines/);
  const last = logRequests().at(-1);
  const query = new URLSearchParams(last?.query ?? '');
  t.is(query.get('tailLines'), '20');
  t.not(query.get('previous'), 'true');
});

test.serial('enrich-pod actions: events turned off leave out the events table', async (t) => {
  const withEvents = await run(undefined);
  const without = await run({ podEvents: false });
  const hasEvents = (e: Enrichment) =>
    e.blocks.some((b) => b.type === 'table' && /event/i.test(b.title ?? ''));
  t.true(hasEvents(withEvents));
  t.false(hasEvents(without));
});

async function runOn(name: string, actions: Actions | undefined): Promise<Enrichment> {
  const issue = makeIssue({
    subject: { kind: 'Pod', name, namespace: 'payments' },
    ...(actions ? { actions } : {}),
  });
  const planned = podOptionsFor(issue, OPTS);
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  return (await enrichPod(planned.issue, reader, planned.opts)).enrichment;
}

test.serial(
  'enrich-pod actions: oomKiller attachLogs off leaves the OOM-killed container logs out',
  async (t) => {
    t.truthy(file(await runOn('worker-5c8d7f9b4-k7wzp', undefined)), 'logs by default');
    const e = await runOn('worker-5c8d7f9b4-k7wzp', { attachOomLogs: false });
    t.is(file(e), undefined);
    t.regex(e.verdict ?? '', /OOMKilled/);
  },
);

test.serial(
  'enrich-pod actions: a diagnosis turned off keeps its verdict but not its evidence',
  async (t) => {
    const on = await runOn('worker-5c8d7f9b4-k7wzp', undefined);
    const off = await runOn('worker-5c8d7f9b4-k7wzp', { disabledDiagnoses: ['oomKiller'] });
    const text = (e: Enrichment) => JSON.stringify(e.blocks);
    t.regex(text(on), /memory limit|Hint/i);
    t.notRegex(text(off), /Hint:/);
    t.is(off.verdict, on.verdict);
  },
);

test.serial(
  'enrich-pod actions: the pod investigator switched off leaves out its tables, not the verdict or logs',
  async (t) => {
    const e = await runOn('api-7d9f8b6c5d-x2x4q', { podInvestigator: false });
    const titles = e.blocks.filter((b) => b.type === 'table').map((b) => (b.type === 'table' ? b.title : ''));
    t.false(
      titles.some((x) => /container|resource|pod/i.test(x ?? '')),
      titles.join(', '),
    );
    t.truthy(file(e));
    t.regex(e.verdict ?? '', /CrashLoopBackOff/);
  },
);

test.serial(
  'enrich-node sections: status, allocatable and running pods follow the nodeHealth switches',
  async (t) => {
    const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
    const issue = makeIssue({ subject: { kind: 'Node', name: 'worker-1' } });
    const titles = async (sections?: { status?: boolean; allocatable?: boolean; runningPods?: boolean }) =>
      (
        await enrichNode(issue, reader, {
          timeBudgetMs: 4000,
          now: OPTS.now as Date,
          ...(sections ? { sections } : {}),
        })
      ).enrichment.blocks
        .map((b) => (b.type === 'table' ? b.title : undefined))
        .filter(Boolean)
        .join('|');
    const all = await titles();
    t.regex(all, /Conditions/);
    t.regex(all, /Capacity/);
    const off = await titles({ status: false, allocatable: false, runningPods: false });
    t.notRegex(off, /Conditions|Capacity/);
    t.true(off.length < all.length);
  },
);
