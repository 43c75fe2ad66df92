// Lost-post recovery. Slack may have taken a root or a reply whose answer was lost (a timeout,
// a 5xx) or whose record failed (Redis full or gone, the process killed). The thread key then
// holds an attempt (stored.ts) or a step with its `tried` time, and the redelivery looks in the
// channel's history for that post before posting it again, once a slow post has had time to
// land. A destination that cannot look (no history scope) posts, as before these checks.
import { DependencyError } from '../../platform/errors.ts';
import { type Delivery, decideContext, refOf } from './context.ts';
import { isLater, later, type RetryLater } from './outcome.ts';
import type { Stored } from './stored.ts';
import { LOOKBACK_SECONDS, SETTLE_MS } from './stored.ts';
import {
  enrichmentSteps,
  newThread,
  type Step,
  type ThreadDraft,
  ThreadState,
  verdictsOf,
} from './thread-state.ts';

type StoredAttempt = Extract<Stored, { kind: 'attempt' }>['attempt'];

/**
 * The thread as the earlier attempt planned it, with the root the destination has; null when
 * it has none (post afresh); later while a slow post may still be landing.
 */
export async function adoptEarlierRoot(
  d: Delivery,
  a: StoredAttempt,
): Promise<ThreadState | null | RetryLater> {
  const { destination, issue, log } = d;
  const { findRoot } = destination;
  if (!findRoot) return null;
  const found = await lookForEarlier(d, 'root post', a.lookAt, () =>
    findRoot.call(destination, issue.fingerprint, a.since),
  );
  if (isLater(found)) return found;
  if (!found) return null;
  const planned = a.draft ?? plannedBy(d, a);
  const steps = planned.steps.map((s) => (s.kind === 'root' ? { ...s, done: true } : s));
  const parsed = ThreadState.safeParse({ ...planned, channel: found.channel, ts: found.ts, steps });
  if (!parsed.success) return null;
  log?.info({ fingerprint: issue.fingerprint, ...found }, 'adopted the root an earlier attempt posted');
  return parsed.data;
}

/**
 * The thread the attempt's delivery planned: exactly this one's plan when it is that delivery
 * again; else its root and, if it carried them, its details (which only its own redelivery can
 * post), shown with this occurrence's verdicts.
 */
function plannedBy(d: Delivery, a: StoredAttempt): ThreadDraft {
  if (a.by === d.issue.id) return newThread(d.issue, decideContext(d));
  const steps: Step[] = [{ id: 'root', kind: 'root', by: a.by, done: false }];
  if (a.enriched) steps.push(...enrichmentSteps(a.by));
  return {
    v: 1,
    status: a.status,
    firingSince: a.firingSince,
    firingCount: 1,
    verdicts: verdictsOf(d.issue),
    steps,
  };
}

/** Whether the reply an earlier delivery tried is in the thread already; later while it may land. */
export async function replyLanded(
  d: Delivery,
  step: Step,
  draft: ThreadDraft,
): Promise<boolean | RetryLater> {
  const { destination, issue, log } = d;
  const { findReply } = destination;
  const ref = refOf(draft);
  if (!findReply || !ref || step.tried === undefined) return false;
  const since = Math.floor(step.tried / 1000) - LOOKBACK_SECONDS;
  const found = await lookForEarlier(d, 'reply', step.tried + SETTLE_MS, () =>
    findReply.call(destination, ref, issue.fingerprint, step.id, since),
  );
  if (isLater(found)) return found;
  if (found)
    log?.info({ fingerprint: issue.fingerprint, step: step.id }, 'found the reply an earlier attempt posted');
  return found === true;
}

/**
 * What `look` finds of a post an earlier delivery may have made; later until `lookAt` (epoch
 * ms); undefined when the destination cannot look.
 */
async function lookForEarlier<T>(
  d: Delivery,
  what: string,
  lookAt: number,
  look: () => Promise<T>,
): Promise<T | undefined | RetryLater> {
  const wait = lookAt - d.now().getTime();
  if (wait > 0) return later(wait, `an earlier ${what} may still be landing: look for it then`);
  try {
    return await look();
  } catch (err) {
    if (!(err instanceof DependencyError)) throw err;
    d.log?.warn({ err, fingerprint: d.issue.fingerprint }, `cannot look for an earlier ${what}: posting`);
    return undefined;
  }
}
