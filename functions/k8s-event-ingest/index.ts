// k8s-event-ingest: ApiServerSource events (Kubernetes Events and Pods) in, issues out. Repeats
// and storms fold into one issue per (workload, reason) in Redis (lib/ingest); the issue is the
// reply to the broker, and anything not worth one is acknowledged with no reply.
import type { CloudEvent } from 'cloudevents';
import { createStore, type StateStore } from '../../lib/adapters/store/index.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { type ConfigSource, openFunctionConfig } from '../../lib/domain/config/index.ts';
import { planIssue } from '../../lib/domain/config/plan.ts';
import { compileRedactPatterns } from '../../lib/domain/diagnose/redact.ts';
import { eventJson, issueEvent } from '../../lib/domain/events.ts';
import { fitIssue } from '../../lib/domain/fit.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { defaultRegistry } from '../../lib/platform/runtime/metrics.ts';
import { type FunctionModule, type InvocationContext, retryLater } from '../../lib/platform/runtime/types.ts';
import { EventIngestEnv, parseEnv } from '../../lib/stages/env.ts';
import { linkRecentChange } from '../../lib/stages/ingest/change-link.ts';
import { filterFromSettings } from '../../lib/stages/ingest/filter.ts';
import { type IngestSettings, ingest } from '../../lib/stages/ingest/ingest.ts';

export interface IngestFunctionOptions {
  /** The clock (tests). */
  now?: () => Date;
}

export function create(
  env: NodeJS.ProcessEnv = process.env,
  opts: IngestFunctionOptions = {},
): FunctionModule {
  let store: StateStore | undefined;
  let config: ConfigSource | undefined;
  let settings: IngestSettings;
  let patterns: readonly RegExp[] = [];
  const silencedTotal = defaultRegistry.counter(
    'kubeincident_issues_silenced_total',
    'Issues not sent on because a configured silence matched, by silence.',
  );
  let source = '/kubeincident/k8s-event-ingest';
  const now = opts.now ?? (() => new Date());
  return {
    async init() {
      const c = parseEnv(EventIngestEnv, env);
      const log = createLogger({ name: 'k8s-event-ingest', level: c.LOG_LEVEL });
      if (c.CLUSTER_NAME) source = `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/k8s-event-ingest`;
      settings = {
        cluster: c.CLUSTER_NAME,
        maxAgeSeconds: c.MAX_EVENT_AGE_SECONDS,
        windowSeconds: Math.max(c.EVENT_WINDOW_SECONDS, c.MAX_EVENT_AGE_SECONDS),
        imagePullGraceSeconds: c.IMAGE_PULL_GRACE_SECONDS,
        recoveryStableSeconds: c.RECOVERY_STABLE_SECONDS,
        filter: filterFromSettings(c),
      };
      patterns = compileRedactPatterns(c.LOG_REDACT_PATTERNS);
      store = createStore({ redisUrl: c.REDIS_URL, log });
      config = await openFunctionConfig(c, env, log);
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event || !store) return undefined;
      const tracking = config?.current().changeTracking;
      const result = await ingest(
        { type: event.type, data: eventJson(event.data) },
        { store, now, settings, log: ctx.log, ...(tracking ? { changes: { tracking, patterns } } : {}) },
      );
      if (result.retryLater) {
        const { afterMs, reason } = result.retryLater;
        return retryLater(afterMs, reason);
      }
      if (!result.issue) {
        ctx.log.debug({ skipped: result.skipped }, 'no issue');
        return undefined;
      }
      if (result.issue.type === 'change') {
        ctx.log.info({ fingerprint: result.issue.fingerprint, title: result.issue.title }, 'workload change');
        return issueEvent(fitIssue(result.issue, 'this change'), source, ctx.traceparent);
      }
      const cfg = config?.current();
      if (cfg && !cfg.workflows.eventHandling.enabled) {
        ctx.log.debug('event handling is turned off in the configuration');
        return undefined;
      }
      const planned = cfg ? planIssue(result.issue, cfg, { now: now() }) : { issue: result.issue };
      if (planned.silenced) {
        silencedTotal.inc({ silence: planned.silenced });
        ctx.log.info(
          { fingerprint: result.issue.fingerprint, silence: planned.silenced },
          'event issue silenced',
        );
        return undefined;
      }
      // Repeats of a period go straight to dispatch (ingest planned that): they only update the
      // thread's counts, with no second round of enrichment.
      const repeat = result.issue.plan.length === 1 && result.issue.plan[0] === 'dispatch';
      const base = planned.issue ?? result.issue;
      let issue = repeat ? { ...base, plan: result.issue.plan } : base;
      // The first issue of a period says so when its workload changed just before it started.
      if (!repeat && result.fresh && tracking?.rules.length)
        issue = await linkRecentChange(issue, store, settings.cluster);
      ctx.log.info(
        {
          fingerprint: issue.fingerprint,
          reason: issue.labels.reason,
          status: issue.status,
          count: issue.occurrences?.count,
          objects: issue.occurrences?.objects,
          repeat: !result.fresh,
        },
        'kubernetes issue',
      );
      // Within the size every later stage takes, or a 400 (dead-lettered, never retried forever).
      return issueEvent(fitIssue(issue, 'this event'), source, ctx.traceparent);
    },
    async shutdown() {
      config?.close();
      await store?.close();
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const shutdown = fn.shutdown;
/** The code cache's training run loads ioredis, which a deployed instance (REDIS_URL) loads. */
export const warm = async (): Promise<void> => {
  await loadIoredis();
};
