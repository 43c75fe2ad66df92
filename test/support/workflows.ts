// Runs workflow source text the way run-workflows does (compile, load, run, apply), for tests
// that state a workflow inline. Limits default to generous values a loaded machine meets.

import { createEnginePool, type EnginePool } from '../../lib/adapters/sandbox/engine.ts';
import { inProcessSandbox, type Sandbox, type SandboxLimits } from '../../lib/adapters/sandbox/sandbox.ts';
import type { Issue } from '../../lib/domain/issue.ts';
import type { KubeReader } from '../../lib/domain/kube.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { type LoadedWorkflow, loadWorkflowFile } from '../../lib/stages/workflows/catalog.ts';
import type { HostDeps } from '../../lib/stages/workflows/host.ts';
import { runWorkflows, type WorkflowsResult } from '../../lib/stages/workflows/run.ts';

export const GENEROUS: SandboxLimits = {
  timeoutMs: 10_000,
  memoryBytes: 32 * 1024 * 1024,
  resultBytes: 64 * 1024,
};

export const shared = inProcessSandbox(createEnginePool());

export async function loadSource(
  source: string,
  file = 'test.ts',
  sandbox: Sandbox = shared,
): Promise<LoadedWorkflow> {
  const loaded = await loadWorkflowFile(file, source, sandbox);
  if ('problem' in loaded) throw new Error(`${file}: ${loaded.problem}`);
  return loaded;
}

export interface RunOptions {
  limits?: Partial<SandboxLimits>;
  kube?: KubeReader;
  prometheus?: HostDeps['prometheus'];
  allowHosts?: Record<string, string[]>;
  allowLoopback?: boolean;
  apiServerHosts?: string[];
  mentionIds?: string[];
  engines?: EnginePool;
  sandbox?: Sandbox;
}

/** A workflow that triggers on every alert: `export default { name, triggers, run }` around `body`. */
export function alertWorkflow(name: string, runBody: string, prelude = ''): string {
  return `${prelude}
export default {
  name: '${name}',
  triggers: [{ on: 'alert' }],
  async run(issue: any, ctx: any) {
${runBody}
  },
};`;
}

export async function runSources(
  issue: Issue,
  sources: string[],
  opts: RunOptions = {},
): Promise<WorkflowsResult> {
  const sandbox = opts.sandbox ?? (opts.engines ? inProcessSandbox(opts.engines) : shared);
  const workflows: LoadedWorkflow[] = [];
  for (const [i, s] of sources.entries()) workflows.push(await loadSource(s, `w${i}.ts`, sandbox));
  return runWorkflows(
    issue,
    workflows,
    sandbox,
    {
      kube: opts.kube,
      prometheus: opts.prometheus,
      fetchPolicy: {
        allowLoopback: opts.allowLoopback ?? false,
        apiServer: { hosts: opts.apiServerHosts ?? [] },
        timeoutMs: 5000,
        maxBodyBytes: 1024 * 1024,
      },
      log: createLogger({ name: 'test', level: 'silent' }),
    },
    {
      limits: { ...GENEROUS, ...opts.limits },
      mentionIds: new Set(opts.mentionIds ?? []),
      allowHosts: opts.allowHosts ?? {},
    },
    new Date('2026-03-01T10:05:00Z'),
  );
}

/** The one-line notes run-workflows left on the issue. */
export function notesOf(issue: Issue): string[] {
  const notes = issue.enrichments.find((e) => e.source === 'run-workflows');
  const list = notes?.blocks[0];
  return list?.type === 'list' ? list.items : [];
}
