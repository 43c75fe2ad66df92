// The workflows of the configured directory, compiled and checked, reloaded live as the config
// file is (lib/domain/config/load.ts): a watch on the directory (a ConfigMap volume swaps a
// `..data` symlink) backed by polling. A file that fails to compile or to define a workflow is
// logged and counted; the others keep running. An unchanged file is not compiled again.
import { readdir, readFile, watch } from 'node:fs';
import { join } from 'node:path';
import type { Sandbox, SandboxLimits } from '../../adapters/sandbox/sandbox.ts';
import { CodeWorkflowDefinition } from '../../domain/code-workflow.ts';
import type { Logger } from '../../platform/logger.ts';
import { formatZodError } from '../../platform/zod.ts';
import { compileWorkflow, DEFINE_ENTRY } from './guest.ts';

export interface LoadedWorkflow extends CodeWorkflowDefinition {
  file: string;
  /** The guest script: the transpiled module, ready for RUN_ENTRY. */
  script: string;
}

export interface LoadProblem {
  file: string;
  problem: string;
}

export interface CatalogOptions {
  directory: string;
  sandbox: Sandbox;
  log: Logger;
  pollMs: number;
  /** Called for every file that fails (metrics). */
  onProblem?: (p: LoadProblem) => void;
}

export interface Catalog {
  /** The workflows in file-name order. */
  current(): readonly LoadedWorkflow[];
  problems(): readonly LoadProblem[];
  reload(): Promise<void>;
  close(): void;
}

/**
 * Loading a file (its top level and the definition it exports) is limited by the CPU time it
 * takes, not wall-clock time: a workflow that is fine must not be refused because the machine
 * was busy at load. No host calls happen at load, so the thread's CPU time is the guest's own; a
 * top level that spins holds the sandbox for 5 s of CPU, once per change. The wall-clock limit
 * is only a generous backstop (a paused or starved process), well past any busy spell.
 */
export const LOAD_LIMITS: SandboxLimits = {
  cpuTimeoutMs: 5000,
  timeoutMs: 60_000,
  memoryBytes: 16 * 1024 * 1024,
  resultBytes: 64 * 1024,
};

const readText = (path: string) =>
  new Promise<string>((resolve, reject) => readFile(path, 'utf8', (e, d) => (e ? reject(e) : resolve(d))));
const listDir = (dir: string) =>
  new Promise<string[]>((resolve, reject) => readdir(dir, (e, d) => (e ? reject(e) : resolve(d))));

/** One file to a workflow, or why not. */
export async function loadWorkflowFile(
  file: string,
  source: string,
  sandbox: Sandbox,
  limits: SandboxLimits = LOAD_LIMITS,
): Promise<LoadedWorkflow | LoadProblem> {
  let script: string;
  try {
    script = compileWorkflow(source, file);
  } catch (err) {
    return { file, problem: `does not compile: ${(err as Error).message.split('\n')[0]}` };
  }
  const host = { calls: {}, log: () => {} };
  const out = await sandbox.run(`${script}\n${DEFINE_ENTRY}`, null, host, limits);
  if (!out.ok) return { file, problem: `does not load: ${out.message}` };
  const def = CodeWorkflowDefinition.safeParse(out.value);
  if (!def.success) return { file, problem: `invalid workflow: ${formatZodError(def.error)}` };
  return { ...def.data, file, script };
}

export async function openCatalog(opts: CatalogOptions): Promise<Catalog> {
  let workflows: LoadedWorkflow[] = [];
  let problems: LoadProblem[] = [];
  const cache = new Map<string, { source: string; result: LoadedWorkflow | LoadProblem }>();

  const load = async () => {
    let names: string[];
    try {
      names = (await listDir(opts.directory)).filter((n) => n.endsWith('.ts') && !n.startsWith('.')).sort();
    } catch (err) {
      opts.log.warn(
        { directory: opts.directory, err },
        'workflow directory unreadable: keeping the workflows',
      );
      return;
    }
    const nextWorkflows: LoadedWorkflow[] = [];
    const nextProblems: LoadProblem[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const file = join(opts.directory, name);
      let source: string;
      try {
        source = await readText(file);
      } catch {
        continue; // Removed between the listing and the read: the next reload settles it.
      }
      const cached = cache.get(file);
      const result =
        cached?.source === source ? cached.result : await loadWorkflowFile(name, source, opts.sandbox);
      cache.set(file, { source, result });
      if ('problem' in result) nextProblems.push(result);
      else if (seen.has(result.name))
        nextProblems.push({ file: name, problem: `a second workflow named ${result.name}` });
      else {
        seen.add(result.name);
        nextWorkflows.push(result);
      }
    }
    for (const key of cache.keys())
      if (!names.some((n) => join(opts.directory, n) === key)) cache.delete(key);
    const changed =
      nextWorkflows.map((w) => w.file + w.script).join('\0') !==
      workflows.map((w) => w.file + w.script).join('\0');
    const newProblems = nextProblems.filter(
      (p) => !problems.some((q) => q.file === p.file && q.problem === p.problem),
    );
    for (const p of newProblems) {
      opts.log.error({ file: p.file, problem: p.problem }, 'workflow not loaded: the others keep running');
      opts.onProblem?.(p);
    }
    workflows = nextWorkflows;
    problems = nextProblems;
    if (changed) opts.log.info({ workflows: workflows.map((w) => w.name) }, 'workflows loaded');
  };

  let loading: Promise<void> | undefined;
  let again = false;
  const reload = (): Promise<void> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  await reload();
  const closers: Array<() => void> = [];
  try {
    const watcher = watch(opts.directory, () => void reload());
    watcher.unref();
    closers.push(() => watcher.close());
  } catch {
    // Polling below still picks changes up.
  }
  const timer = setInterval(() => void reload(), opts.pollMs);
  timer.unref();
  closers.push(() => clearInterval(timer));
  return {
    current: () => workflows,
    problems: () => problems,
    reload,
    close: () => {
      for (const c of closers) c();
    },
  };
}
