// The function bundles as the bench starts them: the peers they talk to (a real redis-server, the
// Slack stand-in over TLS, the Kubernetes API stand-in, a sink answering 202), each one's
// environment as its Knative Service sets it, a first event of the kind it handles, and one cold
// start (spawn to ready, spawn to first event handled, idle RSS after it).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import {
  startJiraStandin,
  startPagerDutyStandin,
  startTeamsStandin,
  startWebhookStandin,
} from '../../test/support/incident-standins.ts';
import { makeCertificates, startKubeStandin } from '../../test/support/kube-standin.ts';
import { startRedisServer } from '../../test/support/redis-server.ts';
import { startSlackStandin } from '../../test/support/slack-standin.ts';
import { deployedEnv, freePort, msSince, rssMiB, type Started, spawnServer, stop } from './procs.ts';

const root = resolve(import.meta.dirname, '../..');

export const webhook = readFileSync(
  resolve(root, 'test/fixtures/alertmanager/crashlooping-firing.json'),
  'utf8',
);

export function ceRequest(type: string, data: unknown): RequestInit {
  const msg = HTTP.binary(new CloudEvent({ type, source: '/bench', data }));
  return { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string };
}

function issueFor(kind: 'Pod' | 'Node', stage: string) {
  const podSubject = { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments', container: 'app' };
  return {
    id: `bench-${kind}`,
    fingerprint: `bench-${kind}`,
    type: 'alert',
    source: 'prometheus',
    title: 'Pod is crash looping.',
    severity: 'LOW',
    status: 'firing',
    subject: kind === 'Pod' ? podSubject : { kind: 'Node', name: 'worker-1' },
    labels: { alertname: 'KubePodCrashLooping', namespace: 'payments' },
    annotations: {},
    links: [],
    startsAt: new Date().toISOString(),
    enrichments: [],
    plan: stage === 'dispatch' ? ['dispatch'] : [stage, 'dispatch'],
  };
}

const warningEvent = () => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: {
    name: 'api.1',
    namespace: 'payments',
    uid: 'u1',
    resourceVersion: '1',
    creationTimestamp: new Date().toISOString(),
  },
  involvedObject: { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments', uid: 'p1' },
  reason: 'BackOff',
  message: 'Back-off restarting failed container app',
  type: 'Warning',
  count: 3,
  firstTimestamp: new Date().toISOString(),
  lastTimestamp: new Date().toISOString(),
});

/** The i-th event of the kind `fn` handles (dispatch-slack's are each a new alert). */
export function fnRequest(fn: string, i = 0): RequestInit {
  switch (fn) {
    case 'alert-ingest':
      return { method: 'POST', headers: { 'content-type': 'application/json' }, body: webhook };
    case 'k8s-event-ingest':
      return ceRequest('dev.knative.apiserver.resource.update', warningEvent());
    case 'enrich-pod':
      return ceRequest('dev.kubeincident.issue.created.v1', issueFor('Pod', 'enrichpod'));
    case 'enrich-node':
      return ceRequest('dev.kubeincident.issue.created.v1', issueFor('Node', 'enrichnode'));
    case 'enrich-metrics':
      return ceRequest('dev.kubeincident.issue.created.v1', issueFor('Pod', 'enrichmetrics'));
    default:
      return ceRequest('dev.kubeincident.issue.created.v1', {
        ...issueFor('Pod', 'dispatch'),
        fingerprint: `fp-${i}-${Date.now()}`,
      });
  }
}

export interface FunctionPeers {
  /** Each function's environment, as its Service sets it, pointed at these peers. */
  env: Record<string, NodeJS.ProcessEnv>;
  /** The sink alert-ingest sends to: a bare server answering 202. */
  sink: Started;
  sinkUrl: string;
}

/**
 * Starts the peers in `dir` (certificates go there); whatever started is pushed onto `stops`,
 * also when a later one fails. `sinkServer` is the bare server file that plays the sink.
 */
export async function startFunctionPeers(
  dir: string,
  sinkServer: string,
  stops: Array<() => Promise<unknown>>,
): Promise<FunctionPeers> {
  const redis = await startRedisServer();
  stops.push(() => redis.stop());
  // Slack is https, as slack.com is: dispatch-slack's figures include the TLS every real call pays.
  const slackCerts = await makeCertificates(dir);
  const slack = await startSlackStandin({ tls: { key: slackCerts.serverKey, cert: slackCerts.serverCert } });
  stops.push(() => slack.close());
  const kube = await startKubeStandin();
  stops.push(() => kube.close());
  const sinkPort = freePort();
  const sink = await spawnServer(sinkServer, { STATUS: '202' }, sinkPort, '/');
  stops.push(() => stop(sink.child));
  const K_SINK = `http://127.0.0.1:${sinkPort}/`;
  const env: Record<string, NodeJS.ProcessEnv> = {
    'alert-ingest': { ...deployedEnv('alert-ingest'), K_SINK },
    // As deployed (knative/config.yaml): its fold periods live in Redis, so ioredis loads too.
    'k8s-event-ingest': { ...deployedEnv('k8s-event-ingest'), REDIS_URL: redis.url },
    'enrich-pod': { ...deployedEnv('enrich-pod'), KUBECONFIG: kube.kubeconfigPath },
    'enrich-node': { ...deployedEnv('enrich-node'), KUBECONFIG: kube.kubeconfigPath },
    // No Prometheus here: it parses, moves the plan on and replies (scripts/bench/metrics.ts draws).
    'enrich-metrics': deployedEnv('enrich-metrics'),
    'dispatch-slack': {
      ...deployedEnv('dispatch-slack'),
      REDIS_URL: redis.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: 'C0ALERTS',
      SLACK_API_URL: slack.url,
      NODE_EXTRA_CA_CERTS: slackCerts.caPath,
    },
  };
  Object.assign(env, await incidentPeers(dir, redis.url, slackCerts, stops));
  return { env, sink, sinkUrl: K_SINK };
}

/**
 * The incident destination functions' services over TLS (as the real ones are), and a config
 * file routing every issue to all four: each function's figures include its service's calls.
 */
async function incidentPeers(
  dir: string,
  redisUrl: string,
  certs: { serverKey: string; serverCert: string; caPath: string },
  stops: Array<() => Promise<unknown>>,
): Promise<Record<string, NodeJS.ProcessEnv>> {
  const tls = { key: certs.serverKey, cert: certs.serverCert };
  const secret = `whsec_${Buffer.from('bench-shared-secret').toString('base64')}`;
  const routingKey = 'R0UTINGKEYbench0123456789abcdefg';
  const hook = await startWebhookStandin(secret, tls);
  stops.push(() => hook.close());
  const pd = await startPagerDutyStandin(routingKey, tls);
  stops.push(() => pd.close());
  const teams = await startTeamsStandin(tls);
  stops.push(() => teams.close());
  const jira = await startJiraStandin('OPS', tls);
  stops.push(() => jira.close());
  const config = join(dir, 'destinations.yaml');
  writeFileSync(
    config,
    [
      'destinations:',
      `  - {name: hook, type: webhook, url: "${hook.url}/in", secret: "${secret}"}`,
      `  - {name: pd, type: pagerduty, apiUrl: "${pd.url}", routingKey: "${routingKey}"}`,
      `  - {name: sre, type: teams, url: "${teams.webhookUrl}"}`,
      `  - {name: ops, type: jira, url: "${jira.url}", email: "${jira.email}", apiToken: "${jira.token}", project: OPS}`,
      'defaultRoute: {destinations: [hook, pd, sre, ops]}',
    ].join('\n'),
  );
  const env: Record<string, NodeJS.ProcessEnv> = {};
  for (const fn of ['dispatch-webhook', 'dispatch-pagerduty', 'dispatch-teams', 'dispatch-jira'])
    env[fn] = {
      ...deployedEnv(fn),
      REDIS_URL: redisUrl,
      CONFIG_FILE: config,
      NODE_EXTRA_CA_CERTS: certs.caPath,
    };
  return env;
}

export interface StartFigures {
  readyMs: number;
  firstEventMs: number;
  /**
   * CPU time the process's main thread had run when its first event was answered: the start-up's
   * own work, steadier than the wall-clock figures when other processes share the CPUs.
   */
  mainCpuMs: number;
  rssMiB: number;
}

/** CPU time a process's main thread has run (Linux schedstat, in ns), in ms. */
function mainThreadCpuMs(pid: number | undefined): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/**
 * One cold start of `file`: spawn to ready, spawn to its first event answered, and its RSS 300 ms
 * after that event (once the runtime's idle release, 250 ms after the last event, has run).
 */
export async function startOnce(
  name: string,
  file: string,
  env: NodeJS.ProcessEnv,
  request: (() => RequestInit) | undefined,
  readyPath?: string,
  cwd?: string,
): Promise<StartFigures> {
  const port = freePort();
  const s = await spawnServer(file, env, port, readyPath, cwd);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, request?.() ?? { method: 'POST', body: '{}' });
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`${name}: first event answered ${res.status}`);
    const firstEventMs = msSince(s.spawnedAt);
    const mainCpuMs = mainThreadCpuMs(s.child.pid);
    await new Promise((r) => setTimeout(r, 300));
    return { readyMs: s.readyMs, firstEventMs, mainCpuMs, rssMiB: rssMiB(s.child.pid) };
  } finally {
    await stop(s.child);
  }
}
