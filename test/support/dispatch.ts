// dispatchIssue for tests that read its result directly: "come back later" (a result of the
// dispatcher) is thrown as ComeBackLater, carrying the Retry-After dispatch-slack would answer,
// so a test states it as it states any other refusal.
import type { Issue } from '../../lib/domain/issue.ts';
import {
  type DispatchDeps,
  type DispatchResult,
  dispatchIssue,
} from '../../lib/stages/dispatch/dispatcher.ts';
import { isLater } from '../../lib/stages/dispatch/outcome.ts';

export class ComeBackLater extends Error {
  readonly afterMs: number;
  /** Whole seconds, as dispatch-slack sends Retry-After. */
  readonly retryAfter: number;
  constructor(afterMs: number, reason: string) {
    super(reason);
    this.afterMs = afterMs;
    this.retryAfter = Math.max(1, Math.ceil(afterMs / 1000));
  }
}

export async function dispatch(issue: Issue, deps: DispatchDeps): Promise<DispatchResult> {
  const outcome = await dispatchIssue(issue, deps);
  if (isLater(outcome)) throw new ComeBackLater(outcome.retryLater.afterMs, outcome.retryLater.reason);
  return outcome;
}
