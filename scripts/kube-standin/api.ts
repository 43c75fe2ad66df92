// The request handling of the stand-in Kubernetes API server: the reads the enrichers make,
// answered the way kube-apiserver and the kubelet answer them — field and label selectors,
// limit/continue pagination and v1 Status errors included. Pure functions of the fixtures.
import type { IncomingMessage } from 'node:http';

// Kept loose on purpose: fixtures are plain JSON exactly as the API server sends it.
// biome-ignore lint/suspicious/noExplicitAny: JSON objects of many shapes
export type Obj = Record<string, any>;

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
  /** Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs, told apart by `kind`. */
  workloads: Obj[];
  persistentVolumeClaims: Obj[];
  /** Namespaces (read by workflows' ctx.k8s.get); none unless given or in the fixtures. */
  namespaces?: Obj[];
  /** Keyed `namespace/pod/container`. */
  logs: Record<string, ContainerLogs>;
  /** apps/v1 ControllerRevisions (StatefulSet and DaemonSet history). */
  controllerRevisions?: Obj[];
  /** ConfigMaps, Secrets and StorageClasses, told apart by `kind`. */
  configs?: Obj[];
}

export interface Reply {
  code: number;
  contentType: string;
  body: string;
}

const RESOURCE_VERSION = 48215000;

const WORKLOAD_PATHS: Record<string, [group: string, kind: string]> = {
  deployments: ['apps/v1', 'Deployment'],
  statefulsets: ['apps/v1', 'StatefulSet'],
  daemonsets: ['apps/v1', 'DaemonSet'],
  replicasets: ['apps/v1', 'ReplicaSet'],
  jobs: ['batch/v1', 'Job'],
  cronjobs: ['batch/v1', 'CronJob'],
};

export function handle(req: IncomingMessage, url: URL, data: KubeFixtures, token: string): Reply {
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
  m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p);
  if (m) {
    const ns = m[1] as string;
    return listReply(
      'PodList',
      'v1',
      data.pods.filter((x) => x.metadata?.namespace === ns),
      q,
    );
  }
  if (p === '/api/v1/pods') return listReply('PodList', 'v1', data.pods, q);
  if (p === '/api/v1/nodes') return listReply('NodeList', 'v1', data.nodes, q);
  m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(p);
  if (m) {
    const ns = m[1] as string;
    return listReply(
      'EventList',
      'v1',
      data.events.filter((e) => e.metadata?.namespace === ns),
      q,
    );
  }
  m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(p);
  if (m) {
    const found = (data.namespaces ?? []).find((n) => n.metadata?.name === m?.[1]);
    return found ? jsonReply(200, found) : statusReply(notFound('namespaces', m[1] as string));
  }
  m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(p);
  if (m) {
    const node = data.nodes.find((n) => n.metadata?.name === m?.[1]);
    return node ? jsonReply(200, node) : statusReply(notFound('nodes', m[1] as string));
  }
  m = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/([^/]+)$/.exec(p);
  if (m) {
    const [ns, name] = [m[1] as string, m[2] as string];
    const pvc = data.persistentVolumeClaims.find(
      (x) => x.metadata?.namespace === ns && x.metadata?.name === name,
    );
    return pvc ? jsonReply(200, pvc) : statusReply(notFound('persistentvolumeclaims', name));
  }
  const more = handleRevisionsAndConfigs(req, p, q, data);
  if (more) return more;
  m = /^\/apis\/(apps\/v1|batch\/v1)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(p);
  const wl = m ? WORKLOAD_PATHS[m[3] as string] : undefined;
  if (m && wl && wl[0] === m[1]) {
    const [ns, plural, name] = [m[2] as string, m[3] as string, m[4] as string];
    const obj = data.workloads.find(
      (x) => x.kind === wl[1] && x.metadata?.namespace === ns && x.metadata?.name === name,
    );
    return obj ? jsonReply(200, obj) : statusReply(notFound(`${plural}.${wl[0].split('/')[0]}`, name));
  }
  return statusReply({
    ...status(404, 'NotFound', 'the server could not find the requested resource'),
    details: {},
  });
}

/** Job, ReplicaSet and ControllerRevision lists, StorageClasses, ConfigMaps (whole or metadata only), Secrets. */
function handleRevisionsAndConfigs(
  req: IncomingMessage,
  p: string,
  q: URLSearchParams,
  data: KubeFixtures,
): Reply | undefined {
  let m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(p);
  if (m) {
    const ns = m[1] as string;
    const jobs = data.workloads.filter((w) => w.kind === 'Job' && w.metadata?.namespace === ns);
    return listReply('JobList', 'batch/v1', jobs, q);
  }
  m = /^\/apis\/storage\.k8s\.io\/v1\/storageclasses\/([^/]+)$/.exec(p);
  if (m) {
    const sc = (data.configs ?? []).find((x) => x.kind === 'StorageClass' && x.metadata?.name === m?.[1]);
    return sc ? jsonReply(200, sc) : statusReply(notFound('storageclasses.storage.k8s.io', m[1] as string));
  }
  m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(replicasets|controllerrevisions)$/.exec(p);
  if (m) {
    const ns = m[1] as string;
    const [kind, all] =
      m[2] === 'replicasets'
        ? ['ReplicaSet', data.workloads.filter((w) => w.kind === 'ReplicaSet')]
        : ['ControllerRevision', data.controllerRevisions ?? []];
    const items = all.filter((x) => x.metadata?.namespace === ns);
    return listReply(`${kind}List`, 'apps/v1', items, q);
  }
  m = /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps|secrets)\/([^/]+)$/.exec(p);
  if (!m) return undefined;
  const [ns, plural, name] = [m[1] as string, m[2] as string, m[3] as string];
  const kind = plural === 'configmaps' ? 'ConfigMap' : 'Secret';
  const obj = (data.configs ?? []).find(
    (x) => x.kind === kind && x.metadata?.namespace === ns && x.metadata?.name === name,
  );
  if (!obj) return statusReply(notFound(plural, name));
  // Server-side conversion to metadata only, as kube-apiserver does for this Accept header.
  if (/as=PartialObjectMetadata/.test(req.headers.accept ?? '')) {
    return jsonReply(200, {
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: obj.metadata,
    });
  }
  return jsonReply(200, obj);
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

const getPath = (item: Obj, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Obj | undefined)?.[k], item);

/** Equality-based field selectors (`a=b`, `a==b`, `a!=b`, comma = AND), as the API server takes them. */
export function selectByFields(items: Obj[], selector: string | null): Obj[] {
  if (!selector) return items;
  const terms = selector.split(',').map((t) => {
    const neg = t.includes('!=');
    const [key, value] = neg ? t.split('!=') : t.includes('==') ? t.split('==') : t.split('=');
    return { key: key as string, value: value ?? '', neg };
  });
  return items.filter((item) =>
    terms.every(({ key, value, neg }) => {
      const actual = String(getPath(item, key) ?? '');
      return neg ? actual !== value : actual === value;
    }),
  );
}

type LabelTerm = (labels: Record<string, string>) => boolean;

/** Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; comma = AND. */
export function parseLabelSelector(selector: string): LabelTerm[] | undefined {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  const out: LabelTerm[] = [];
  for (const raw of terms.map((t) => t.trim())) {
    if (raw === '') continue;
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(raw);
    if (m) {
      const [key, op] = [m[1] as string, m[2]];
      const values = (m[3] as string).split(',').map((v) => v.trim());
      out.push((l) => (op === 'in' ? values.includes(l[key] ?? '\0') : !values.includes(l[key] ?? '\0')));
      continue;
    }
    m = /^([^!=\s]+)\s*(!=|==|=)\s*(\S*)$/.exec(raw);
    if (m) {
      const [key, op, value] = [m[1] as string, m[2], m[3] as string];
      out.push((l) => (op === '!=' ? l[key] !== value : l[key] === value));
      continue;
    }
    m = /^(!?)([^!=\s()]+)$/.exec(raw);
    if (m) {
      const [neg, key] = [m[1] === '!', m[2] as string];
      out.push((l) => key in l !== neg);
      continue;
    }
    return undefined;
  }
  return out;
}

interface ContinueToken {
  rv: number;
  start: number;
}

/** A list: selectors first, then one page of `limit` items and a continue token, like etcd-backed lists. */
function listReply(kind: string, apiVersion: string, all: Obj[], q: URLSearchParams): Reply {
  let items = selectByFields(all, q.get('fieldSelector'));
  const labelSelector = q.get('labelSelector');
  if (labelSelector) {
    const terms = parseLabelSelector(labelSelector);
    if (!terms) return statusReply(badRequest(`unable to parse requirement: ${labelSelector}`));
    items = items.filter((x) => terms.every((term) => term(x.metadata?.labels ?? {})));
  }
  let start = 0;
  const token = q.get('continue');
  if (token) {
    const parsed = decodeContinue(token);
    if (!parsed)
      return statusReply(badRequest('continue key is not valid: incorrect encoded start resourceVersion'));
    start = parsed.start;
  }
  const limit = Number(q.get('limit') ?? 0);
  const page = limit > 0 ? items.slice(start, start + limit) : items.slice(start);
  const rest = items.length - start - page.length;
  // List items from the API server carry no kind/apiVersion of their own.
  const bare = page.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  const metadata: Obj = { resourceVersion: String(RESOURCE_VERSION) };
  if (rest > 0) {
    const next: ContinueToken = { rv: RESOURCE_VERSION, start: start + page.length };
    metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', ...next })).toString('base64url');
    metadata.remainingItemCount = rest;
  }
  return jsonReply(200, { kind, apiVersion, metadata, items: bare });
}

function decodeContinue(token: string): ContinueToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Obj;
    return t.v === 'meta.k8s.io/v1' && Number.isInteger(t.start) && t.start >= 0
      ? { rv: Number(t.rv), start: t.start }
      : undefined;
  } catch {
    return undefined;
  }
}

function jsonReply(code: number, body: unknown): Reply {
  return { code, contentType: 'application/json', body: JSON.stringify(body) };
}

export function statusReply(body: Obj): Reply {
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
  410: [
    'Expired',
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
  ],
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: etcdserver: request timed out'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'Timeout: request did not complete within the allowed duration'],
};

export function faultStatus(code: number, path: string): Obj {
  const m =
    /^\/apis?\/(?:([a-z.]+)\/)?v1\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  const [group, ns, plural, name, sub] = [m?.[1] ?? '', m?.[2], m?.[3] ?? 'unknown', m?.[4], m?.[5]];
  if (code === 404) return notFound(plural, name ?? '');
  if (code === 403) {
    const resource = sub ? `${plural}/${sub}` : plural;
    const who = name ? `${plural}${group ? `.${group}` : ''} "${name}"` : resource;
    const scope = ns ? ` in the namespace "${ns}"` : ' at the cluster scope';
    const user = 'User "system:serviceaccount:kube-incident:enrich-pod"';
    const message = `${who} is forbidden: ${user} cannot ${name ? 'get' : 'list'} resource "${resource}" in API group "${group}"${scope}`;
    return status(403, 'Forbidden', message, { ...(name ? { name } : {}), kind: resource });
  }
  const [reason, message] = FAULTS[code] ?? ['Unknown', `fault injected with status ${code}`];
  return status(code, reason, message);
}
