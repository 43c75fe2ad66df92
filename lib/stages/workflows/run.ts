// Runs the workflows whose triggers match an issue, one after another in file-name order, each
// in its own sandbox run, and folds their results into the issue. A workflow that throws, times
// out, runs out of memory or returns what the contract refuses leaves one line on the issue and
// the rest goes on: the message still goes out. "drop" ends it: the issue is not sent.
import type { Sandbox, SandboxLimits } from '../../adapters/sandbox/sandbox.ts';
import { applyResult, CodeWorkflowResult, withNotes } from '../../domain/code-workflow.ts';
import { workflowTriggerMatches } from '../../domain/config/match.ts';
import { ISSUE_LIMITS, type Issue } from '../../domain/issue.ts';
import { formatZodError } from '../../platform/zod.ts';
import type { LoadedWorkflow } from './catalog.ts';
import { RUN_ENTRY, type RunInput } from './guest.ts';
import { type HostDeps, workflowHost } from './host.ts';

export type RunOutcome = 'ok' | 'drop' | 'timeout' | 'memory' | 'error' | 'too-large' | 'invalid';

export interface RunRecord {
  workflow: string;
  outcome: RunOutcome;
  ms: number;
  /** The one line noted on the issue when the run failed. */
  note?: string;
}

export interface RunSettings {
  limits: SandboxLimits;
  mentionIds: ReadonlySet<string>;
  allowHosts: Readonly<Record<string, readonly string[]>>;
}

export interface WorkflowsResult {
  /** The issue with every result applied and a note per failure (unset when dropped). */
  issue: Issue;
  /** The workflow that dropped the issue. */
  droppedBy?: string;
  records: RunRecord[];
}

const NOTE_LIMIT = 300;

function describe(outcome: RunOutcome, message: string, limits: SandboxLimits): string {
  if (outcome === 'timeout') return `timed out after ${limits.timeoutMs} ms`;
  if (outcome === 'memory') {
    const limit =
      limits.memoryBytes >= 1048576
        ? `${Math.round(limits.memoryBytes / 1048576)} MiB`
        : `${limits.memoryBytes >> 10} KiB`;
    return `${message} (limit ${limit})`;
  }
  if (outcome === 'too-large') return message;
  if (outcome === 'invalid') return `returned an invalid result: ${message}`;
  return `failed: ${message}`;
}

/** One workflow's run, its result checked against the contract (also `npm run workflow -- test`). */
export async function runWorkflow(
  w: LoadedWorkflow,
  issue: Issue,
  sandbox: Sandbox,
  deps: Omit<HostDeps, 'allowHosts'>,
  settings: RunSettings,
  now: Date,
): Promise<{ record: RunRecord; result?: CodeWorkflowResult }> {
  const started = performance.now();
  const input: RunInput = {
    issue,
    workflow: w.name,
    now: now.toISOString(),
    prometheus: deps.prometheus !== undefined,
  };
  const host = workflowHost({ ...deps, allowHosts: settings.allowHosts[w.name] ?? [] }, w.name);
  const out = await sandbox.run(`${w.script}\n${RUN_ENTRY}`, input, host, settings.limits);
  const ms = performance.now() - started;
  const fail = (outcome: RunOutcome, message: string) => ({
    record: {
      workflow: w.name,
      outcome,
      ms,
      note: `${w.name} ${describe(outcome, message, settings.limits)}`.slice(0, NOTE_LIMIT),
    },
  });
  if (!out.ok) return fail(out.kind, out.message);
  const parsed = CodeWorkflowResult.safeParse(out.value);
  if (!parsed.success) return fail('invalid', formatZodError(parsed.error).replace(/\s+/g, ' '));
  return {
    record: { workflow: w.name, outcome: parsed.data === 'drop' ? 'drop' : 'ok', ms },
    result: parsed.data,
  };
}

export async function runWorkflows(
  issue: Issue,
  workflows: readonly LoadedWorkflow[],
  /** Compiles the engine at its first use: an issue no workflow wants never loads it. */
  sandbox: Sandbox,
  deps: Omit<HostDeps, 'allowHosts'>,
  settings: RunSettings,
  now: Date = new Date(),
): Promise<WorkflowsResult> {
  const records: RunRecord[] = [];
  const notes: string[] = [];
  let current = issue;
  let added = 0;
  for (const w of workflows) {
    if (!w.triggers.some((t) => workflowTriggerMatches(t, issue))) continue;
    const { record, result } = await runWorkflow(w, current, sandbox, deps, settings, now);
    records.push(record);
    if (record.note) notes.push(record.note);
    if (result === 'drop') return { issue: current, droppedBy: w.name, records };
    if (result === undefined || result === null) continue;
    const applied = applyResult(current, w.name, result, settings.mentionIds);
    const size =
      JSON.stringify(applied.issue.enrichments).length - JSON.stringify(current.enrichments).length;
    if (added + size > ISSUE_LIMITS.enrichmentBytes) {
      record.outcome = 'too-large';
      notes.push(
        `${w.name} returned blocks past the ${ISSUE_LIMITS.enrichmentBytes / 1024} KiB all workflows share`,
      );
      continue;
    }
    added += size;
    current = applied.issue;
    if (applied.refused.length > 0) {
      notes.push(
        `${w.name} may not mention ${applied.refused.join(', ')} (not in codeWorkflows.mentionIds)`.slice(
          0,
          NOTE_LIMIT,
        ),
      );
    }
  }
  return { issue: withNotes(current, notes), records };
}
