// Least privilege, checked against behaviour: the enrichers run over every kind of subject at the
// TLS stand-in, each request they make is mapped to the RBAC (group, resource, verb) it needs, and
// the enricher ClusterRole in knative/rbac.yaml must grant every one of them and nothing more.
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { compileRedactPatterns } from '../lib/domain/diagnose/redact.ts';
import { enrichNode } from '../lib/stages/enrich/node.ts';
import { enrichPod, type PodEnrichOptions } from '../lib/stages/enrich/pod.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type RecordedRequest, startKubeStandin } from './support/kube-standin.ts';

const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS: PodEnrichOptions = {
  logTailLines: 100,
  logLimitBytes: 16 * 1024,
  timeBudgetMs: 4000,
  now: NOW,
  redactPatterns: compileRedactPatterns(undefined),
};

/** The permission one request needs, as kube-apiserver's RequestInfo resolves it. */
function permissionOf(r: RecordedRequest): string {
  const m =
    /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
      r.path,
    );
  if (!m) throw new Error(`not a resource path: ${r.path}`);
  const [group, resource, name, sub] = [m[1] ?? '', m[2] as string, m[3], m[4]];
  return `${group}/${sub ? `${resource}/${sub}` : resource}:${name ? 'get' : 'list'}`;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

async function granted(): Promise<Set<string>> {
  const text = await readFile(new URL('../knative/rbac.yaml', import.meta.url), 'utf8');
  const role = parseAllDocuments(text)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; rules?: Rule[] })
    .find((d) => d.kind === 'ClusterRole' && d.metadata?.name === 'kubeincident-enricher');
  const out = new Set<string>();
  for (const rule of role?.rules ?? [])
    for (const g of rule.apiGroups)
      for (const res of rule.resources) for (const v of rule.verbs) out.add(`${g}/${res}:${v}`);
  return out;
}

test('rbac: the enricher role grants exactly the get and list calls the enrichers make', async (t) => {
  const kube = await startKubeStandin();
  t.teardown(() => kube.close());
  const reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath });
  const subjects: Array<[kind: string, name: string, namespace: string]> = [
    ['Pod', 'api-6d5f7c9b8-h2v6p', 'orders'],
    ['Pod', 'search-2', 'shop'],
    ['Deployment', 'api', 'orders'],
    ['ReplicaSet', 'checkout-6f8d9c7b5', 'shop'],
    ['StatefulSet', 'queue', 'orders'],
    ['DaemonSet', 'node-agent', 'kube-system'],
    ['Job', 'nightly-report-29541600', 'shop'],
    ['CronJob', 'nightly-report', 'shop'],
    ['PersistentVolumeClaim', 'data-search-2', 'shop'],
  ];
  for (const [kind, name, namespace] of subjects) {
    await enrichPod(
      makeIssue({ subject: { kind, name, namespace }, startsAt: '2026-03-10T11:51:00Z' }),
      reader,
      OPTS,
    );
  }
  await enrichNode(makeIssue({ subject: { kind: 'Node', name: 'worker-2' } }), reader, {
    timeBudgetMs: 4000,
    now: NOW,
  });
  t.true(kube.requests.every((r) => r.method === 'GET'));
  const used = new Set(kube.requests.map(permissionOf));
  const grants = await granted();
  t.deepEqual([...used].filter((p) => !grants.has(p)).sort(), [], 'calls the role does not allow');
  t.deepEqual([...grants].filter((p) => !used.has(p)).sort(), [], 'grants no call needs');
});

test('rbac: request paths map to the permissions kube-apiserver checks', (t) => {
  const r = (path: string) => permissionOf({ method: 'GET', path, query: {}, authorization: '', accept: '' });
  t.is(r('/api/v1/namespaces/a/pods/p/log'), '/pods/log:get');
  t.is(r('/api/v1/namespaces/a/pods'), '/pods:list');
  t.is(r('/api/v1/nodes/n'), '/nodes:get');
  t.is(r('/api/v1/pods'), '/pods:list');
  t.is(r('/apis/apps/v1/namespaces/a/controllerrevisions'), 'apps/controllerrevisions:list');
  t.is(r('/apis/batch/v1/namespaces/a/jobs/j'), 'batch/jobs:get');
  t.throws(() => r('/healthz'));
});
