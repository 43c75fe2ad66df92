// The published workflow types (sdk/workflow.d.ts) against the domain's schemas, checked by the
// compiler (npm run typecheck compiles this file), and the documented examples compiled against
// them with tsc the way an operator's editor would; a wrong workflow must fail to compile.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import type * as z from 'zod';
import type { CodeWorkflowResult, WorkflowBlock } from '../lib/domain/code-workflow.ts';
import type { Trigger } from '../lib/domain/config/schema.ts';
import type { Issue } from '../lib/domain/issue.ts';
import type { ReadableKind } from '../lib/domain/kube.ts';
import type * as Sdk from '../sdk/workflow.d.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');

// Compile-time checks: each line fails `npm run typecheck` when the SDK and the domain drift.
type Assignable<A, B> = [A] extends [B] ? true : false;
const checks: Array<true> = [
  // Every issue run-workflows hands over is an SDK Issue.
  true satisfies Assignable<Issue, Sdk.Issue>,
  // Everything the SDK lets a workflow return, the contract accepts, and the other way round.
  true satisfies Assignable<Sdk.WorkflowResult, z.input<typeof CodeWorkflowResult>>,
  true satisfies Assignable<Exclude<z.input<typeof CodeWorkflowResult>, undefined>, Sdk.WorkflowResult>,
  true satisfies Assignable<Sdk.WorkflowBlock, z.input<typeof WorkflowBlock>>,
  true satisfies Assignable<z.output<typeof WorkflowBlock>, Sdk.WorkflowBlock>,
  true satisfies Assignable<Sdk.Trigger, z.input<typeof Trigger>>,
  true satisfies Assignable<z.output<typeof Trigger>, Sdk.Trigger>,
  true satisfies Assignable<Sdk.ReadableKind, ReadableKind>,
  true satisfies Assignable<ReadableKind, Sdk.ReadableKind>,
];

const EXAMPLES = ['dashboard-link.ts', 'page-owner.ts'].map((f) => join(ROOT, 'docs/examples/workflows', f));

async function tsc(files: string[]): Promise<{ code: number; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'workflow-sdk-'));
  try {
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        lib: ['es2022'],
        module: 'esnext',
        moduleResolution: 'bundler',
        types: [],
        exactOptionalPropertyTypes: true,
        noUnusedLocals: true,
      },
      files,
    };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const r = await run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')]).then(
      (o) => ({ code: 0, out: o.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '' }),
    );
    return r;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('sdk: the SDK types match the domain schemas (checked at compile time)', (t) => {
  t.is(checks.length, 9);
});

test('sdk: the documented examples compile against sdk/workflow.d.ts with tsc', async (t) => {
  const r = await tsc(EXAMPLES);
  t.is(r.code, 0, r.out);
});

test('sdk: a workflow returning what the contract refuses does not compile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'workflow-sdk-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.ts');
  await writeFile(
    bad,
    `import type { Workflow } from '${join(ROOT, 'sdk/workflow')}';
const w: Workflow = {
  name: 'bad',
  triggers: [{ on: 'alert', severity: 'CRITICAL' }],
  run: (issue, ctx) => ({ severity: 'URGENT', blocks: [{ type: 'header', text: issue.title }], x: ctx.k8s.get({ kind: 'Secret', name: 'x' }) }),
};
export default w;
`,
  );
  const r = await tsc([bad]);
  t.not(r.code, 0);
  t.regex(r.out, /CRITICAL/);
  t.regex(r.out, /URGENT|header|Secret/);
});
