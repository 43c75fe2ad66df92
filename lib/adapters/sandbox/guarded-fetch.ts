// ctx.fetch of a workflow: only to hosts the configuration allows that workflow, and never to an
// address it must not reach, whatever a name resolves to. The check runs in the connection's own
// DNS lookup, so the address checked is the address connected to (no rebinding between the
// two); redirects are not followed (a 3xx comes back as it is).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

export interface FetchPolicy {
  /** Host names allowed (exact, or `*.example.com` for any subdomain). */
  allowHosts: readonly string[];
  allowLoopback: boolean;
  /** The cluster API server's addresses and names: never reachable this way. */
  apiServer: { hosts: readonly string[] };
  timeoutMs: number;
  /** Most bytes of a response body kept. */
  maxBodyBytes: number;
}

export interface FetchInit {
  method?: 'GET' | 'POST' | 'HEAD';
  headers?: Record<string, string>;
  body?: string;
}

export interface FetchAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body was longer than the cap and was cut. */
  truncated: boolean;
}

export class FetchRefused extends Error {}

const API_SERVER_NAMES = [
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
];

// Link-local (the cloud metadata services live there: 169.254.169.254, fd00:ec2::254 on AWS
// IPv6), unspecified, multicast and Alibaba's 100.100.100.200. Loopback is separate.
const forbidden = new BlockList();
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
forbidden.addSubnet('0.0.0.0', 8, 'ipv4');
forbidden.addSubnet('224.0.0.0', 4, 'ipv4');
forbidden.addAddress('100.100.100.200', 'ipv4');
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addAddress('::', 'ipv6');
forbidden.addAddress('fd00:ec2::254', 'ipv6');
forbidden.addSubnet('ff00::', 8, 'ipv6');
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Why an address may not be reached, or undefined when it may. */
export function addressProblem(
  address: string,
  policy: Pick<FetchPolicy, 'allowLoopback' | 'apiServer'>,
): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const a = mapped ?? address;
  const family = isIP(a) === 6 ? 'ipv6' : 'ipv4';
  if (policy.apiServer.hosts.includes(a)) return 'the cluster API server';
  if (forbidden.check(a, family)) return 'a link-local or metadata address';
  if (!policy.allowLoopback && loopback.check(a, family)) return 'a loopback address';
  return undefined;
}

export function hostAllowed(host: string, allowHosts: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowHosts.some((p) => {
    const q = p.toLowerCase();
    return q.startsWith('*.') ? h.endsWith(q.slice(1)) && h.length > q.length - 1 : h === q;
  });
}

/** Refuses before connecting: scheme, allow-list, names of the API server, literal addresses. */
function checkUrl(raw: unknown, policy: FetchPolicy): URL {
  if (typeof raw !== 'string') throw new FetchRefused('fetch needs a URL string');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchRefused('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchRefused('only http and https');
  if (url.username || url.password) throw new FetchRefused('no credentials in URLs');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    API_SERVER_NAMES.some((n) => host === n || host.startsWith(`${n}.`)) ||
    policy.apiServer.hosts.includes(host)
  ) {
    throw new FetchRefused(`${host} is the cluster API server`);
  }
  if (!hostAllowed(host, policy.allowHosts))
    throw new FetchRefused(`${host} is not in this workflow's allowHosts`);
  if (isIP(host)) {
    const problem = addressProblem(host, policy);
    if (problem) throw new FetchRefused(`${host} is ${problem}`);
  }
  return url;
}

/** A lookup for the connection that fails when any address the name has is forbidden. */
function guardedLookup(policy: FetchPolicy) {
  return (
    hostname: string,
    options: object,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const problem = addressProblem(a.address, policy);
        if (problem) return callback(new FetchRefused(`${hostname} resolves to ${problem}`), []);
      }
      const all = (options as { all?: boolean }).all;
      if (all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** One request under the policy; rejects with FetchRefused or a network error, never for a 4xx/5xx. */
export function guardedFetch(
  raw: unknown,
  init: FetchInit | undefined,
  policy: FetchPolicy,
  signal: AbortSignal,
): Promise<FetchAnswer> {
  const url = checkUrl(raw, policy);
  const method = init?.method ?? 'GET';
  if (!['GET', 'POST', 'HEAD'].includes(method))
    return Promise.reject(new FetchRefused('only GET, POST and HEAD'));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(init?.headers ?? {})) if (typeof v === 'string') headers[k] = v;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeout = AbortSignal.timeout(policy.timeoutMs);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers, lookup: guardedLookup(policy) as never, signal: AbortSignal.any([signal, timeout]) },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        res.on('data', (c: Buffer) => {
          if (size >= policy.maxBodyBytes) {
            truncated = true;
            res.destroy();
            return;
          }
          chunks.push(c);
          size += c.length;
        });
        const done = () => {
          const body = Buffer.concat(chunks).subarray(0, policy.maxBodyBytes);
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({
            status: res.statusCode ?? 0,
            headers: h,
            body: body.toString('utf8'),
            truncated: truncated || size > policy.maxBodyBytes,
          });
        };
        res.on('end', done);
        res.on('close', () => (truncated ? done() : undefined));
        res.on('error', (e) => (truncated ? done() : reject(e)));
      },
    );
    req.on('error', (e) =>
      reject(timeout.aborted ? new Error(`fetch timed out after ${policy.timeoutMs} ms`) : e),
    );
    if (init?.body !== undefined && method === 'POST') req.write(init.body);
    req.end();
  });
}
