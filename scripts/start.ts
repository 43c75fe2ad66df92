// `npm start`: the whole pipeline on one machine. Each function runs as its own process and
// the local broker routes between them by the Trigger manifests in knative/, over real HTTP.
// Defaults need nothing: no REDIS_URL -> memory store, no Slack token -> terminal output,
// no cluster -> enrichers note "no cluster access".
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { DESTINATION_FUNCTIONS, FUNCTIONS, type FunctionName } from '../lib/platform/functions.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { startLocalBroker } from './broker/broker.ts';
import { loadKnativeWiring, parseIsoDuration, subscriberName, withDelivery } from './broker/triggers.ts';
import { DEMO_CONFIG_FILE, demoOptions, startDemo } from './demo/index.ts';
import { previewPort, startPreviewServer } from './preview/server.ts';

const root = resolve(import.meta.dirname, '..');
type Fn = FunctionName;

const env = process.env;
const log = createLogger({ name: 'pipeline' });
const webhookPort = Number(env.PORT ?? 8080);
const brokerPort = Number(env.BROKER_PORT ?? 8081);
const host = env.HOST ?? '127.0.0.1';
const deadLetterFile = resolve(env.DEAD_LETTER_FILE ?? resolve(root, '.local/dead-letters.jsonl'));
const pretty = env.LOG_FORMAT ? env.LOG_FORMAT === 'pretty' : process.stdout.isTTY === true;

const ports = new Map<Fn, number>();
const children = new Map<Fn, ChildProcess>();
let stopping = false;

// `--demo`: the functions read a recorded cluster from a stand-in API server (scripts/demo/).
const demo = process.argv.includes('--demo')
  ? await startDemo(demoOptions(env, (line) => console.log(line)))
  : undefined;
if (demo) env.KUBECONFIG = demo.kubeconfigPath;
// ...and graphs from its recorded Prometheus series, with the demo's configuration unless one is set.
if (demo) {
  env.PROMETHEUS_URL = demo.prometheusUrl;
  env.CONFIG_FILE ??= DEMO_CONFIG_FILE;
}

// The preview page (scripts/preview/): the terminal destination's messages as Slack shows them.
// A busy port only loses the page, never the pipeline.
const previewAt = previewPort(env.PREVIEW_PORT);
const preview =
  previewAt === undefined
    ? undefined
    : await startPreviewServer({ port: previewAt, host: '127.0.0.1', log }).catch((err: unknown) => {
        log.warn({ err }, `preview page not started on port ${previewAt}`);
        return undefined;
      });
if (preview) {
  env.PREVIEW_URL = preview.ingestUrl;
  env.PREVIEW_TOKEN = preview.token;
}

const wiring = await loadKnativeWiring();
// Local-only knobs for tests and experiments: shorter backoff or fewer retries than the manifests.
const deliveryPatch: { backoffDelayMs?: number; retry?: number } = {};
if (env.LOCAL_BROKER_BACKOFF_DELAY)
  deliveryPatch.backoffDelayMs = parseIsoDuration(env.LOCAL_BROKER_BACKOFF_DELAY);
if (env.LOCAL_BROKER_RETRIES) deliveryPatch.retry = Number(env.LOCAL_BROKER_RETRIES);
// The incident destination functions run only when the config file names their type; the
// broker then delivers to their Triggers alone (a Trigger without its function would dead-letter).
const configured = env.CONFIG_FILE
  ? new Set(parseConfig(await readFile(env.CONFIG_FILE, 'utf8'), env).destinations.map((d) => d.type))
  : new Set<string>();
const running = FUNCTIONS.filter((f) => {
  const type = DESTINATION_FUNCTIONS[f];
  return type === undefined || configured.has(type);
});
const wired = wiring.triggers.filter((t) => (running as readonly string[]).includes(subscriberName(t)));
const triggers = Object.keys(deliveryPatch).length ? withDelivery(wired, deliveryPatch) : wired;
const broker = await startLocalBroker({
  port: brokerPort,
  host,
  triggers,
  deadLetterFile,
  log,
  resolveSubscriber: (trigger) => {
    const port = ports.get(subscriberName(trigger) as Fn);
    // A function that is restarting has no port: the delivery fails and is retried, as in Knative.
    return `http://${host}:${port ?? 1}/`;
  },
});

/** Function log lines are JSON; on a terminal they are shortened so the rendered messages stand out. */
function relay(name: Fn, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) {
  const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line) => {
    if (!pretty || !line.startsWith('{')) return void out.write(`${line}\n`);
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string } };
      if (rec.level === 'debug' || rec.level === 'trace') return;
      const extra = rec.err?.message ? ` (${rec.err.message})` : '';
      out.write(`\x1b[2m[${name}] ${rec.level ?? ''} ${rec.msg ?? ''}${extra}\x1b[0m\n`);
    } catch {
      out.write(`${line}\n`);
    }
  });
}

function startFunction(name: Fn): Promise<number> {
  return new Promise((resolveReady, reject) => {
    const childEnv: NodeJS.ProcessEnv = {
      ...env,
      PORT: name === 'alert-ingest' ? String(webhookPort) : '0',
      HOST: host,
      K_SERVICE: name,
      K_SINK: broker.url,
    };
    const child = spawn(process.execPath, [resolve(root, 'lib/platform/runtime/cli.ts'), name], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    children.set(name, child);
    relay(name, child.stdout as NodeJS.ReadableStream, process.stdout);
    relay(name, child.stderr as NodeJS.ReadableStream, process.stderr);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'listening' && typeof m.port === 'number') {
        ports.set(name, m.port);
        resolveReady(m.port);
      }
    });
    child.on('exit', (code, signal) => {
      ports.delete(name);
      if (stopping) return;
      log.error({ fn: name, code, signal }, 'function exited; restarting');
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
      setTimeout(
        () => startFunction(name).catch((err) => log.error({ err, fn: name }, 'restart failed')),
        500,
      );
    });
  });
}

async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping the pipeline');
  await Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          c.once('exit', () => done());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
  await broker.close();
  await demo?.close();
  await preview?.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('disconnect', () => void stop('parent disconnected'));

try {
  await Promise.all(running.map(startFunction));
} catch (err) {
  log.fatal({ err }, 'the pipeline could not start');
  await stop('startup failure');
}
const webhook = `http://${host}:${ports.get('alert-ingest')}/`;
process.send?.({
  type: 'ready',
  webhook,
  broker: broker.url,
  preview: preview?.url,
  ports: Object.fromEntries(ports),
  pids: Object.fromEntries([...children].map(([n, c]) => [n, c.pid])),
});
// Tests ask for the current process ids (a function may have been restarted since).
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'pids') {
    process.send?.({ type: 'pids', pids: Object.fromEntries([...children].map(([n, c]) => [n, c.pid])) });
  }
});
const lines = [
  'kubeincident pipeline is running',
  `  Alertmanager webhook: ${webhook}`,
  `  Broker ingress:       ${broker.url}`,
  `  Dead letters:         ${deadLetterFile}`,
  `  Preview page:         ${preview ? `${preview.url} (the messages as Slack shows them)` : 'off'}`,
  `  Redis:                ${env.REDIS_URL ? env.REDIS_URL.replace(/\/\/[^@]*@/, '//***@') : 'none (in-memory state)'}`,
  `  Slack:                ${env.SLACK_BOT_TOKEN ? `channel ${env.SLACK_CHANNEL ?? '?'}` : 'none (messages print here)'}`,
  `  Kubernetes:           ${demo ? "the demo's recorded cluster (scripts/demo/cluster/)" : (env.KUBECONFIG ?? 'default kubeconfig if present, else no cluster access')}`,
  demo
    ? "Demo: sending the recorded cluster's alerts and Events"
    : 'Send a sample alert:  npm run sample-alert',
];
console.log(lines.join('\n'));
demo?.fire(webhook, broker.url).then(
  () => console.log('demo: done; the pipeline keeps running (Ctrl-C to stop)'),
  (err: unknown) => log.error({ err }, 'demo: sending its alerts and Events failed'),
);
