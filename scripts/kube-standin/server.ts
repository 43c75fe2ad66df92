// A stand-in Kubernetes API server (tests and `npm run demo`): HTTPS with its own CA (made by the
// openssl CLI), a kubeconfig pointing at it, and the reads the enrichers make (api.ts), answered
// the way kube-apiserver and the kubelet answer them. Node builtins only, so its kubeconfig can be
// handed to spawned pipeline processes.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type ContainerLogs, faultStatus, handle, type KubeFixtures, type Obj, statusReply } from './api.ts';

const run = promisify(execFile);

export type { ContainerLogs, KubeFixtures, Obj };

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
  accept: string | undefined;
}

export interface KubeStandin {
  url: string;
  kubeconfigPath: string;
  /** The CA certificate (PEM) the kubeconfig trusts. */
  caPem: string;
  token: string;
  requests: RecordedRequest[];
  /** TLS connections accepted so far: a client that pools connections opens few. */
  connections(): number;
  setFault(path: RegExp, fault: Fault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export interface StandinOptions extends Partial<KubeFixtures> {
  faults?: Array<{ path: RegExp } & Fault>;
  token?: string;
  /** Where omitted collections are loaded from (loadKubeFixtures); without it they are empty. */
  fixtureDir?: string;
}

/**
 * Loads a recorded cluster (test/fixtures/k8s, scripts/demo/cluster): pods/, nodes/, events/,
 * workloads/, pvcs/, namespaces/, revisions/ (ControllerRevisions), configs/ (ConfigMaps, Secrets,
 * StorageClasses) (JSON objects or arrays) and
 * logs/<ns>/<pod>/<container>/{current,previous}.log.
 */
export async function loadKubeFixtures(dir: string): Promise<KubeFixtures> {
  const readJsonDir = async (sub: string): Promise<Obj[]> => {
    if (!existsSync(join(dir, sub))) return [];
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
  for (const ns of existsSync(logDir) ? await readdir(logDir) : []) {
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
    workloads: await readJsonDir('workloads'),
    persistentVolumeClaims: await readJsonDir('pvcs'),
    namespaces: await readJsonDir('namespaces'),
    controllerRevisions: await readJsonDir('revisions'),
    configs: await readJsonDir('configs'),
    logs,
  };
}

/** Omitted collections come from `fixtureDir` (or are empty); pass `[]` / `{}` for an empty one. */
export async function startKubeStandin(opts: StandinOptions = {}): Promise<KubeStandin> {
  const needFixtures =
    !opts.pods ||
    !opts.events ||
    !opts.nodes ||
    !opts.logs ||
    !opts.workloads ||
    !opts.persistentVolumeClaims ||
    !opts.controllerRevisions ||
    !opts.configs ||
    !opts.namespaces;
  const fixtures = needFixtures && opts.fixtureDir ? await loadKubeFixtures(opts.fixtureDir) : undefined;
  const data: KubeFixtures = {
    pods: opts.pods ?? fixtures?.pods ?? [],
    events: opts.events ?? fixtures?.events ?? [],
    nodes: opts.nodes ?? fixtures?.nodes ?? [],
    workloads: opts.workloads ?? fixtures?.workloads ?? [],
    persistentVolumeClaims: opts.persistentVolumeClaims ?? fixtures?.persistentVolumeClaims ?? [],
    namespaces: opts.namespaces ?? fixtures?.namespaces ?? [],
    controllerRevisions: opts.controllerRevisions ?? fixtures?.controllerRevisions ?? [],
    configs: opts.configs ?? fixtures?.configs ?? [],
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
      accept: req.headers.accept,
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
  let connections = 0;
  server.on('secureConnection', () => {
    connections++;
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
    connections: () => connections,
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
  /** The CA certificate's file (for NODE_EXTRA_CA_CERTS). */
  caPath: string;
  serverKey: string;
  serverCert: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, as a cluster's own CA would issue. */
export async function makeCertificates(dir: string): Promise<Certificates> {
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
    caPath: f('ca.crt'),
    serverKey: await readFile(f('server.key'), 'utf8'),
    serverCert: await readFile(f('server.crt'), 'utf8'),
  };
}

/** The stand-in's kubeconfig with its token handed out by an exec credential plugin instead. */
export async function execKubeconfig(standin: KubeStandin): Promise<string> {
  const credential = JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: standin.token },
  });
  const exec = [
    '    exec:',
    '      apiVersion: client.authentication.k8s.io/v1',
    `      command: ${JSON.stringify(process.execPath)}`,
    `      args: ["-e", ${JSON.stringify(`process.stdout.write(${JSON.stringify(credential)})`)}]`,
    '      interactiveMode: Never',
  ].join('\n');
  const config = (await readFile(standin.kubeconfigPath, 'utf8')).replace(/^ {4}token: .*$/m, exec);
  // Next to the stand-in's own kubeconfig: two stand-ins of one test file never share it.
  const path = join(dirname(standin.kubeconfigPath), 'kubeconfig-exec');
  await writeFile(path, config, { mode: 0o600 });
  return path;
}
