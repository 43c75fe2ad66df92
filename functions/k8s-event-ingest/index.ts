// k8s-event-ingest: ApiServerSource events in, Issues out. A Warning Event becomes an Issue
// replied to the broker; everything else is acknowledged with no reply.
import type { CloudEvent } from 'cloudevents';
import { z } from 'zod';
import { CommonEnv, parseEnv } from '../../lib/env.ts';
import { eventJson, issueEvent } from '../../lib/events.ts';
import { kubeEventToIssue, parseKubeEvent } from '../../lib/kube-events.ts';
import type { FunctionModule, InvocationContext } from '../../lib/runtime/types.ts';

const Env = CommonEnv.extend({ MAX_EVENT_AGE_SECONDS: z.coerce.number().int().positive().default(600) });
const HANDLED = new Set(['dev.knative.apiserver.resource.add', 'dev.knative.apiserver.resource.update']);

export function create(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let config: z.infer<typeof Env>;
  let source = '/kubeincident/k8s-event-ingest';
  return {
    init() {
      config = parseEnv(Env, env);
      if (config.CLUSTER_NAME)
        source = `/kubeincident/${encodeURIComponent(config.CLUSTER_NAME)}/k8s-event-ingest`;
    },
    handle(ctx: InvocationContext, event: CloudEvent<unknown> | undefined) {
      if (!event || !HANDLED.has(event.type)) return undefined;
      const data = eventJson(event.data);
      if ((data as { kind?: unknown } | null)?.kind !== 'Event') return undefined;
      const issue = kubeEventToIssue(parseKubeEvent(data), {
        cluster: config.CLUSTER_NAME,
        maxAgeSeconds: config.MAX_EVENT_AGE_SECONDS,
      });
      if (!issue) return undefined;
      ctx.log.info({ fingerprint: issue.fingerprint, reason: issue.labels.reason }, 'event issue created');
      return issueEvent(issue, source, ctx.traceparent);
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
