// The shared body of the incident destination functions (dispatch-webhook, dispatch-pagerduty,
// dispatch-teams, dispatch-jira): each subscribes to the issues ready to dispatch, routes them
// with the one config file (`routes:`), keeps only the destinations of its own type (an issue
// with none is acknowledged and skipped: a Trigger cannot filter on routes), and delivers each
// through the dispatch core (dispatcher.ts: one incident per fingerprint, state in Redis). A
// function itself only says how to build its service from a destination's configuration.
import type { CloudEvent } from 'cloudevents';
import { IncidentDestination, type IncidentService } from '../../adapters/incident/destination.ts';
import { readSecret } from '../../adapters/secret.ts';
import { createStore, type StateStore } from '../../adapters/store/index.ts';
import type { IncidentDestinationConfig, Secret } from '../../domain/config/destinations.ts';
import { type ConfigSource, openFunctionConfig } from '../../domain/config/index.ts';
import { routeIssue } from '../../domain/config/route.ts';
import type { DestinationConfig } from '../../domain/config/schema.ts';
import { type NotificationSent, notificationSentEvent, parseIssueData } from '../../domain/events.ts';
import { BadRequestError } from '../../platform/errors.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { type FunctionModule, type InvocationContext, retryLater } from '../../platform/runtime/types.ts';
import { dispatchIssue } from '../dispatch/dispatcher.ts';
import { isLater } from '../dispatch/outcome.ts';
import { IncidentDispatchEnv, parseEnv } from '../env.ts';
import { linkAlert } from '../ingest/change-link.ts';

export interface ServiceContext {
  /** The CloudEvent source of this function (`/kubeincident/<cluster>/<function>`). */
  source: string;
  cluster?: string | undefined;
  timeoutMs: number;
  log: Logger;
  secret(s: Secret, what: string): Promise<string>;
}

export interface IncidentFunctionSpec<T extends IncidentDestinationConfig['type']> {
  /** dispatch-<type> */
  name: string;
  type: T;
  service(
    config: Extract<IncidentDestinationConfig, { type: T }>,
    ctx: ServiceContext,
  ): Promise<IncidentService>;
}

/** What `default` means in routes for these functions: nothing of their type. */
const NO_FALLBACK: DestinationConfig = { name: 'default', type: 'terminal' };

export function createIncidentFunction<T extends IncidentDestinationConfig['type']>(
  spec: IncidentFunctionSpec<T>,
  env: NodeJS.ProcessEnv = process.env,
): FunctionModule {
  type Config = Extract<IncidentDestinationConfig, { type: T }>;
  let store: StateStore;
  let config: ConfigSource;
  let stateTtlSeconds: number;
  let log: Logger;
  let ctxBase: Omit<ServiceContext, 'log'>;
  // One service per configured destination object: a config reload makes new ones (and re-reads secret files).
  let services = new WeakMap<Config, Promise<IncidentDestination>>();

  function destinationFor(d: Config): Promise<IncidentDestination> {
    let dest = services.get(d);
    if (!dest) {
      dest = spec.service(d, { ...ctxBase, log }).then((s) => new IncidentDestination(s));
      // A failed build (an unreadable secret file) is tried again by the redelivery.
      dest.catch(() => services.delete(d));
      services.set(d, dest);
    }
    return dest;
  }

  return {
    async init() {
      const c = parseEnv(IncidentDispatchEnv, env);
      log = createLogger({ name: spec.name, level: c.LOG_LEVEL });
      stateTtlSeconds = c.THREAD_TTL_SECONDS;
      const source = c.CLUSTER_NAME
        ? `/kubeincident/${encodeURIComponent(c.CLUSTER_NAME)}/${spec.name}`
        : `/kubeincident/${spec.name}`;
      ctxBase = { source, cluster: c.CLUSTER_NAME, timeoutMs: c.DESTINATION_TIMEOUT_MS, secret: readSecret };
      config = await openFunctionConfig(c, env, log);
      if (!config.current().destinations.some((d) => d.type === spec.type))
        log.warn(`no ${spec.type} destination configured: every issue is skipped`);
      store = createStore({ redisUrl: c.REDIS_URL, log });
      services = new WeakMap();
    },
    async handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event) throw new BadRequestError('expected an issue CloudEvent');
      const cfg = config.current();
      const parsed = parseIssueData(event.data);
      const routed = routeIssue(parsed, cfg, NO_FALLBACK).filter(
        (r): r is { destination: Config } => r.destination.type === spec.type,
      );
      if (routed.length === 0) {
        ctx.log.debug({ fingerprint: parsed.fingerprint }, `no ${spec.type} destination routed: skipped`);
        return undefined;
      }
      // An alert that follows a tracked change says so (alert-ingest keeps no state to look it up).
      const issue = await linkAlert(parsed, store, cfg.changeTracking);
      // Sequential, as in dispatch-slack: a deferral or failure stops here, and the redelivery
      // finds the destinations before it already done.
      const deliveries: NotificationSent['deliveries'] = [];
      for (const r of routed) {
        const destination = await destinationFor(r.destination);
        const result = await dispatchIssue(issue, {
          store,
          destination,
          stateTtlSeconds,
          // These services are never edited (updateRoot sends nothing): a changed repeat count
          // has no edit rate to wait for, only its record to write.
          minUpdateIntervalMs: 0,
          log: ctx.log,
        });
        if (isLater(result)) return retryLater(result.retryLater.afterMs, result.retryLater.reason);
        if (result.ref)
          deliveries.push({
            destination: destination.id,
            channel: result.ref.channel,
            threadTs: result.ref.ts,
            action: result.action,
          });
      }
      return notificationSentEvent(issue, deliveries, {
        source: ctxBase.source,
        idPart: spec.name,
        traceparent: ctx.traceparent,
      });
    },
    async shutdown() {
      config?.close();
      await store?.close();
    },
  };
}
