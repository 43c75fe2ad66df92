// Runs Debian's real Alertmanager (prometheus-alertmanager) on a free port with a webhook
// receiver, and fires or resolves alerts through its v2 API, as Prometheus would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.ts';

export interface AlertmanagerOptions {
  webhookUrl: string;
  bearerToken?: string;
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
  binary?: string;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface RunningAlertmanager {
  url: string;
  fire(alerts: PostableAlert[]): Promise<void>;
  /** Resolves alerts by posting them with endsAt in the past, as Prometheus does. */
  resolve(alerts: PostableAlert[]): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'alertmanager-'));
  const port = await freePort();
  const auth = opts.bearerToken
    ? `\n        http_config:\n          authorization:\n            credentials: ${JSON.stringify(opts.bearerToken)}`
    : '';
  const config = `route:
  receiver: kubeincident
  group_by: ['alertname', 'namespace']
  group_wait: ${opts.groupWait ?? '1s'}
  group_interval: ${opts.groupInterval ?? '1s'}
  repeat_interval: ${opts.repeatInterval ?? '2s'}
receivers:
  - name: kubeincident
    webhook_configs:
      - url: ${JSON.stringify(opts.webhookUrl)}
        send_resolved: true${auth}
`;
  await writeFile(join(dir, 'alertmanager.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    opts.binary ?? 'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A missing binary is an 'error' event: thrown below as a plain failure (so the test's
  // teardown still stops what it started), never an uncaught exception.
  let spawnError: Error | undefined;
  child.on('error', (err) => {
    spawnError = err;
  });
  child.stdout?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (spawnError)
      throw new Error(
        `cannot start ${opts.binary ?? 'prometheus-alertmanager'} (bash .ci/run installs it): ${spawnError.message}`,
      );
    if (child.exitCode !== null) throw new Error(`alertmanager exited: ${log.slice(-2000)}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // starting
    }
    if (Date.now() > deadline) throw new Error(`alertmanager not ready: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const post = async (alerts: PostableAlert[]) => {
    const res = await fetch(`${url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    if (!res.ok) throw new Error(`alertmanager rejected alerts: ${res.status} ${await res.text()}`);
  };
  return {
    url,
    // Like Prometheus, always send startsAt: without it Alertmanager takes endsAt as the start.
    fire: (alerts) =>
      post(
        alerts.map((a) => ({
          ...a,
          startsAt: a.startsAt ?? new Date().toISOString(),
          endsAt: a.endsAt ?? new Date(Date.now() + 3600_000).toISOString(),
        })),
      ),
    resolve: (alerts) =>
      post(
        alerts.map((a) => ({
          ...a,
          startsAt: a.startsAt ?? new Date(Date.now() - 2000).toISOString(),
          endsAt: new Date(Date.now() - 1000).toISOString(),
        })),
      ),
    output: () => log,
    async stop() {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
