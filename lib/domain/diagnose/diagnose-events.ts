// Reading the kubelet's and the scheduler's Event messages: image pull failures classified into
// a cause with a fix hint (containerd and docker wording), FailedScheduling messages split into
// causes, and probe failures counted. Pure functions of Event objects.
import type { CoreV1Event } from '../kube.ts';
import { eventTime } from './describe.ts';

export type PullCause = 'not-found' | 'unauthorized' | 'rate-limited' | 'network' | 'unknown';

export interface PullDiagnosis {
  cause: PullCause;
  /** Short words for a verdict: "image or tag not found". */
  summary: string;
  hint: string;
  image?: string;
  /** The kubelet's message the cause was read from. */
  message?: string;
}

// Order matters: a 429 from a registry also says "failed to pull", a 401 also "failed to resolve".
const PULL_RULES: ReadonlyArray<[PullCause, RegExp]> = [
  ['rate-limited', /toomanyrequests|429 Too Many Requests|pull rate limit|rate limit exceeded/i],
  [
    'unauthorized',
    /401 Unauthorized|403 Forbidden|unauthorized|authentication required|pull access denied|no basic auth credentials|denied: requested access|failed to authorize|access denied/i,
  ],
  [
    'not-found',
    /not found: manifest unknown|manifest unknown|: not found$|: not found\b|repository does not exist|name unknown|404 Not Found/i,
  ],
  [
    'network',
    /i\/o timeout|context deadline exceeded|Client\.Timeout|TLS handshake timeout|no such host|server misbehaving|connection refused|network is unreachable|dial tcp|request canceled|EOF$/i,
  ],
];

const PULL_TEXT: Record<PullCause, [summary: string, hint: string]> = {
  'not-found': [
    'image or tag not found',
    'check the image name and tag in the pod spec: the registry has no such manifest',
  ],
  unauthorized: [
    'unauthorized: the registry refused the credentials',
    'check imagePullSecrets (present in this namespace, right registry, not expired) or the node role that pulls',
  ],
  'rate-limited': [
    'registry rate limit (toomanyrequests)',
    'authenticate pulls, use a mirror or pull-through cache; the kubelet retries on its own',
  ],
  network: [
    'registry unreachable (timeout or DNS)',
    'check DNS and egress from the node to the registry (proxy, firewall, private endpoint)',
  ],
  unknown: ['pull failed', 'read the kubelet message below'],
};

/** Classifies one kubelet pull-failure message (containerd or docker wording). */
export function classifyPullMessage(message: string): PullCause {
  // "pull access denied ... repository does not exist or may require authorization" is docker's
  // and containerd's wording for both: credentials are the likelier fix, so unauthorized wins.
  for (const [cause, re] of PULL_RULES) if (re.test(message)) return cause;
  return 'unknown';
}

export function imageOf(message: string): string | undefined {
  return /(?:pull(?:ing)? image|image) "([^"]+)"/i.exec(message)?.[1];
}

/** The newest pull failure of a container (its events' fieldPath names it), classified. */
export function diagnosePull(
  events: CoreV1Event[],
  container?: string,
  image?: string,
): PullDiagnosis | undefined {
  const failures = events
    .filter((e) => e.reason === 'Failed' && /Failed to pull image|ErrImagePull/i.test(e.message ?? ''))
    .filter((e) => e.message !== 'Error: ErrImagePull')
    .filter((e) => container === undefined || !e.involvedObject?.fieldPath || fieldPathNames(e, container))
    .sort((a, b) => eventTime(b) - eventTime(a));
  const newest = failures[0];
  const cause = newest ? classifyPullMessage(newest.message ?? '') : 'unknown';
  const [summary, hint] = PULL_TEXT[cause];
  const img = (newest && imageOf(newest.message ?? '')) ?? image;
  if (!newest && image === undefined) return undefined;
  return {
    cause,
    summary,
    hint,
    ...(img === undefined ? {} : { image: img }),
    ...(newest?.message ? { message: newest.message } : {}),
  };
}

function fieldPathNames(e: CoreV1Event, container: string): boolean {
  return new RegExp(`\\{${container.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\}$`).test(
    e.involvedObject?.fieldPath ?? '',
  );
}

export interface SchedulingDiagnosis {
  /** "0/6 nodes are available" */
  headline: string;
  /** One per cause, most nodes first: "2 Insufficient memory". */
  causes: Array<{ nodes: number; reason: string }>;
  unboundClaims: boolean;
  message: string;
  count: number;
}

/**
 * Splits the scheduler's message ("0/6 nodes are available: 1 node(s) had untolerated taint
 * {...}, 2 Insufficient memory. preemption: ...") into causes. Commas inside taints ({a: b, c: d})
 * are not separators.
 */
export function parseFailedScheduling(message: string): Omit<SchedulingDiagnosis, 'count'> {
  const main = message.split(/\.\s+preemption:/i)[0] ?? message;
  const m = /^(\d+\/\d+ nodes are available):?\s*(.*)$/s.exec(main.trim());
  const headline = m?.[1] ?? main.trim();
  const rest = (m?.[2] ?? '').replace(/\.$/, '');
  const causes: Array<{ nodes: number; reason: string }> = [];
  let depth = 0;
  let cur = '';
  const flush = () => {
    const part = cur.trim();
    cur = '';
    if (!part) return;
    const n = /^(\d+)\s+(.*)$/.exec(part);
    causes.push(n ? { nodes: Number(n[1]), reason: n[2] as string } : { nodes: 0, reason: part });
  };
  for (const ch of rest) {
    if (ch === '{' || ch === '[' || ch === '(') depth++;
    if (ch === '}' || ch === ']' || ch === ')') depth--;
    if (ch === ',' && depth === 0) flush();
    else cur += ch;
  }
  flush();
  causes.sort((a, b) => b.nodes - a.nodes);
  return {
    headline,
    causes,
    unboundClaims: /unbound (?:immediate )?PersistentVolumeClaims/i.test(message),
    message,
  };
}

/** The newest FailedScheduling event, parsed; the newest tells what blocks the pod now. */
export function diagnoseScheduling(events: CoreV1Event[]): SchedulingDiagnosis | undefined {
  const newest = events
    .filter((e) => e.reason === 'FailedScheduling')
    .sort((a, b) => eventTime(b) - eventTime(a))[0];
  if (!newest?.message) return undefined;
  return { ...parseFailedScheduling(newest.message), count: newest.count ?? newest.series?.count ?? 1 };
}

export interface ProbeFailure {
  probe: 'Liveness' | 'Readiness' | 'Startup';
  container: string | undefined;
  count: number;
  message: string;
  lastSeen: number;
}

/** Unhealthy events grouped by probe kind and container, most frequent first. */
export function probeFailures(events: CoreV1Event[]): ProbeFailure[] {
  const byKey = new Map<string, ProbeFailure>();
  for (const e of events) {
    if (e.reason !== 'Unhealthy') continue;
    const m = /^(Liveness|Readiness|Startup) probe (?:failed|errored):?\s*(.*)$/s.exec(e.message ?? '');
    if (!m) continue;
    const probe = m[1] as ProbeFailure['probe'];
    const container = /\{([^}]+)\}$/.exec(e.involvedObject?.fieldPath ?? '')?.[1];
    const key = `${probe}/${container ?? ''}`;
    const count = e.count ?? e.series?.count ?? 1;
    const at = eventTime(e);
    const prev = byKey.get(key);
    if (!prev) byKey.set(key, { probe, container, count, message: m[2] ?? '', lastSeen: at });
    else {
      prev.count += count;
      if (at > prev.lastSeen) Object.assign(prev, { message: m[2] ?? '', lastSeen: at });
    }
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen);
}
