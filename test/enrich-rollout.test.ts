// enrich-pod says what changed before a failure, at the Kubernetes boundary: the real adapter reads
// revisions (ReplicaSets, ControllerRevisions) and ConfigMap metadata from the TLS stand-in, and the
// verdict blames a rollout only when the failure follows it in its own pods. No Secret value, and no
// ConfigMap content, ever reaches an enrichment.
import test from 'ava';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { compileRedactPatterns } from '../lib/domain/diagnose/redact.ts';
import { type Block, Enrichment, type TableBlock } from '../lib/domain/issue.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, loadKubeFixtures, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS: PodEnrichOptions = {
  logTailLines: 100,
  logLimitBytes: 16 * 1024,
  timeBudgetMs: 4000,
  now: NOW,
  redactPatterns: compileRedactPatterns(undefined),
};
const FAILED_AT = '2026-03-10T11:51:00Z';

// Serial: tests read the shared stand-in's request log.
let kube: KubeStandin;
test.before(async () => {
  kube = await startKubeStandin();
});
test.after.always(async () => {
  await kube?.close();
});

async function enrich(kind: string, name: string, startsAt = FAILED_AT, namespace = 'orders') {
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const before = kube.requests.length;
  const r = await enrichPod(makeIssue({ subject: { kind, name, namespace }, startsAt }), reader, OPTS);
  return { e: r.enrichment, requests: kube.requests.slice(before) };
}
const list = (e: Enrichment, prefix: string) =>
  e.blocks.find(
    (b): b is Extract<Block, { type: 'list' }> => b.type === 'list' && (b.title ?? '').startsWith(prefix),
  );
const table = (e: Enrichment, title: string) =>
  e.blocks.find((b): b is TableBlock => b.type === 'table' && (b.title ?? '').startsWith(title));

test.serial(
  'enrich-pod: a Deployment failing 9m after its rollout names the revision, the change and the undo',
  async (t) => {
    const { e, requests } = await enrich('Deployment', 'api');
    t.notThrows(() => Enrichment.parse(e));
    t.regex(
      e.verdict ?? '',
      /^Deployment api: started 9m after the rollout to revision 7: image api:2\.4\.0 to 2\.5\.0, env CACHE_MODE added, env API_TOKEN changed, \+1 more; 3\/3 ready; 2 in CrashLoopBackOff on worker-3; rollout stalled \(ProgressDeadlineExceeded\) — CrashLoopBackOff/,
    );
    const changed = list(e, 'What changed: revision 6 to 7');
    t.truthy(changed);
    t.deepEqual(changed?.items.slice(0, 4), [
      'Revision 7 (api-6d5f7c9b8) created 18m ago; previous revision 6 (api-7c9d8b6f4)',
      'The failure began 9m after it',
      'Pods of revision 7: 2, failing 2',
      'Pods of older revisions: 3, all healthy',
    ]);
    t.true(changed?.items.includes('api: env CACHE_MODE=lazy added'));
    t.true(changed?.items.includes('api: env API_TOKEN=[REDACTED] to API_TOKEN=[REDACTED]'));
    t.true(changed?.items.includes('api: resources limits.memory 256Mi to 384Mi'));
    t.true(
      changed?.items.includes(
        'ConfigMap api-config last written 12m ago by kubectl-client-side-apply (3m before the failure)',
      ),
    );
    t.is(
      changed?.items.at(-1),
      'To go back (not run): kubectl rollout undo deployment/api -n orders --to-revision=6',
    );
    t.deepEqual(
      table(e, 'Revisions')?.rows.map((r) => [r[0], r[2], r[4], r[5], r[6]]),
      [
        ['7', 'api:2.5.0', '0/2', '0', '2 CrashLoopBackOff'],
        ['6', 'api:2.4.0', '3/3', '3', '0'],
        ['5', 'api:2.3.1', '0/0', '0', '-'],
      ],
    );
    const rs = requests.find((r) => r.path === '/apis/apps/v1/namespaces/orders/replicasets');
    t.is(rs?.query.labelSelector, 'app.kubernetes.io/name=api', 'revisions are listed through the selector');
    t.truthy(rs?.query.limit);
    const cm = requests.find((r) => r.path === '/api/v1/namespaces/orders/configmaps/api-config');
    t.is(
      cm?.accept,
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
      'ConfigMap metadata only',
    );
  },
);

test.serial(
  'enrich-pod: a pod of the new revision is told its Deployment rolled out 9m before it failed',
  async (t) => {
    const { e, requests } = await enrich('Pod', 'api-6d5f7c9b8-h2v6p');
    t.regex(
      e.verdict ?? '',
      /^deployment\/api: started 9m after the rollout to revision 7: image api:2\.4\.0 to 2\.5\.0, env CACHE_MODE added.* — CrashLoopBackOff: container api exited 1/,
    );
    t.truthy(list(e, 'What changed: revision 6 to 7'));
    t.true(list(e, 'What changed')?.items.includes('Revision 7: 0/2 ready (ReplicaSet counts)'));
    t.true(list(e, 'What changed')?.items.includes('Older revisions: all ready (ReplicaSet counts)'));
    // The owner chain: the ReplicaSet, then its Deployment; the ReplicaSets' counts stand in for
    // a list of the Deployment's pods.
    const paths = requests.map((r) => r.path);
    t.true(paths.includes('/apis/apps/v1/namespaces/orders/replicasets/api-6d5f7c9b8'));
    t.true(paths.includes('/apis/apps/v1/namespaces/orders/deployments/api'));
    t.false(paths.includes('/api/v1/namespaces/orders/pods'));
    // A StatefulSet pod has no such counts: its workload's pods are listed to compare revisions.
    const q = await enrich('Pod', 'queue-2');
    t.regex(q.e.verdict ?? '', /^statefulset\/queue: started 13m after the rollout to revision 2/);
    t.true(q.requests.some((r) => r.path === '/api/v1/namespaces/orders/pods'));
  },
);

test.serial(
  'enrich-pod: a pod of an old revision, or a failure long after the rollout, blames no rollout',
  async (t) => {
    const { e, requests } = await enrich('Pod', 'api-7c9d8b6f4-b7k2q');
    t.false(/rollout to revision/.test(e.verdict ?? ''));
    t.truthy(list(e, 'What changed: revision 6 to 7'), 'what changed is still shown');
    t.false(
      requests.some((r) => r.path === '/api/v1/namespaces/orders/pods'),
      'no pod list for a Deployment pod',
    );
    const late = await enrich('Deployment', 'api', '2026-03-10T14:00:00Z');
    t.regex(late.e.verdict ?? '', /^Deployment api: 3\/3 ready; 2 in CrashLoopBackOff/);
    const lone = await enrich('Pod', 'queue-2', '2026-03-10T14:00:00Z');
    t.false(/rollout to revision/.test(lone.e.verdict ?? ''));
    t.false(
      lone.requests.some((r) => r.path === '/api/v1/namespaces/orders/pods'),
      'no recent rollout: no pod list',
    );
    const old = await enrich('Pod', 'queue-0');
    t.false(/rollout to revision/.test(old.e.verdict ?? ''));
    t.false(
      old.requests.some((r) => r.path === '/api/v1/namespaces/orders/pods'),
      'a pod of an older revision: no pod list',
    );
  },
);

test.serial('enrich-pod: a StatefulSet mid-rollout compares its ControllerRevisions', async (t) => {
  const { e, requests } = await enrich('StatefulSet', 'queue');
  t.regex(
    e.verdict ?? '',
    /^StatefulSet queue: started 13m after the rollout to revision 2: image queue:1\.8\.0 to 1\.9\.0, env QUEUE_SEGMENT_MB added; 2\/3 ready; 1 in CrashLoopBackOff on worker-3; ordinal 2 \(queue-2\) blocks the rollout — CrashLoopBackOff/,
  );
  t.deepEqual(list(e, 'StatefulSet rollout')?.items, [
    'Update revision queue-7f9c6d8b5, current revision queue-5d8b7c6f9: 1 of 3 updated',
    'Partition 0',
    'Ordinal 2 (queue-2) blocks the rollout: CrashLoopBackOff',
  ]);
  t.deepEqual(table(e, 'Ordinals')?.rows, [
    ['0', 'queue-0', 'queue-5d8b7c6f9', 'Healthy', 'data-queue-0 Bound'],
    ['1', 'queue-1', 'queue-5d8b7c6f9', 'Healthy', 'data-queue-1 Bound'],
    ['2', 'queue-2', 'queue-7f9c6d8b5 (update)', 'CrashLoopBackOff', 'data-queue-2 Bound'],
  ]);
  t.true(requests.some((r) => r.path === '/api/v1/namespaces/orders/persistentvolumeclaims/data-queue-2'));
  t.is(
    list(e, 'What changed: revision 1 to 2')?.items.at(-1),
    'To go back (not run): kubectl rollout undo statefulset/queue -n orders --to-revision=1',
  );
  const crs = requests.find((r) => r.path === '/apis/apps/v1/namespaces/orders/controllerrevisions');
  t.is(crs?.query.labelSelector, 'app.kubernetes.io/name=queue');
});

test.serial(
  'enrich-pod: a forbidden revision list becomes a note; the rest of the diagnosis stands',
  async (t) => {
    kube.setFault(/\/replicasets$/, { status: 403 });
    t.teardown(() => kube.clearFaults());
    const { e } = await enrich('Deployment', 'api');
    t.regex(e.verdict ?? '', /^Deployment api: 3\/3 ready; 2 in CrashLoopBackOff/);
    const notes = e.blocks.flatMap((b) =>
      b.type === 'markdown' ? [b.text] : b.type === 'list' ? b.items : [],
    );
    t.true(
      notes.some((n) => /list the Deployment's revisions: forbidden \(403\)/.test(n)),
      notes.join('\n'),
    );
  },
);

test.serial(
  'secrets: no Secret value and no ConfigMap content appears in any enrichment; no Secret is read',
  async (t) => {
    const f = await loadKubeFixtures();
    const secretValues = (f.configs ?? []).flatMap((c) =>
      c.kind === 'Secret'
        ? Object.values(c.data as Record<string, string>).flatMap((v) => [
            v,
            Buffer.from(v, 'base64').toString(),
          ])
        : Object.values(c.data as Record<string, string>).flatMap((v) =>
            v.split(/\s+/).filter((w) => w.length > 8),
          ),
    );
    // Literal env values that the redaction patterns must catch (API_TOKEN=...).
    const literals = f.workloads.flatMap((w) =>
      (w.spec?.template?.spec?.containers ?? []).flatMap(
        (c: { env?: Array<{ name: string; value?: string }> }) =>
          (c.env ?? []).filter((e) => /TOKEN|PASSWORD/.test(e.name) && e.value).map((e) => e.value as string),
      ),
    );
    t.true(secretValues.length >= 2 && literals.length >= 1);
    const before = kube.requests.length;
    const subjects: Array<[string, string]> = [
      ['Deployment', 'api'],
      ['StatefulSet', 'queue'],
      ['Pod', 'api-6d5f7c9b8-h2v6p'],
      ['Pod', 'api-6d5f7c9b8-r9c4j'],
      ['Pod', 'api-7c9d8b6f4-m4x9z'],
      ['Pod', 'queue-2'],
      ['ReplicaSet', 'api-6d5f7c9b8'],
      ['DaemonSet', 'log-shipper'],
      ['PersistentVolumeClaim', 'uploads'],
    ];
    for (const [kind, name] of subjects) {
      const { e } = await enrich(kind, name);
      const out = JSON.stringify(e);
      for (const v of [...secretValues, ...literals]) t.false(out.includes(v), `${kind}/${name} shows ${v}`);
    }
    const reads = kube.requests.slice(before);
    t.false(
      reads.some((r) => r.path.includes('/secrets')),
      'no Secret is ever read',
    );
    for (const r of reads.filter((x) => x.path.includes('/configmaps/')))
      t.regex(r.accept ?? '', /as=PartialObjectMetadata/, 'ConfigMaps are read as metadata only');
  },
);
