// Security rules for what `kubectl apply -k knative/` deploys: the NetworkPolicies are valid and
// say what docs/security.md says, every function pod is locked down, and the image has no shell.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parseAllDocuments } from 'yaml';
import { FUNCTIONS as FUNCTION_NAMES } from '../lib/platform/functions.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
type Obj = { kind: string; metadata: { name: string }; spec?: Record<string, unknown> } & Record<
  string,
  unknown
>;

let built: Obj[] | undefined;
async function build(): Promise<Obj[]> {
  if (built) return built;
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', path.join(ROOT, 'knative')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  built = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
  return built;
}

type Rule = { from?: Peer[]; to?: Peer[]; ports?: Array<{ protocol?: string; port?: number }> };
type Peer = {
  namespaceSelector?: Selector;
  podSelector?: Selector;
  ipBlock?: { cidr: string };
};
type Selector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
};
interface Policy {
  metadata: { name: string; namespace?: string };
  spec: { podSelector: Selector; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] };
}

/** Whether a selector selects a pod (or namespace) with these labels. */
function selects(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const v = labels[e.key];
    if (e.operator === 'In' && !(v !== undefined && e.values?.includes(v))) return false;
    if (e.operator === 'NotIn' && v !== undefined && e.values?.includes(v)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const podOf = (fn: string) => ({ 'serving.knative.dev/service': fn, 'app.kubernetes.io/name': fn });
const ns = (name: string) => ({ 'kubernetes.io/metadata.name': name });

async function policies(): Promise<Policy[]> {
  return (await build()).filter((o) => o.kind === 'NetworkPolicy') as unknown as Policy[];
}

/** Would traffic from a pod (labels) in a namespace reach `fn` on `port`? Union of all policies. */
async function ingressAllowed(fn: string, fromNs: string, fromPod: Record<string, string>, port: number) {
  const ps = (await policies()).filter(
    (p) => p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector, podOf(fn)),
  );
  if (ps.length === 0) return true;
  return ps.some((p) =>
    (p.spec.ingress ?? []).some(
      (r) =>
        (r.ports === undefined || r.ports.some((x) => x.port === port)) &&
        (r.from ?? []).some(
          (peer) =>
            (peer.namespaceSelector
              ? selects(peer.namespaceSelector, ns(fromNs))
              : fromNs === 'kubeincident') && (peer.podSelector ? selects(peer.podSelector, fromPod) : true),
        ),
    ),
  );
}

async function egressAllowed(
  fn: string,
  toNs: string | undefined,
  toPod: Record<string, string>,
  port: number,
  protocol = 'TCP',
) {
  const ps = (await policies()).filter(
    (p) => p.spec.policyTypes.includes('Egress') && selects(p.spec.podSelector, podOf(fn)),
  );
  if (ps.length === 0) return true;
  return ps.some((p) =>
    (p.spec.egress ?? []).some(
      (r) =>
        (r.ports === undefined ||
          r.ports.some((x) => x.port === port && (x.protocol ?? 'TCP') === protocol)) &&
        (r.to === undefined ||
          r.to.some((peer) => {
            // toNs undefined: an address outside the cluster (Slack).
            if (toNs === undefined) return peer.ipBlock !== undefined;
            if (peer.ipBlock) return false;
            const nsOk = peer.namespaceSelector
              ? selects(peer.namespaceSelector, ns(toNs))
              : toNs === 'kubeincident';
            return nsOk && (peer.podSelector ? selects(peer.podSelector, toPod) : true);
          })),
    ),
  );
}

test('networkpolicy: the policies are valid NetworkPolicies, in the build and in the kubeincident namespace', async (t) => {
  const ps = await policies();
  t.true(ps.length >= 2);
  for (const p of ps) {
    t.notThrows(() => new NetworkPolicy(p as never).validate(), p.metadata.name);
    t.is(p.metadata.namespace, 'kubeincident');
  }
  const types = new Set(ps.flatMap((p) => p.spec.policyTypes));
  t.true(types.has('Ingress') && types.has('Egress'));
});

test('networkpolicy: every function takes traffic only from Knative data plane namespaces; Alertmanager reaches alert-ingest alone', async (t) => {
  for (const fn of FUNCTION_NAMES) {
    for (const from of ['knative-serving', 'knative-eventing', 'kourier-system'])
      t.true(await ingressAllowed(fn, from, { app: 'activator' }, 8012), `${from} -> ${fn}`);
    t.false(await ingressAllowed(fn, 'default', { app: 'attacker' }, 8080), `default -> ${fn}`);
    t.false(await ingressAllowed(fn, 'kubeincident', { app: 'redis' }, 8080), `same namespace -> ${fn}`);
    const am = await ingressAllowed(fn, 'monitoring', { 'app.kubernetes.io/name': 'alertmanager' }, 8080);
    t.is(am, fn === 'alert-ingest', `alertmanager -> ${fn}`);
    t.false(await ingressAllowed(fn, 'monitoring', { 'app.kubernetes.io/name': 'grafana' }, 8080));
  }
});

test('networkpolicy: functions reach only DNS, the Kubernetes API, Redis, Slack and the broker', async (t) => {
  for (const fn of FUNCTION_NAMES) {
    t.true(await egressAllowed(fn, 'kube-system', { 'k8s-app': 'kube-dns' }, 53, 'UDP'), `${fn} dns`);
    t.true(await egressAllowed(fn, undefined, {}, 443), `${fn} slack / api`);
    t.true(await egressAllowed(fn, 'default', { component: 'apiserver' }, 6443), `${fn} api server`);
    t.true(await egressAllowed(fn, 'kubeincident', { app: 'redis' }, 6379), `${fn} redis`);
    t.true(await egressAllowed(fn, 'knative-eventing', { app: 'broker-ingress' }, 8080), `${fn} broker`);
    // And nothing else: plain HTTP out (but for workflows' allow-listed hosts and Prometheus),
    // another namespace's database, SSH, a node's kubelet.
    t.is(await egressAllowed(fn, undefined, {}, 80), fn === 'run-workflows', `${fn} http out`);
    t.is(
      await egressAllowed(fn, 'monitoring', { app: 'prometheus' }, 9090),
      fn === 'run-workflows' || fn === 'enrich-metrics',
      `${fn} prometheus`,
    );
    t.false(await egressAllowed(fn, 'payments', { app: 'postgres' }, 5432), `${fn} postgres`);
    t.false(await egressAllowed(fn, 'payments', { app: 'redis' }, 6379), `${fn} another namespace's redis`);
    t.false(await egressAllowed(fn, 'kube-system', { app: 'x' }, 10250), `${fn} kubelet`);
    t.false(await egressAllowed(fn, 'kube-system', { 'k8s-app': 'other' }, 53, 'UDP'), `${fn} other dns`);
  }
});

test('pods: every function runs non-root, read-only, without privilege escalation or capabilities, seccomp RuntimeDefault, no host access', async (t) => {
  const services = (await build()).filter(
    (o) => o.kind === 'Service' && String(o.apiVersion).startsWith('serving.knative.dev'),
  );
  t.deepEqual(services.map((s) => s.metadata.name).sort(), [...FUNCTION_NAMES].sort());
  for (const s of services) {
    const pod = (s.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    const name = s.metadata.name;
    for (const host of ['hostNetwork', 'hostPID', 'hostIPC']) t.not(pod[host], true, `${name} ${host}`);
    const volumes = (pod.volumes ?? []) as Array<Record<string, unknown>>;
    t.false(
      volumes.some((v) => 'hostPath' in v),
      `${name} hostPath`,
    );
    const podSc = (pod.securityContext ?? {}) as Record<string, unknown>;
    t.not(podSc.runAsNonRoot, false);
    t.not(podSc.runAsUser, 0);
    for (const c of pod.containers as Array<{ name: string; securityContext?: Record<string, unknown> }>) {
      const sc = c.securityContext ?? {};
      const where = `${name}/${c.name}`;
      t.is(sc.runAsNonRoot, true, `${where} runAsNonRoot`);
      t.true(typeof sc.runAsUser === 'number' && sc.runAsUser > 0, `${where} runAsUser`);
      t.is(sc.readOnlyRootFilesystem, true, `${where} readOnlyRootFilesystem`);
      t.is(sc.allowPrivilegeEscalation, false, `${where} allowPrivilegeEscalation`);
      t.not(sc.privileged, true, `${where} privileged`);
      t.deepEqual(
        (sc.capabilities as { drop?: string[] } | undefined)?.drop,
        ['ALL'],
        `${where} capabilities`,
      );
      t.is(
        ((sc.seccompProfile ?? podSc.seccompProfile) as { type?: string } | undefined)?.type,
        'RuntimeDefault',
        `${where} seccomp`,
      );
    }
  }
});

test('image: the Dockerfile builds on distroless nonroot, runs no shell step and runs as a non-root UID', async (t) => {
  // The code cache's training stage (Dockerfile, scripts/build.ts) runs node itself, in exec form.
  const docker = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const lines = docker
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  t.true(froms.length > 0);
  for (const f of froms)
    t.regex(
      f,
      /^FROM\s+gcr\.io\/distroless\/nodejs\d+-debian\d+:nonroot(@sha256:[0-9a-f]{64})?(\s+AS\s+\w+)?$/,
    );
  // A shell-form RUN needs a shell in the image; distroless has none, and a shell-form CMD would
  // need one too. An exec-form RUN starts its program directly.
  const runs = lines.filter((l) => /^RUN\s/i.test(l));
  t.deepEqual(
    runs.filter((l) => !/^RUN\s+\["\/nodejs\/bin\/node",/.test(l)),
    [],
    'no RUN step but node itself, in exec form',
  );
  t.is(runs.length, 1, 'one RUN step: the code cache training run');
  t.false(froms.at(-1)?.includes(' AS '), 'the last stage is the image');
  t.false(
    lines.some((l) => /^ADD\s+https?:/i.test(l)),
    'nothing fetched at build time',
  );
  const cmd = lines.find((l) => /^(CMD|ENTRYPOINT)\s/i.test(l));
  t.regex(cmd ?? '', /^(CMD|ENTRYPOINT)\s+\[/, 'exec form, no /bin/sh -c');
  const user = lines.filter((l) => /^USER\s/i.test(l)).at(-1);
  t.regex(user ?? '', /^USER\s+[1-9]\d*(:[1-9]\d*)?$/, 'numeric non-root user');
});
