// Enrichment latency per issue against the stand-in Kubernetes API (TLS) holding a 5,000-pod
// cluster and a 10,000-event namespace: the shipped reads (field selectors, limit/continue pages)
// next to the naive reads they replace (list everything, filter here), measured in the same run,
// and the RSS of the enrich-pod and enrich-node bundles after enriching against that cluster.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { createKubeReader } from '../../lib/adapters/k8s/client.ts';
import { KubeHttp } from '../../lib/adapters/k8s/reader.ts';
import { kubeconfigRest, restAccess } from '../../lib/adapters/k8s/rest.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import type { CoreV1Event, KubeReader, V1Pod } from '../../lib/domain/kube.ts';
import { enrichNode } from '../../lib/stages/enrich/node.ts';
import { enrichPod } from '../../lib/stages/enrich/pod.ts';
import { loadKubeFixtures, type Obj, startKubeStandin } from '../../test/support/kube-standin.ts';
import { buildFunction } from '../build.ts';
import { deployedEnv, freePort, median, msSince, spawnServer, stop } from './procs.ts';

// The cluster the figures are measured on; a tiny run (the bench-exits test) only checks the
// section runs through and stops what it started.
const SIZES = { pods: 5000, events: 10_000, nodes: 100 };
const TINY_SIZES = { pods: 200, events: 200, nodes: 10 };

/** A firing alert about `subject`, as the enrichers get it (started now unless told). */
export function issue(subject: Issue['subject'], startsAt = new Date().toISOString()): Issue {
  return {
    id: 'bench',
    fingerprint: 'bench',
    type: 'alert',
    source: 'prometheus',
    title: 'bench',
    severity: 'HIGH',
    status: 'firing',
    subject,
    labels: {},
    annotations: {},
    links: [],
    startsAt,
    enrichments: [],
    plan: ['dispatch'],
  };
}

/** A cluster of full-sized pods (copies of a real-shaped fixture) spread over nodes, and many events. */
async function bigCluster(size: typeof SIZES, nodeFor: (i: number) => string) {
  const f = await loadKubeFixtures();
  const template = f.pods.find((p) => p.metadata.name === 'api-7d9f8b6c5d-x2x4q') as Obj;
  const event = f.events.find((e) => e.reason === 'BackOff') as Obj;
  const pods = [...f.pods];
  for (let i = 0; i < size.pods; i++) {
    const p = structuredClone(template);
    p.metadata.name = `load-${i}`;
    p.metadata.namespace = `ns-${i % 50}`;
    p.metadata.uid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    p.spec.nodeName = nodeFor(i);
    pods.push(p);
  }
  const events = [...f.events];
  for (let i = 0; i < size.events; i++) {
    const e = structuredClone(event);
    e.metadata.name = `load-${i}.${i.toString(16)}`;
    e.involvedObject.name = `load-pod-${i % 2000}`;
    e.involvedObject.uid = `uid-${i % 2000}`;
    events.push(e);
  }
  return { ...f, pods, events };
}

/**
 * The reads as a naive enricher makes them: whole lists, filtered on this side. They go through
 * the same GETs as the shipped reads (lib/adapters/k8s/reader.ts), so the two differ by the
 * selectors and pages alone.
 */
async function naiveReader(kubeconfigPath: string, base: KubeReader): Promise<KubeReader> {
  const cluster = await kubeconfigRest(kubeconfigPath);
  if (!cluster) throw new Error(`${kubeconfigPath} needs @kubernetes/client-node`);
  const http = new KubeHttp(cluster.server, restAccess(cluster), 60_000);
  return {
    ...base,
    listEvents: async (namespace, q) => {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
      const all = await http.list<CoreV1Event>('list all events', path, {}, undefined);
      const items = all.items.filter(
        (e) =>
          e.involvedObject?.name === q.name && (q.kind === undefined || e.involvedObject?.kind === q.kind),
      );
      return { items, more: false };
    },
    listPodsOnNode: async (node) => {
      const all = await http.list<V1Pod>('list all pods', '/api/v1/pods', {}, undefined);
      return { items: all.items.filter((p) => p.spec?.nodeName === node), more: false };
    },
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

function peakRssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function benchEnrichment(opts: {
  quick: boolean;
  tiny?: boolean;
}): Promise<Array<Record<string, string | number>>> {
  const runs = opts.tiny ? 1 : opts.quick ? 3 : 7;
  const size = opts.tiny ? TINY_SIZES : SIZES;
  const rows: Array<Record<string, string | number>> = [];
  const budget = { timeBudgetMs: 60_000 };
  const logOpts = { logTailLines: 100, logLimitBytes: 65536 };

  // 1. 5,000 pods over 100 nodes; a 10,000-event namespace.
  const spread = await startKubeStandin(await bigCluster(size, (i) => `node-${i % size.nodes}`));
  const crowded = await startKubeStandin(await bigCluster(size, () => 'node-crowded')).catch(async (err) => {
    await spread.close();
    throw err;
  });
  try {
    const sets = [
      {
        name: `node issue, ${size.pods} pods on ${size.nodes} nodes`,
        kube: spread,
        node: 'node-7',
        pod: undefined,
      },
      {
        name: `node issue, all ${size.pods} pods on one node`,
        kube: crowded,
        node: 'node-crowded',
        pod: undefined,
      },
      {
        name: `pod issue, ${size.events}-event namespace`,
        kube: crowded,
        node: undefined,
        pod: 'api-7d9f8b6c5d-x2x4q',
      },
    ];
    for (const s of sets) {
      const reader = await createKubeReader({ kubeconfigPath: s.kube.kubeconfigPath, timeoutMs: 60_000 });
      const naive = await naiveReader(s.kube.kubeconfigPath, reader);
      const run = (r: KubeReader) =>
        s.pod
          ? () =>
              enrichPod(issue({ kind: 'Pod', name: s.pod, namespace: 'payments' }), r, {
                ...budget,
                ...logOpts,
              })
          : () => enrichNode(issue({ kind: 'Node', name: s.node as string }), r, budget);
      const before = s.kube.requests.length;
      const shipped = await timeRuns(runs, run(reader));
      const requests = (s.kube.requests.length - before) / (runs + 1);
      const plain = await timeRuns(runs, run(naive));
      rows.push({
        what: s.name,
        'selectors+pages ms': Math.round(shipped),
        'requests/issue': Math.round(requests * 10) / 10,
        'whole lists ms': Math.round(plain),
        'x faster': Math.round((plain / shipped) * 10) / 10,
      });
    }

    // 2. The enrichers' RSS: production bundles enriching against the big cluster.
    const dir = await mkdtemp(join(tmpdir(), 'kubeincident-bench-enrich-'));
    try {
      for (const fn of ['enrich-pod', 'enrich-node'] as const) {
        const file = await buildFunction(fn, dir);
        const port = freePort();
        const s = await spawnServer(file, { ...deployedEnv(fn), KUBECONFIG: crowded.kubeconfigPath }, port);
        // Stopped even when it answers an error: a running bundle keeps the bench alive.
        try {
          const idle = peakRssMiB(s.child.pid);
          const subject =
            fn === 'enrich-pod'
              ? { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments' }
              : { kind: 'Node', name: 'node-crowded' };
          const data = {
            ...issue(subject),
            plan: [fn === 'enrich-pod' ? 'enrichpod' : 'enrichnode', 'dispatch'],
          };
          for (let i = 0; i < runs; i++) {
            const msg = HTTP.binary(
              new CloudEvent({ type: 'dev.kubeincident.issue.created.v1', source: '/bench', data }),
            );
            const res = await fetch(`http://127.0.0.1:${port}/`, {
              method: 'POST',
              headers: msg.headers as Record<string, string>,
              body: msg.body as string,
            });
            await res.arrayBuffer();
            if (res.status >= 300) throw new Error(`${fn} answered ${res.status}`);
          }
          rows.push({
            what: `${fn} bundle RSS (peak), ${fn === 'enrich-pod' ? `${size.events}-event namespace` : `${size.pods}-pod node, POD_LIMIT 500`}`,
            'ready peak MiB': Math.round(idle * 10) / 10,
            'after issues peak MiB': Math.round(peakRssMiB(s.child.pid) * 10) / 10,
          });
        } finally {
          await stop(s.child);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await spread.close();
    await crowded.close();
  }
  return rows;
}
