// ctx.prometheus of a workflow against a real Prometheus (series backfilled by promtool), through
// run-workflows as a function: the config file's `prometheus:` section applies as it does to
// enrich-metrics (its label matchers in the query Prometheus ran, its bearer token, basic auth
// and tenant header at the authenticating gateway in front), with PROMETHEUS_URL as the fallback.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CloudEvent } from 'cloudevents';
import type { Issue } from '../lib/domain/issue.ts';
import { createLogger } from '../lib/platform/logger.ts';
import type { InvocationContext } from '../lib/platform/runtime/types.ts';
import { createWorkflowsFunction } from '../lib/stages/workflows/function.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type PrometheusServer, startPrometheus } from './support/prometheus.ts';
import { alertWorkflow, notesOf } from './support/workflows.ts';

const T = Date.parse('2026-03-01T10:00:00Z') / 1000;
const points = (v: number): Array<[number, number]> =>
  Array.from({ length: 31 }, (_, m) => [T - 30 * 60 + m * 60, v]);

let prom: PrometheusServer;
let dir: string;
test.before(async () => {
  // The same job in two clusters of a shared Prometheus: only the matcher keeps prod-us out.
  prom = await startPrometheus([
    { name: 'up', labels: { job: 'api', namespace: 'payments', cluster: 'prod-eu' }, points: points(1) },
    { name: 'up', labels: { job: 'api', namespace: 'payments', cluster: 'prod-us' }, points: points(0) },
  ]);
  dir = await mkdtemp(join(tmpdir(), 'workflows-prometheus-'));
  await mkdir(join(dir, 'workflows'));
  await writeFile(
    join(dir, 'workflows', 'prom.ts'),
    alertWorkflow(
      'prom',
      `if (!ctx.prometheus) return { blocks: [{ type: 'markdown', text: 'no prometheus' }] };
       let text = '';
       try {
         const d = await ctx.prometheus.query('up{job="api"}', { time: ${T} });
         text = d.resultType + ' ' + d.result.map((r: any) => r.metric.cluster + '=' + r.value[1]).join(',');
       } catch (e) { text = (e as Error).message; }
       let bad = '';
       try { await ctx.prometheus.query('sum((', { time: ${T} }); } catch (e) { bad = (e as Error).message; }
       return { blocks: [{ type: 'markdown', text: text + ' | ' + bad }] };`,
    ),
  );
});
test.after.always(async () => {
  await prom?.stop();
  await rm(dir, { recursive: true, force: true });
});

const ctx = () =>
  ({
    log: createLogger({ level: 'silent' }),
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  }) as unknown as InvocationContext;

/** What the `prom` workflow wrote, run by a run-workflows with this config file and env. */
async function runWith(name: string, prometheusYaml: string, env: Record<string, string> = {}) {
  const config = join(dir, `${name}.yaml`);
  await writeFile(config, `codeWorkflows:\n  directory: ${join(dir, 'workflows')}\n${prometheusYaml}`);
  const fn = createWorkflowsFunction({ CONFIG_FILE: config, LOG_LEVEL: 'silent', HOME: dir, ...env });
  try {
    await fn.init?.();
    const issue = makeIssue({ plan: ['workflows', 'dispatch'] });
    const event = new CloudEvent({ type: 'dev.kubeincident.issue.enriched.v1', source: '/t', data: issue });
    const reply = (await fn.handle(ctx(), event)) as CloudEvent<Issue>;
    const data = reply.data as Issue;
    const block = data.enrichments.find((e) => e.source === 'workflow:prom')?.blocks[0];
    return block?.type === 'markdown' ? block.text : notesOf(data).join(' ');
  } finally {
    await fn.shutdown?.();
  }
}

/** The proxy in front of a secured Prometheus or Mimir: 401 without its credentials, else passed on. */
async function gateway(authorization: string, tenant: string) {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers.authorization !== authorization || req.headers['x-scope-orgid'] !== tenant) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('no valid credentials\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r = await fetch(`${prom.url}${req.url}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        body: Buffer.concat(chunks),
      });
      res
        .writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' })
        .end(await r.text());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => server.close(),
  };
}

test.serial(
  'workflows: ctx.prometheus carries the config section bearer token, tenant header and cluster matchers',
  async (t) => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'prom-token\n');
    const gw = await gateway('Bearer prom-token', 'tenant-a');
    try {
      const text = await runWith(
        'bearer',
        `prometheus:\n  url: ${gw.url}\n  bearerTokenFile: ${tokenFile}\n  headers: { X-Scope-OrgID: tenant-a }\n  matchers: ['cluster="prod-eu"']\n`,
      );
      const [answer, bad] = text.split(' | ');
      t.is(answer, 'vector prod-eu=1');
      // With matchers, the client parses the expression first (to add them) and refuses it itself.
      t.is(bad, 'prometheus query: cannot parse the expression near position 5');
      t.true((await prom.queryLog()).includes('up{cluster="prod-eu",job="api"}'));
      t.is(gw.seen.length, 1); // The unparsable query never left the function.
      t.true(
        gw.seen.every((h) => h.authorization === 'Bearer prom-token' && h['x-scope-orgid'] === 'tenant-a'),
      );

      await writeFile(tokenFile, 'expired-token\n');
      const refused = await runWith(
        'bearer-expired',
        `prometheus:\n  url: ${gw.url}\n  bearerTokenFile: ${tokenFile}\n  headers: { X-Scope-OrgID: tenant-a }\n`,
      );
      t.true(refused.startsWith('prometheus unauthorized: HTTP 401 |'), refused);
    } finally {
      gw.close();
    }
  },
);

test.serial('workflows: ctx.prometheus sends the config section basic auth', async (t) => {
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 's3cret\n');
  const gw = await gateway(`Basic ${Buffer.from('agent:s3cret').toString('base64')}`, 'tenant-b');
  try {
    const text = await runWith(
      'basic',
      `prometheus:\n  url: ${gw.url}\n  basicAuth: { username: agent, passwordFile: ${passwordFile} }\n  headers: { X-Scope-OrgID: tenant-b }\n`,
    );
    // No matchers here: both clusters' series come back, and Prometheus itself refuses `sum((`.
    const [answer, bad] = text.split(' | ');
    t.is(answer, 'vector prod-eu=1,prod-us=0');
    t.regex(bad ?? '', /^prometheus query: invalid parameter "query": .*parse error/);
  } finally {
    gw.close();
  }
});

test.serial(
  'workflows: PROMETHEUS_URL is the fallback when the section has no url, with the section matchers still added',
  async (t) => {
    const text = await runWith('fallback', `prometheus:\n  matchers: ['cluster="prod-us"']\n`, {
      PROMETHEUS_URL: prom.url,
    });
    t.is(text.split(' | ')[0], 'vector prod-us=0');
    t.true((await prom.queryLog()).includes('up{cluster="prod-us",job="api"}'));
    // The section's url wins over PROMETHEUS_URL, as in enrich-metrics.
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const wins = await runWith('section-wins', `prometheus:\n  url: ${prom.url}\n`, {
      PROMETHEUS_URL: unreachable,
    });
    t.is(wins.split(' | ')[0], 'vector prod-eu=1,prod-us=0');
    // Neither: workflows have no ctx.prometheus.
    t.is(await runWith('none', ''), 'no prometheus');
  },
);

test.serial(
  'workflows: settings the client cannot use (an unreadable CA file) fail each query with the reason',
  async (t) => {
    const text = await runWith(
      'bad-ca',
      `prometheus:\n  url: https://prometheus.invalid\n  caFile: ${join(dir, 'missing-ca.pem')}\n`,
    );
    t.regex(text, /^Prometheus settings unusable: .*missing-ca\.pem/);
  },
);

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
