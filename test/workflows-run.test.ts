// The workflow contract as run-workflows applies it: what a run may return and what each part
// does to the issue, what an invalid result leaves, ctx's reads through the function's own
// Kubernetes client (the stand-in API server), and no handle leaked across runs (ctx.prometheus:
// workflows-prometheus.test.ts).
import debugSync from '@jitl/quickjs-wasmfile-debug-sync';
import test from 'ava';
import type { QuickJSSyncVariant } from 'quickjs-emscripten-core';
import { createKubeReader } from '../lib/adapters/k8s/client.ts';
import { createEnginePool } from '../lib/adapters/sandbox/engine.ts';
import { leakedRuns } from '../lib/adapters/sandbox/sandbox.ts';
import { DEFAULT_CONFIG } from '../lib/domain/config/defaults.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { Issue } from '../lib/domain/issue.ts';
import type { KubeReader } from '../lib/domain/kube.ts';
import { makeIssue } from './support/issue-factory.ts';
import { type KubeStandin, startKubeStandin } from './support/kube-standin.ts';
import { alertWorkflow, notesOf, runSources } from './support/workflows.ts';

let kube: KubeStandin;
let reader: KubeReader;
test.before(async () => {
  kube = await startKubeStandin();
  reader = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: 10_000 });
});
test.after.always(async () => {
  await kube?.close();
});

const issue = makeIssue();

test('workflows: every block type, a verdict and a severity change reach the issue, which stays valid', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow(
      'all-blocks',
      `return {
        title: 'Checks', verdict: 'api is down in payments', severity: 'HIGH',
        blocks: [
          { type: 'markdown', text: 'Owner: payments' },
          { type: 'table', headers: ['a', 'b'], rows: [['1', '2']] },
          { type: 'list', title: 'Steps', items: ['one', 'two'] },
          { type: 'json', title: 'Raw', data: { n: 1 } },
          { type: 'links', links: [{ type: 'graph', title: 'Dashboard', url: 'https://grafana.example.com/d/x' }] },
          { type: 'file', filename: 'notes.txt', content: 'hello' },
        ],
      };`,
    ),
  ]);
  t.is(r.issue.severity, 'HIGH');
  const e = r.issue.enrichments.find((x) => x.source === 'workflow:all-blocks');
  t.is(e?.title, 'Checks');
  t.is(e?.verdict, 'api is down in payments');
  t.deepEqual(
    e?.blocks.map((b) => b.type),
    ['markdown', 'table', 'list', 'json', 'links', 'file'],
  );
  t.true(Issue.safeParse(r.issue).success);
  t.deepEqual(notesOf(r.issue), []);
  t.deepEqual(
    r.records.map((x) => [x.workflow, x.outcome]),
    [['all-blocks', 'ok']],
  );
});

test('workflows: mentions keep only configured IDs; the others are left out with a note', async (t) => {
  const r = await runSources(
    issue,
    [
      alertWorkflow(
        'page',
        "return { mentions: { users: ['U0123ABCD', 'U9999ZZZZ'], groups: ['S0456EFGH'] } };",
      ),
    ],
    { mentionIds: ['U0123ABCD', 'S0456EFGH'] },
  );
  t.deepEqual(r.issue.actions?.mentions, { users: ['U0123ABCD'], groups: ['S0456EFGH'] });
  t.deepEqual(notesOf(r.issue), ['page may not mention U9999ZZZZ (not in codeWorkflows.mentionIds)']);
});

test('workflows: "drop" silences the issue and later workflows do not run', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow('quiet', "return issue.labels.alertname === 'KubePodCrashLooping' ? 'drop' : null;"),
    alertWorkflow('never', "return { blocks: [{ type: 'markdown', text: 'ran' }] };"),
  ]);
  t.is(r.droppedBy, 'quiet');
  t.deepEqual(
    r.records.map((x) => x.workflow),
    ['quiet'],
  );
});

test('workflows: an invalid result is one note, counted, and the next workflow still runs on the issue', async (t) => {
  const r = await runSources(issue, [
    alertWorkflow('bad', "return { severity: 'CRITICAL', blocks: [{ type: 'header', text: 'x' }] };"),
    alertWorkflow('thrower', "throw new Error('no luck\\nsecond line');"),
    alertWorkflow('good', "return { blocks: [{ type: 'markdown', text: 'still here' }] };"),
  ]);
  const notes = notesOf(r.issue);
  t.is(notes.length, 2);
  t.regex(notes[0] ?? '', /^bad returned an invalid result: /);
  t.false((notes[0] ?? '').includes('\n'));
  t.regex(notes[1] ?? '', /^thrower failed: Error: no luck/);
  t.deepEqual(
    r.records.map((x) => x.outcome),
    ['invalid', 'error', 'ok'],
  );
  t.is(r.issue.severity, issue.severity);
  t.truthy(r.issue.enrichments.find((e) => e.source === 'workflow:good'));
});

test('workflows: only workflows whose triggers match run; each sees the issue as the previous left it', async (t) => {
  const events = `export default { name: 'events-only', triggers: [{ on: 'event', reason: 'BackOff' }], run: () => ({ severity: 'DEBUG' }) };`;
  const r = await runSources(issue, [
    events,
    alertWorkflow('first', "return { severity: 'LOW' };"),
    alertWorkflow('second', "return { blocks: [{ type: 'markdown', text: 'saw ' + issue.severity }] };"),
  ]);
  t.deepEqual(
    r.records.map((x) => x.workflow),
    ['first', 'second'],
  );
  const block = r.issue.enrichments.find((e) => e.source === 'workflow:second')?.blocks[0];
  t.deepEqual(block, { type: 'markdown', text: 'saw LOW' });
});

test('workflows: ctx.k8s reads objects, lists by label selector and tails logs through the function client', async (t) => {
  const r = await runSources(
    issue,
    [
      alertWorkflow(
        'reads',
        `const ns = await ctx.k8s.get({ kind: 'Namespace', name: 'payments' });
         const pods = await ctx.k8s.list({ kind: 'Pod', namespace: 'payments', labelSelector: 'app.kubernetes.io/name=api' });
         const log = await ctx.k8s.logs({ namespace: 'payments', pod: 'api-7d9f8b6c5d-x2x4q', previous: true, tailLines: 2 });
         let secret = 'none';
         try { await ctx.k8s.get({ kind: 'Secret', name: 'x', namespace: 'payments' }); } catch (e) { secret = String(e.message); }
         return { blocks: [{ type: 'list', items: [ns.metadata.annotations['kubeincident.dev/owner-team'], pods.items.map((p) => p.metadata.name).join(','), String(log.split('\\n').filter(Boolean).length), secret] }] };`,
      ),
    ],
    { kube: reader },
  );
  t.deepEqual(notesOf(r.issue), []);
  const items = r.issue.enrichments.find((e) => e.source === 'workflow:reads')?.blocks[0];
  t.is(items?.type, 'list');
  const [team, pods, lines, secret] = items?.type === 'list' ? items.items : [];
  t.is(team, 'payments-oncall');
  t.is(pods, 'api-7d9f8b6c5d-x2x4q');
  t.is(lines, '2');
  t.regex(secret ?? '', /^kind must be one of /);
  const paths = kube.requests.map((q) => q.path);
  t.true(paths.includes('/api/v1/namespaces/payments'));
  t.true(
    kube.requests.some(
      (q) =>
        q.path === '/api/v1/namespaces/payments/pods' &&
        q.query.labelSelector === 'app.kubernetes.io/name=api',
    ),
  );
  t.false(paths.some((p) => p.includes('secrets')));
});

// Serial: its spinning runs hold this process's event loop for their time limit, which would
// stall the other tests' HTTP calls (run-workflows answers one event at a time per worker).
test.serial(
  'workflows: no handle leaks across runs that succeed, throw, time out, run out of memory or leave host calls pending',
  async (t) => {
    // The debug build of the engine asserts, when a runtime is freed, that nothing in it leaked;
    // a leak would make the free fail and mark the engine broken.
    const variant = debugSync as unknown as QuickJSSyncVariant & { default?: QuickJSSyncVariant };
    const engines = createEnginePool({ variant: variant.default ?? variant });
    const sources = [
      alertWorkflow('ok', "return { blocks: [{ type: 'markdown', text: 'x' }] };"),
      alertWorkflow('throws', "throw new TypeError('boom');"),
      // The debug build has no fixed maximum (engine.ts): QuickJS's own count of allocations stops this.
      alertWorkflow('grows', 'const a: unknown[] = []; for (;;) a.push({ n: a.length });'),
      alertWorkflow(
        'pending',
        "ctx.k8s.get({ kind: 'Pod', name: 'slow', namespace: 'payments' }); ctx.log.info('left a call running'); return null;",
      ),
      alertWorkflow(
        'reads',
        "const p = await ctx.k8s.get({ kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments' }); return { blocks: [{ type: 'markdown', text: p.metadata.name }] };",
      ),
    ];
    const spin = [alertWorkflow('spins', 'for (;;) {}')];
    for (let round = 0; round < 3; round++) {
      // A reader of its own each round: the stand-in closes idle keep-alive connections, and this
      // test pauses longer than that between rounds.
      const fresh = await createKubeReader({ kubeconfigPath: kube.kubeconfigPath, timeoutMs: 10_000 });
      const r = await runSources(issue, sources, {
        engines,
        kube: fresh,
        limits: { timeoutMs: 15_000, memoryBytes: 256 * 1024 },
      });
      t.deepEqual(
        r.records.map((x) => x.outcome),
        ['ok', 'error', 'memory', 'ok', 'ok'],
        notesOf(r.issue).join(' | '),
      );
      const s = await runSources(issue, spin, { engines, limits: { timeoutMs: 300 } });
      t.deepEqual(
        s.records.map((x) => x.outcome),
        ['timeout'],
      );
    }
    t.is(leakedRuns(), 0);
  },
);

test('workflows: ingest plans the workflows stage before dispatch only when a directory is configured', (t) => {
  const pod = makeIssue({ subject: { kind: 'Pod', name: 'api-7d9f8b6c5d-x2x4q', namespace: 'payments' } });
  const on = parseConfig('codeWorkflows:\n  directory: /etc/kubeincident-workflows\n', {});
  const planned = planIssue(pod, on);
  t.deepEqual(planned.issue?.plan, ['enrichpod', 'workflows', 'dispatch']);
  const off = planIssue(pod, DEFAULT_CONFIG);
  t.deepEqual(off.issue?.plan, ['enrichpod', 'dispatch']);
  // A resolution only edits its thread: no workflows.
  const resolved = planIssue({ ...pod, status: 'resolved' }, on);
  t.deepEqual(resolved.issue?.plan, ['dispatch']);
});
