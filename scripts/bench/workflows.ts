// Figures for the TypeScript workflows (`npm run bench -- --only workflows`):
//   - the overhead of one sandboxed run (p50, p99) of the documented dashboard-link workflow,
//     against the same workflow's run() called directly in Node (no sandbox), in this process;
//   - run-workflows' cold start with 20 workflows in its directory (spawn to ready, spawn to its
//     first event answered, which runs them), against enrich-node's cold start from its bundle.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createEnginePool } from '../../lib/adapters/sandbox/engine.ts';
import { inProcessSandbox } from '../../lib/adapters/sandbox/sandbox.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { loadWorkflowFile } from '../../lib/stages/workflows/catalog.ts';
import { runWorkflows } from '../../lib/stages/workflows/run.ts';
import { ceRequest, startOnce } from './functions.ts';
import { deployedEnv, median } from './procs.ts';

const root = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(root, 'docs/examples/workflows/dashboard-link.ts');
const ISSUE = join(root, 'docs/examples/workflows/issue.json');

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const ms = (x: number) => Math.round(x * 1000) / 1000;

async function perRun(runs: number): Promise<Array<Record<string, string | number>>> {
  const issue = JSON.parse(await readFile(ISSUE, 'utf8')) as Issue;
  const sandbox = inProcessSandbox(createEnginePool());
  const loaded = await loadWorkflowFile('dashboard-link.ts', await readFile(EXAMPLE, 'utf8'), sandbox);
  if ('problem' in loaded) throw new Error(loaded.problem);
  const deps = {
    kube: undefined,
    prometheus: undefined,
    fetchPolicy: { allowLoopback: false, apiServer: { hosts: [] }, timeoutMs: 1000, maxBodyBytes: 1 << 20 },
    log: createLogger({ name: 'bench', level: 'silent' }),
  };
  const settings = {
    limits: { timeoutMs: 2000, memoryBytes: 32 << 20, resultBytes: 64 << 10 },
    mentionIds: new Set<string>(),
    allowHosts: {},
  };
  const sandboxed: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const t = performance.now();
    const r = await runWorkflows(issue, [loaded], sandbox, deps, settings);
    if (r.records[0]?.outcome !== 'ok') throw new Error(`run ${i}: ${r.records[0]?.note}`);
    if (i >= 20) sandboxed.push(performance.now() - t);
  }
  // The baseline: the same module imported by Node and its run() called directly.
  const direct = (await import(EXAMPLE)).default as { run(issue: Issue): unknown };
  const native: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const t = performance.now();
    await direct.run(structuredClone(issue));
    if (i >= 20) native.push(performance.now() - t);
  }
  const row = (what: string, xs: number[]) => ({
    what,
    runs: xs.length,
    p50ms: ms(percentile(xs, 50)),
    p99ms: ms(percentile(xs, 99)),
  });
  const s = row('dashboard-link in the sandbox (run-workflows)', sandboxed);
  const n = row('baseline: its run() called directly in Node', native);
  return [
    { ...s, p50ratio: Math.round(s.p50ms / Math.max(n.p50ms, 0.001)) },
    { ...n, p50ratio: 1 },
  ];
}

/** 20 workflow files: the two documented examples and 18 variants of dashboard-link. */
async function writeWorkflows(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const base = await readFile(EXAMPLE, 'utf8');
  await writeFile(
    join(dir, 'page-owner.ts'),
    await readFile(join(root, 'docs/examples/workflows/page-owner.ts'), 'utf8'),
  );
  for (let i = 0; i < 19; i++) {
    await writeFile(
      join(dir, `dashboard-${String(i).padStart(2, '0')}.ts`),
      base.replace("name: 'dashboard-link'", `name: 'dashboard-link-${i}'`),
    );
  }
}

async function coldStarts(
  dir: string,
  runs: number,
  bundleOf: (fn: string) => Promise<string>,
): Promise<Array<Record<string, string | number>>> {
  const wfDir = join(dir, 'bench-workflows');
  await writeWorkflows(wfDir);
  const config = join(dir, 'bench-workflows.yaml');
  await writeFile(config, `codeWorkflows:\n  directory: ${wfDir}\n`);
  const issue = JSON.parse(await readFile(ISSUE, 'utf8'));
  const out: Array<Record<string, string | number>> = [];
  const measure = async (name: string, fn: string, env: NodeJS.ProcessEnv, data: unknown) => {
    const bundle = await bundleOf(fn);
    const figures = [];
    for (let i = 0; i < runs; i++) {
      figures.push(
        await startOnce(
          name,
          bundle,
          { ...deployedEnv(fn), ...env },
          () => ceRequest('dev.kubeincident.issue.created.v1', data),
          undefined,
          dir,
        ),
      );
    }
    out.push({
      function: name,
      readyMs: Math.round(median(figures.map((f) => f.readyMs))),
      firstEventMs: Math.round(median(figures.map((f) => f.firstEventMs))),
      rssMiB: Math.round(median(figures.map((f) => f.rssMiB))),
    });
  };
  await measure(
    'baseline: enrich-node (no cluster)',
    'enrich-node',
    {},
    { ...issue, subject: { kind: 'Node', name: 'worker-1' }, plan: ['enrichnode', 'dispatch'] },
  );
  // Its page-owner workflow reads a namespace: without a cluster it notes "no cluster access", as
  // enrich-node's baseline does; the 19 dashboard workflows run in full.
  await measure('run-workflows, 20 workflows loaded', 'run-workflows', { CONFIG_FILE: config }, issue);
  const [b, w] = out as [Record<string, number>, Record<string, number>];
  w.readyRatio = Math.round(((w.readyMs as number) / (b.readyMs as number)) * 100) / 100;
  w.firstEventRatio = Math.round(((w.firstEventMs as number) / (b.firstEventMs as number)) * 100) / 100;
  return out;
}

export async function benchWorkflows(opts: {
  quick: boolean;
  tiny: boolean;
  dir: string;
  /** The function's bundle: the one the bench built already, else built now. */
  bundle: (fn: string) => Promise<string>;
}): Promise<Array<Record<string, string | number>>> {
  const runs = opts.tiny ? 20 : opts.quick ? 300 : 2000;
  const starts = opts.tiny ? 1 : opts.quick ? 2 : 5;
  return [...(await perRun(runs)), ...(await coldStarts(opts.dir, starts, opts.bundle))];
}
