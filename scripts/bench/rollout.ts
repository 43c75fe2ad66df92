// What "what changed" costs per diagnosis: a Deployment with 50 revisions (ReplicaSets) and 2,000
// pods at the TLS stand-in, against the pod diagnosis that reads no owner or revision (a bare pod
// of the same shape) and against the same Deployment with no history kept, measured in one run.
import { createKubeReader } from '../../lib/adapters/k8s/client.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import type { KubeReader } from '../../lib/domain/kube.ts';
import { enrichPod } from '../../lib/stages/enrich/pod.ts';
import {
  type KubeStandin,
  loadKubeFixtures,
  type Obj,
  startKubeStandin,
} from '../../test/support/kube-standin.ts';
import { issue } from './enrich.ts';
import { median, msSince } from './procs.ts';

const SIZES = { revisions: 50, pods: 2000, newPods: 20 };
const TINY_SIZES = { revisions: 5, pods: 50, newPods: 5 };
const NOW = Date.parse('2026-03-10T12:00:00Z');
const ROLLOUT_AT = '2026-03-10T11:42:00Z';
const FAILED_AT = '2026-03-10T11:51:00Z';

/** The orders fixtures grown: `big` has `revisions` ReplicaSets; the newest runs `newPods` crashing pods. */
async function bigRollout(size: typeof SIZES, keepHistory: boolean) {
  const f = await loadKubeFixtures();
  const dep = structuredClone(
    f.workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === 'api'),
  ) as Obj;
  const rsTemplate = f.workloads.find((w) => w.metadata.name === 'api-6d5f7c9b8') as Obj;
  const crashing = f.pods.find((p) => p.metadata.name === 'api-6d5f7c9b8-h2v6p') as Obj;
  const healthy = f.pods.find((p) => p.metadata.name === 'api-7c9d8b6f4-b7k2q') as Obj;
  const labels = { 'app.kubernetes.io/name': 'big' };
  dep.metadata = { ...dep.metadata, name: 'big', uid: 'b1b1b1b1-0000-4000-8000-000000000000', labels };
  dep.spec.selector.matchLabels = labels;
  dep.spec.replicas = size.pods - size.newPods;
  dep.metadata.annotations['deployment.kubernetes.io/revision'] = String(size.revisions);
  const replicaSets: Obj[] = [];
  for (let n = 1; n <= size.revisions; n++) {
    const rs = structuredClone(rsTemplate);
    const hash = `h${String(n).padStart(8, '0')}`;
    rs.metadata.name = `big-${hash}`;
    rs.metadata.uid = `b2b2b2b2-0000-4000-8000-${String(n).padStart(12, '0')}`;
    rs.metadata.annotations['deployment.kubernetes.io/revision'] = String(n);
    rs.metadata.creationTimestamp =
      n === size.revisions ? ROLLOUT_AT : new Date(NOW - (size.revisions - n + 1) * 86_400_000).toISOString();
    rs.metadata.labels = { ...labels, 'pod-template-hash': hash };
    rs.metadata.ownerReferences[0] = {
      ...rs.metadata.ownerReferences[0],
      name: 'big',
      uid: dep.metadata.uid,
    };
    rs.spec.selector.matchLabels = rs.metadata.labels;
    rs.spec.template.metadata.labels = rs.metadata.labels;
    rs.spec.template.spec.containers[0].image = `registry.example.com/orders/big:1.${n}.0`;
    rs.spec.template.spec.containers[0].env.push({ name: `FLAG_${n}`, value: 'on' });
    replicaSets.push(rs);
  }
  const pods: Obj[] = [];
  for (let i = 0; i < size.pods; i++) {
    const isNew = i < size.newPods;
    const p = structuredClone(isNew ? crashing : healthy);
    const rev = isNew ? size.revisions : size.revisions - 1;
    p.metadata.name = `big-${i}`;
    p.metadata.uid = `b3b3b3b3-0000-4000-8000-${String(i).padStart(12, '0')}`;
    p.metadata.labels = { ...labels, 'pod-template-hash': `h${String(rev).padStart(8, '0')}` };
    p.metadata.ownerReferences[0] = {
      ...p.metadata.ownerReferences[0],
      name: `big-h${String(rev).padStart(8, '0')}`,
      uid: `b2b2b2b2-0000-4000-8000-${String(rev).padStart(12, '0')}`,
    };
    pods.push(p);
  }
  // The baseline pod: the same crashing pod with no owner, so nothing about revisions is read.
  const bare = structuredClone(crashing);
  bare.metadata.name = 'bare-0';
  delete bare.metadata.ownerReferences;
  return {
    ...f,
    workloads: [...f.workloads, dep, ...(keepHistory ? replicaSets : [])],
    pods: [...f.pods, ...pods, bare],
  };
}

async function timeRuns(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  await fn(); // warm the connection and the JIT
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    ms.push(msSince(t));
  }
  return median(ms);
}

interface Case {
  what: string;
  kube: KubeStandin;
  subject: Issue['subject'];
  podLimit?: number;
  baseline?: string;
}

export async function benchRollout(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 7;
  const size = opts.tiny ? TINY_SIZES : SIZES;
  const history = await startKubeStandin(await bigRollout(size, true));
  const none = await startKubeStandin(await bigRollout(size, false)).catch(async (err) => {
    await history.close();
    throw err;
  });
  const rows: Array<Record<string, string | number>> = [];
  try {
    const pod = (name: string) => ({ kind: 'Pod', name, namespace: 'orders' });
    const deployment = { kind: 'Deployment', name: 'big', namespace: 'orders' };
    const all = size.pods;
    const cases: Case[] = [
      { what: 'pod issue, bare pod (the pod diagnosis alone)', kube: history, subject: pod('bare-0') },
      {
        what: `pod issue, new revision of ${size.revisions}, ${all} pods`,
        kube: history,
        subject: pod('big-0'),
        baseline: 'pod issue, bare pod (the pod diagnosis alone)',
      },
      {
        what: `pod issue, old revision of ${size.revisions}`,
        kube: history,
        subject: pod(`big-${all - 1}`),
        baseline: 'pod issue, bare pod (the pod diagnosis alone)',
      },
      {
        what: `Deployment issue, ${all} pods, no history kept`,
        kube: none,
        subject: deployment,
        podLimit: all,
      },
      {
        what: `Deployment issue, ${all} pods, ${size.revisions} revisions`,
        kube: history,
        subject: deployment,
        podLimit: all,
        baseline: `Deployment issue, ${all} pods, no history kept`,
      },
    ];
    const measured = new Map<string, number>();
    for (const c of cases) {
      const reader: KubeReader = await createKubeReader({
        kubeconfigPath: c.kube.kubeconfigPath,
        timeoutMs: 60_000,
      });
      const o = {
        timeBudgetMs: 60_000,
        logTailLines: 100,
        logLimitBytes: 65536,
        now: new Date(NOW),
        podLimit: c.podLimit ?? 500,
      };
      const before = c.kube.requests.length;
      const ms = await timeRuns(runs, () => enrichPod(issue(c.subject, FAILED_AT), reader, o));
      const requests = (c.kube.requests.length - before) / (runs + 1);
      measured.set(c.what, ms);
      const base = c.baseline === undefined ? undefined : measured.get(c.baseline);
      rows.push({
        what: c.what,
        'ms/diagnosis': Math.round(ms * 10) / 10,
        'API calls/diagnosis': Math.round(requests * 10) / 10,
        'x baseline': base === undefined ? '-' : Math.round((ms / base) * 100) / 100,
      });
    }
  } finally {
    await history.close();
    await none.close();
  }
  return rows;
}
