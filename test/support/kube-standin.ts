// A stand-in Kubernetes API server for tests: HTTPS with its own CA (made by the openssl CLI), a
// kubeconfig pointing at it, and the few core/v1 reads the enrichers make, answered the way
// kube-apiserver and the kubelet answer them (v1 Status errors included). Node builtins only,
// so the end-to-end test can hand its kubeconfig to spawned pipeline processes.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const FIXTURE_DIR = new URL('../fixtures/k8s/', import.meta.url).pathname;

// Kept loose on purpose: fixtures are plain JSON exactly as the API server sends it.
// biome-ignore lint/suspicious/noExplicitAny: JSON objects of many shapes
type Obj = Record<string, any>;

export interface ContainerLogs {
  /** Output of the running (or last) instance. */
  current?: string;
  /** Output of the instance named in lastState.terminated. */
  previous?: string;
}

export interface KubeFixtures {
  pods: Obj[];
  events: Obj[];
  nodes: Obj[];
  /** Keyed `namespace/pod/container`. */
  logs: Record<string, ContainerLogs>;
}

export interface Fault {
  /** Answer with this HTTP status and a v1 Status body instead of the real answer. */
  status?: number;
  /** Wait this long before answering (the client may give up first). */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
}

export interface KubeStandin {
  url: string;
  kubeconfigPath: string;
  /** The CA certificate (PEM) the kubeconfig trusts. */
  caPem: string;
  token: string;
  requests: RecordedRequest[];
  setFault(path: RegExp, fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export interface StandinOptions extends Partial<KubeFixtures> {
  faults?: Array<{ path: RegExp } & Fault>;
  token?: string;
}

/** Loads test/fixtures/k8s: pods/, nodes/, events/ (JSON arrays) and logs/<ns>/<pod>/<container>/. */
export async function loadKubeFixtures(dir = FIXTURE_DIR): Promise<KubeFixtures> {
  const readJsonDir = async (sub: string): Promise<Obj[]> => {
    const files = (await readdir(join(dir, sub))).filter((f) => f.endsWith('.json')).sort();
    const out: Obj[] = [];
    for (const f of files) {
      const parsed: unknown = JSON.parse(await readFile(join(dir, sub, f), 'utf8'));
      out.push(...(Array.isArray(parsed) ? (parsed as Obj[]) : [parsed as Obj]));
    }
    return out;
  };
  const logs: Record<string, ContainerLogs> = {};
  const logDir = join(dir, 'logs');
  for (const ns of await readdir(logDir)) {
    for (const pod of await readdir(join(logDir, ns))) {
      for (const container of await readdir(join(logDir, ns, pod))) {
        const base = join(logDir, ns, pod, container);
        const entry: ContainerLogs = {};
        if (existsSync(join(base, 'current.log')))
          entry.current = await readFile(join(base, 'current.log'), 'utf8');
        if (existsSync(join(base, 'previous.log')))
          entry.previous = await readFile(join(base, 'previous.log'), 'utf8');
        logs[`${ns}/${pod}/${container}`] = entry;
      }
    }
  }
  return {
    pods: await readJsonDir('pods'),
    events: await readJsonDir('events'),
    nodes: await readJsonDir('nodes'),
    logs,
  };
}

/** Omitted collections come from test/fixtures/k8s; pass `[]` / `{}` for an empty cluster. */
export async function startKubeStandin(opts: StandinOptions = {}): Promise<KubeStandin> {
  const needFixtures = !opts.pods || !opts.events || !opts.nodes || !opts.logs;
  const fixtures = needFixtures ? await loadKubeFixtures() : undefined;
  const data: KubeFixtures = {
    pods: opts.pods ?? fixtures?.pods ?? [],
    events: opts.events ?? fixtures?.events ?? [],
    nodes: opts.nodes ?? fixtures?.nodes ?? [],
    logs: opts.logs ?? fixtures?.logs ?? {},
  };
  const token = opts.token ?? 'standin-token-0123456789';
  const dir = await mkdtemp(join(tmpdir(), 'kube-standin-'));
  const tls = await makeCertificates(dir);
  const faults: Array<{ path: RegExp } & Fault> = [...(opts.faults ?? [])];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer({ key: tls.serverKey, cert: tls.serverCert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
    });
    const fault = faults.find((f) => f.path.test(url.pathname));
    const answer = () => {
      if (res.destroyed) return;
      const reply =
        fault?.status !== undefined
          ? statusReply(faultStatus(fault.status, url.pathname))
          : handle(req, url, data, token);
      res.writeHead(reply.code, { 'content-type': reply.contentType, 'cache-control': 'no-cache, private' });
      res.end(reply.body);
    };
    if (fault?.delayMs) {
      const t = setTimeout(() => {
        timers.delete(t);
        answer();
      }, fault.delayMs);
      timers.add(t);
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfig(url, tls.caCert, token), { mode: 0o600 });

  return {
    url,
    kubeconfigPath,
    caPem: tls.caCert,
    token,
    requests,
    setFault: (path, fault) => {
      faults.unshift({ path, ...fault });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Reply {
  code: number;
  contentType: string;
  body: string;
}

function handle(req: IncomingMessage, url: URL, data: KubeFixtures, token: string): Reply {
  if (req.headers.authorization !== `Bearer ${token}`) {
    return statusReply(status(401, 'Unauthorized', 'Unauthorized'));
  }
  if (req.method !== 'GET') {
    return statusReply(
      status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
    );
  }
  const p = url.pathname;
  const q = url.searchParams;
  let m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p);
  if (m) {
    const pod = findPod(data, m[1] as string, m[2] as string);
    return pod ? jsonReply(200, pod) : statusReply(notFound('pods', m[2] as string));
  }
  m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(p);
  if (m) return logReply(data, m[1] as string, m[2] as string, q);
  m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(p);
  if (m) {
    const ns = m[1] as string;
    const items = data.events.filter((e) => e.metadata?.namespace === ns);
    return listReply('EventList', selectByFields(items, q.get('fieldSelector')), q);
  }
  m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(p);
  if (m) {
    const node = data.nodes.find((n) => n.metadata?.name === m?.[1]);
    return node ? jsonReply(200, node) : statusReply(notFound('nodes', m[1] as string));
  }
  if (p === '/api/v1/pods') return listReply('PodList', selectByFields(data.pods, q.get('fieldSelector')), q);
  return statusReply({
    ...status(404, 'NotFound', 'the server could not find the requested resource'),
    details: {},
  });
}

function findPod(data: KubeFixtures, ns: string, name: string): Obj | undefined {
  return data.pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
}

/** The kubelet's rules for which container instance a log request means (validateContainerLogStatus). */
function logReply(data: KubeFixtures, ns: string, name: string, q: URLSearchParams): Reply {
  const pod = findPod(data, ns, name);
  if (!pod) return statusReply(notFound('pods', name));
  const containers: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c.name);
  const inits: string[] = (pod.spec?.initContainers ?? []).map((c: Obj) => c.name);
  let container = q.get('container') ?? '';
  if (container === '') {
    if (containers.length !== 1) {
      const initPart = inits.length > 0 ? ` or one of the init containers: [${inits.join(' ')}]` : '';
      return statusReply(
        badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]${initPart}`,
        ),
      );
    }
    container = containers[0] as string;
  }
  if (!containers.includes(container) && !inits.includes(container)) {
    return statusReply(badRequest(`container ${container} is not valid for pod ${name}`));
  }
  const statuses: Obj[] = [
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.initContainerStatuses ?? []),
  ];
  const cs = statuses.find((s) => s.name === container);
  const logs = data.logs[`${ns}/${name}/${container}`] ?? {};
  let text: string | undefined;
  if (q.get('previous') === 'true') {
    if (!cs?.lastState?.terminated?.containerID) {
      return statusReply(
        badRequest(`previous terminated container "${container}" in pod "${name}" not found`),
      );
    }
    text = logs.previous;
  } else if (cs?.state?.running || cs?.state?.terminated?.containerID) {
    text = logs.current;
  } else if (cs?.lastState?.terminated?.containerID) {
    // A container waiting to restart (CrashLoopBackOff) still shows its last instance's output.
    text = logs.previous;
  } else {
    const reason = cs?.state?.waiting?.reason ?? 'ContainerCreating';
    const why =
      reason === 'ErrImagePull' || reason === 'ImagePullBackOff'
        ? 'trying and failing to pull image'
        : reason;
    return statusReply(badRequest(`container "${container}" in pod "${name}" is waiting to start: ${why}`));
  }
  let out = text ?? '';
  const tail = q.get('tailLines');
  if (tail !== null) out = tailLines(out, Number(tail));
  const limit = q.get('limitBytes');
  // Like the kubelet's LimitWriter: the first limitBytes bytes of the (tailed) output.
  if (limit !== null) out = Buffer.from(out).subarray(0, Number(limit)).toString('utf8');
  return { code: 200, contentType: 'text/plain', body: out };
}

function tailLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.split('\n');
  const endsWithNewline = lines.at(-1) === '';
  if (endsWithNewline) lines.pop();
  const kept = lines.slice(-n).join('\n');
  return endsWithNewline ? `${kept}\n` : kept;
}

/** Equality-based field selectors (`a=b`, `a==b`, `a!=b`, comma = AND), as the API server takes them. */
function selectByFields(items: Obj[], selector: string | null): Obj[] {
  if (!selector) return items;
  const terms = selector.split(',').map((t) => {
    const neg = t.includes('!=');
    const [key, value] = neg ? t.split('!=') : t.includes('==') ? t.split('==') : t.split('=');
    return { key: key as string, value: value ?? '', neg };
  });
  return items.filter((item) =>
    terms.every(({ key, value, neg }) => {
      const actual = String(
        key.split('.').reduce<unknown>((o, k) => (o as Obj | undefined)?.[k], item) ?? '',
      );
      return neg ? actual !== value : actual === value;
    }),
  );
}

function listReply(kind: string, items: Obj[], q: URLSearchParams): Reply {
  const limit = Number(q.get('limit') ?? 0);
  const page = limit > 0 ? items.slice(0, limit) : items;
  const rest = items.length - page.length;
  // List items from the API server carry no kind/apiVersion of their own.
  const bare = page.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  const metadata: Obj = { resourceVersion: '48215000' };
  if (rest > 0) {
    metadata.continue = Buffer.from(
      JSON.stringify({ v: 'meta.k8s.io/v1', rv: 48215000, start: `${page.length}` }),
    ).toString('base64url');
    metadata.remainingItemCount = rest;
  }
  return jsonReply(200, { kind, apiVersion: 'v1', metadata, items: bare });
}

function jsonReply(code: number, body: unknown): Reply {
  return { code, contentType: 'application/json', body: JSON.stringify(body) };
}

function statusReply(body: Obj): Reply {
  return jsonReply(body.code as number, body);
}

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function notFound(kind: string, name: string): Obj {
  return status(404, 'NotFound', `${kind} "${name}" not found`, { name, kind });
}

function badRequest(message: string): Obj {
  return status(400, 'BadRequest', message);
}

/** A fault answers as the API server would: a Forbidden names the resource the RBAC check denied. */
const FAULTS: Record<number, [reason: string, message: string]> = {
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: etcdserver: request timed out'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'Timeout: request did not complete within the allowed duration'],
};

function faultStatus(code: number, path: string): Obj {
  const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  const [ns, plural, name, sub] = [m?.[1], m?.[2] ?? 'unknown', m?.[3], m?.[4]];
  if (code === 404) return notFound(plural, name ?? '');
  if (code === 403) {
    const resource = sub ? `${plural}/${sub}` : plural;
    const who = name ? `${plural} "${name}"` : resource;
    const scope = ns ? ` in the namespace "${ns}"` : ' at the cluster scope';
    const user = 'User "system:serviceaccount:kube-incident:enrich-pod"';
    const message = `${who} is forbidden: ${user} cannot ${name ? 'get' : 'list'} resource "${resource}" in API group ""${scope}`;
    return status(403, 'Forbidden', message, { ...(name ? { name } : {}), kind: resource });
  }
  const [reason, message] = FAULTS[code] ?? ['Unknown', `fault injected with status ${code}`];
  return status(code, reason, message);
}

function kubeconfig(server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: ${server}
    certificate-authority-data: ${ca}
users:
- name: standin
  user:
    token: ${token}
contexts:
- name: standin
  context:
    cluster: standin
    user: standin
    namespace: default
current-context: standin
`;
}

interface Certificates {
  caCert: string;
  serverKey: string;
  serverCert: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, as a cluster's own CA would issue. */
async function makeCertificates(dir: string): Promise<Certificates> {
  const f = (name: string) => join(dir, name);
  const args = (fixed: string, ...rest: string[]) => [...fixed.split(' '), ...rest];
  const ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ];
  await run(
    'openssl',
    args(
      `req -x509 ${ec} -days 2 -subj /CN=kube-standin-ca`,
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      ...caExt,
    ),
  );
  await run(
    'openssl',
    args(`req ${ec} -subj /CN=kube-apiserver`, '-keyout', f('server.key'), '-out', f('server.csr')),
  );
  await writeFile(
    f('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  const sign = ['-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-out', f('server.crt')];
  await run('openssl', args('x509 -req -CAcreateserial -days 2', ...sign, '-extfile', f('server.ext')));
  return {
    caCert: await readFile(f('ca.crt'), 'utf8'),
    serverKey: await readFile(f('server.key'), 'utf8'),
    serverCert: await readFile(f('server.crt'), 'utf8'),
  };
}
