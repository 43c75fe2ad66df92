// Escape attempts against the workflow sandbox: each is a real workflow file, run the way
// run-workflows runs it, that must fail to reach the host. What it returns (or the note its
// failure leaves) shows what it saw.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { addressProblem, hostAllowed } from '../lib/adapters/sandbox/guarded-fetch.ts';
import { makeIssue } from './support/issue-factory.ts';
import { alertWorkflow, loadSource, notesOf, runSources } from './support/workflows.ts';

const SECRET = 'xoxb-sandbox-escape-test-0123456789';
const issue = makeIssue();

/** The markdown text a workflow returned as its single block. */
function returned(result: Awaited<ReturnType<typeof runSources>>): string {
  const e = result.issue.enrichments.find((x) => x.source.startsWith('workflow:'));
  const b = e?.blocks[0];
  return b?.type === 'markdown' ? b.text : `(no block; notes: ${notesOf(result.issue).join(' | ')})`;
}
const report = (expr: string) => `return { blocks: [{ type: 'markdown', text: String(${expr}) }] };`;

let server: Server;
let hits = 0;
let port = 0;
test.before(async () => {
  process.env.SLACK_BOT_TOKEN = SECRET;
  server = createServer((_req, res) => {
    hits++;
    res.end('reached');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
test.after.always(() => {
  delete process.env.SLACK_BOT_TOKEN;
  server?.close();
});

test('sandbox: no process object, so neither the environment nor SLACK_BOT_TOKEN', async (t) => {
  const r = await runSources(issue, [alertWorkflow('env', report('typeof process'))]);
  t.is(returned(r), 'undefined');
  const r2 = await runSources(issue, [
    alertWorkflow('token', 'return { blocks: [{ type: "markdown", text: process.env.SLACK_BOT_TOKEN }] };'),
  ]);
  t.regex(notesOf(r2.issue)[0] ?? '', /^token failed: ReferenceError: .*process/);
  t.false(JSON.stringify(r2.issue).includes(SECRET));
});

test('sandbox: the global object holds only the language, no host names', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'globals',
      report(
        `Object.getOwnPropertyNames(globalThis).filter((k) => /^(process|require|module|exports|Buffer|fetch|setTimeout|setInterval|console|std|os|Date|__hostcall|__hostlog)$/.test(k)).join(',') || 'none'`,
      ),
    ),
  ]);
  t.is(returned(r), 'none');
});

test('sandbox: require fails at load when at the top of a file, and at run inside run()', async (t) => {
  const err = await t.throwsAsync(
    loadSource(
      `import { readFileSync } from 'node:fs';\nconst read = readFileSync;\n${alertWorkflow('fs', 'return read("/etc/hostname");')}`,
    ),
  );
  t.regex(err.message, /does not load: ReferenceError: .*require/);
  const r = await runSources(issue, [
    alertWorkflow('cp', "const cp = require('child_process'); return cp.execSync('id');"),
  ]);
  t.regex(notesOf(r.issue)[0] ?? '', /^cp failed: ReferenceError: .*require/);
});

test('sandbox: import() finds no module loader', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'dyn',
      "const fs = await import('node:fs'); return { blocks: [{ type: 'markdown', text: String(fs.readFileSync('/etc/hostname')) }] };",
    ),
  ]);
  t.regex(notesOf(r.issue)[0] ?? '', /^dyn failed: .*(require|module)/);
  // Not through the transpiler either: the engine itself has no loader.
  const raw = await runSources(issue, [alertWorkflow('dyn2', 'return eval("import(\'fs\')");')]);
  t.regex(notesOf(raw.issue)[0] ?? '', /^dyn2 failed: ReferenceError: could not load module 'fs'/);
});

test('sandbox: the Function constructor of ctx functions builds guest functions only', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'ctor',
      report(`[
        ctx.k8s.get.constructor('return typeof process')(),
        typeof ctx.fetch.constructor.constructor('return this')().require,
        ctx.log.info.constructor === Function,
        Object.getPrototypeOf(ctx) === Object.prototype,
      ].join(' ')`),
    ),
  ]);
  t.is(returned(r), 'undefined undefined true true');
});

test('sandbox: prototype pollution through a returned value reaches neither the host nor the issue', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'proto',
      `const data = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "kept": 1}');
       const out = JSON.parse('{"__proto__": {"polluted": "yes"}, "blocks": [{"type": "json", "data": null}]}');
       out.blocks[0].data = data;
       return out;`,
    ),
  ]);
  t.is(({} as Record<string, unknown>).polluted, undefined);
  t.is((Object.prototype as unknown as Record<string, unknown>).polluted, undefined);
  const block = r.issue.enrichments.find((e) => e.source === 'workflow:proto')?.blocks[0];
  t.is(block?.type, 'json');
  const data = block?.type === 'json' ? (block.data as Record<string, unknown>) : {};
  t.false(Object.hasOwn(data, '__proto__'));
  t.is(Object.getPrototypeOf(data), Object.prototype);
  t.is(data.kept, 1);
});

test('sandbox: fetch to the metadata address is refused even when allow-listed', async (t) => {
  const r = await runSources(
    issue,
    [
      alertWorkflow(
        'meta',
        "const a = await ctx.fetch('http://169.254.169.254/latest/meta-data/iam/'); return { blocks: [{ type: 'markdown', text: a.body }] };",
      ),
    ],
    { allowHosts: { meta: ['169.254.169.254'] } },
  );
  t.regex(
    notesOf(r.issue)[0] ?? '',
    /^meta failed: Error: 169\.254\.169\.254 is a link-local or metadata address/,
  );
});

test('sandbox: fetch to the API server is refused by name and by address', async (t) => {
  const byName = await runSources(
    issue,
    [alertWorkflow('api', "await ctx.fetch('https://kubernetes.default.svc/api/v1/secrets'); return null;")],
    { allowHosts: { api: ['kubernetes.default.svc'] } },
  );
  t.regex(notesOf(byName.issue)[0] ?? '', /kubernetes\.default\.svc is the cluster API server/);
  const byAddress = await runSources(
    issue,
    [alertWorkflow('api2', "await ctx.fetch('https://10.96.0.1/api/v1/secrets'); return null;")],
    { allowHosts: { api2: ['10.96.0.1'] }, apiServerHosts: ['10.96.0.1'] },
  );
  t.regex(notesOf(byAddress.issue)[0] ?? '', /10\.96\.0\.1 is the cluster API server/);
});

test('sandbox: fetch resolves the name and refuses a loopback address unless allowed', async (t) => {
  const src = alertWorkflow(
    'loop',
    `const a = await ctx.fetch('http://localhost:${port}/'); return { blocks: [{ type: 'markdown', text: a.body }] };`,
  );
  hits = 0;
  const refused = await runSources(issue, [src], { allowHosts: { loop: ['localhost'] } });
  t.regex(notesOf(refused.issue)[0] ?? '', /localhost resolves to a loopback address/);
  t.is(hits, 0);
  const notListed = await runSources(issue, [src], { allowLoopback: true });
  t.regex(notesOf(notListed.issue)[0] ?? '', /localhost is not in this workflow's allowHosts/);
  const allowed = await runSources(issue, [src], {
    allowHosts: { loop: ['localhost'] },
    allowLoopback: true,
  });
  t.is(returned(allowed), 'reached');
  t.is(hits, 1);
});

test('sandbox: a CPU bomb is interrupted at the time limit and the next run is unaffected', async (t) => {
  const r = await runSources(
    issue,
    [alertWorkflow('spin', 'for (;;) {}'), alertWorkflow('after', report("'fine'"))],
    {
      limits: { timeoutMs: 300 },
    },
  );
  t.deepEqual(notesOf(r.issue), ['spin timed out after 300 ms']);
  t.is(returned(r), 'fine');
});

test('sandbox: a memory bomb stops at the memory limit', async (t) => {
  const r = await runSources(
    issue,
    [
      alertWorkflow(
        'grow',
        "const a: unknown[] = []; for (;;) a.push({ n: a.length, s: 'x'.repeat(64) + a.length });",
      ),
    ],
    {
      limits: { memoryBytes: 8 * 1024 * 1024 },
    },
  );
  t.regex(notesOf(r.issue)[0] ?? '', /^grow ran out of memory \(limit 8 MiB\)$/);
  const deep = await runSources(issue, [
    alertWorkflow('deep', 'const f = (n: number): number => f(n + 1) + 1; return f(0);'),
  ]);
  t.regex(notesOf(deep.issue)[0] ?? '', /^deep stack overflow/);
});

test('sandbox: a workflow awaiting forever is ended at the deadline, its host call abandoned', async (t) => {
  const r = await runSources(
    issue,
    [
      alertWorkflow(
        'hang',
        `await ctx.fetch('http://127.0.0.1:9/never', {}); await new Promise(() => {}); return null;`,
      ),
    ],
    { limits: { timeoutMs: 300 }, allowHosts: { hang: ['127.0.0.1'] }, allowLoopback: true },
  );
  // Either the connection is refused (a note saying so) or it never settles: never a hang.
  t.is(notesOf(r.issue).length, 1);
  const forever = await runSources(issue, [
    alertWorkflow('forever', 'await new Promise(() => {}); return null;'),
  ]);
  t.deepEqual(notesOf(forever.issue), ['forever failed: never settled its promise']);
});

test('sandbox: a result larger than the limit is refused with a note', async (t) => {
  const r = await runSources(
    issue,
    [alertWorkflow('big', "return { blocks: [{ type: 'markdown', text: 'x'.repeat(100000) }] };")],
    {
      limits: { resultBytes: 10_000 },
    },
  );
  t.regex(notesOf(r.issue)[0] ?? '', /^big returned \d+ characters of JSON, more than 10000$/);
  t.falsy(r.issue.enrichments.find((e) => e.source === 'workflow:big'));
});

test('sandbox: a workflow replacing JSON.stringify changes only what it sees itself', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'json',
      `JSON.stringify = () => '{"severity": "HIGH"';
       return { blocks: [{ type: 'markdown', text: 'real' }] };`,
    ),
  ]);
  t.is(returned(r), 'real');
  t.is(r.issue.severity, issue.severity);
});

test('sandbox: no clock but ctx.now()', async (t) => {
  const r = await runSources(issue, [alertWorkflow('clock', report("typeof Date + ' ' + ctx.now()"))]);
  t.is(returned(r), 'undefined 2026-03-01T10:05:00.000Z');
});

test('sandbox: the address rules refuse metadata and link-local in every spelling, and allow-lists match whole names', (t) => {
  const policy = { allowLoopback: false, apiServer: { hosts: ['10.96.0.1'] } };
  for (const a of [
    '169.254.169.254',
    '::ffff:169.254.169.254',
    'fd00:ec2::254',
    'fe80::1',
    '100.100.100.200',
    '0.0.0.0',
    '::',
  ]) {
    t.truthy(addressProblem(a, policy), a);
  }
  t.is(addressProblem('127.0.0.1', policy), 'a loopback address');
  t.is(addressProblem('::1', { ...policy, allowLoopback: true }), undefined);
  t.is(addressProblem('10.96.0.1', policy), 'the cluster API server');
  t.is(addressProblem('93.184.215.14', policy), undefined);
  t.true(hostAllowed('grafana.example.com', ['grafana.example.com']));
  t.true(hostAllowed('eu.grafana.example.com', ['*.grafana.example.com']));
  t.false(hostAllowed('grafana.example.com', ['*.grafana.example.com']));
  t.false(hostAllowed('evilgrafana.example.com', ['*.grafana.example.com']));
  t.false(hostAllowed('grafana.example.com.evil.io', ['grafana.example.com']));
});
