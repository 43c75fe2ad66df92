// The enrich-metrics bundle draws with node alone: chart.cjs, resvg's .node file and the font
// beside main.cjs, no node_modules in reach, against a real Prometheus holding the last hours.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CloudEvent as CE, HTTP } from 'cloudevents';
import { PNG } from 'pngjs';
import type { ImageBlock, Issue } from '../lib/domain/issue.ts';
import { decodeCloudEvent } from '../lib/platform/cloudevents/decode.ts';
import { buildFunction } from '../scripts/build.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type SeriesSpec, startPrometheus } from './support/prometheus.ts';

const PROBE = fileURLToPath(new URL('./support/module-probe.cjs', import.meta.url));
const Mi = 1024 * 1024;

test('enrich-metrics bundle: an OOM-killed pod gets its memory graph and figures from the bundle alone', async (t) => {
  const kill = Math.floor(Date.now() / 1000 / 60) * 60 - 20 * 60;
  const labels = { namespace: 'shop', pod: 'cart-0', container: 'app' };
  const points: Array<[number, number]> = [];
  for (let s = kill - 2 * 3600; s <= kill; s += 60) points.push([s, (250 - (60 * (kill - s)) / 3600) * Mi]);
  const series: SeriesSpec[] = [
    { name: 'container_memory_working_set_bytes', labels, points },
    {
      name: 'kube_pod_container_resource_limits',
      labels: { ...labels, resource: 'memory' },
      points: points.map(([s]) => [s, 256 * Mi]),
    },
  ];
  const prom = await startPrometheus(series);
  const out = await mkdtemp(join(tmpdir(), 'metrics-bundle-'));
  let child: ChildProcess | undefined;
  t.teardown(async () => {
    child?.kill('SIGKILL');
    await prom.stop();
    await rm(out, { recursive: true, force: true });
  });
  const entry = await buildFunction('enrich-metrics', out);
  t.deepEqual(
    (await readdir(dirname(entry)))
      .filter((f) => /\.(node|ttf)$/.test(f))
      .map((f) => f.replace(/-[A-Z0-9]+\.node$/, '.node')),
    ['DejaVuSans.ttf', 'resvgjs.linux-x64-gnu.node'],
  );
  t.false(existsSync(join(tmpdir(), 'node_modules')), 'no node_modules in reach of the bundle');
  const config = join(out, 'workflows.yaml');
  await writeFile(config, 'prometheus:\n  enabled: true\n  memory: { before: 2h, after: 10m }\n');
  child = spawn(process.execPath, ['-r', PROBE, entry], {
    cwd: dirname(entry),
    env: {
      PATH: '/usr/bin:/bin',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CONFIG_FILE: config,
      PROMETHEUS_URL: prom.url,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const proc = child;
  const port = await new Promise<number>((resolve, reject) => {
    proc.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'listening' && m.port) resolve(m.port);
    });
    proc.once('exit', (code) => reject(new Error(`bundle exited with ${code}`)));
  });
  const issue = makeIssue({
    title: 'Pod shop/cart-0 OOMKilled',
    subject: { kind: 'Pod', ...{ name: 'cart-0', namespace: 'shop', container: 'app' } },
    labels: { alertname: 'KubePodOOMKilled', namespace: 'shop', pod: 'cart-0', container: 'app' },
    startsAt: new Date(kill * 1000).toISOString(),
    plan: ['enrichmetrics', 'dispatch'],
  });
  const msg = HTTP.binary(new CE({ type: 'dev.kubeincident.issue.created.v1', source: '/t', data: issue }));
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  t.is(res.status, 200);
  const reply = decodeCloudEvent(Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
  t.is(reply.nextstage, 'dispatch');
  const metrics = (reply.data as Issue).enrichments.find((e) => e.source === 'enrich-metrics');
  t.is(metrics?.verdict, 'Memory of cart-0/app peaked at 250Mi of its 256Mi limit, grew 60Mi/h over 2h');
  const img = metrics?.blocks.find((b): b is ImageBlock => b.type === 'image');
  const png = PNG.sync.read(Buffer.from(img?.data ?? '', 'base64'));
  t.is(png.width, 1200);
});
