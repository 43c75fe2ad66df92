// alert-ingest: Alertmanager's webhook receiver. One CloudEvent per alert goes to K_SINK; the
// webhook is answered 2xx only after the sink accepted all of them, so Alertmanager retries
// anything that was not handed on. The configuration silences alerts and plans their workflows.
import { alertToIssue, parseWebhook } from '../../lib/domain/alertmanager.ts';
import { type ConfigSource, openFunctionConfig } from '../../lib/domain/config/index.ts';
import { planIssue } from '../../lib/domain/config/plan.ts';
import { ingestEventMessage } from '../../lib/domain/events.ts';
import { checkAuth, type WebhookAuth } from '../../lib/platform/auth.ts';
import { MethodNotAllowedError, NotFoundError } from '../../lib/platform/errors.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { defaultRegistry } from '../../lib/platform/runtime/metrics.ts';
import {
  type BinaryEvent,
  createSink,
  parseCeOverrides,
  type Sink,
} from '../../lib/platform/runtime/sink.ts';
import type { FunctionModule, InvocationContext } from '../../lib/platform/runtime/types.ts';
import { AlertIngestEnv, parseEnv } from '../../lib/stages/env.ts';

export const NAME = 'alert-ingest';
const PATHS = new Set(['/', '/api/alerts', '/api/v2/alerts']);

export function create(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let sink: Sink;
  let config: ConfigSource | undefined;
  let auth: WebhookAuth = {};
  let cluster: string | undefined;
  let alertmanagerUrl: string | undefined;
  let source = '/kubeincident/alert-ingest';
  const silencedTotal = defaultRegistry.counter(
    'kubeincident_issues_silenced_total',
    'Issues not sent on because a configured silence matched, by silence.',
  );
  const readEnv = () => parseEnv(AlertIngestEnv, env);

  return {
    acceptsHttp: true,
    async init() {
      const c = readEnv();
      cluster = c.CLUSTER_NAME;
      alertmanagerUrl = c.ALERTMANAGER_URL;
      if (cluster) source = `/kubeincident/${encodeURIComponent(cluster)}/alert-ingest`;
      auth = {
        bearerToken: c.WEBHOOK_BEARER_TOKEN,
        basicUser: c.WEBHOOK_BASIC_USER,
        basicPassword: c.WEBHOOK_BASIC_PASSWORD,
      };
      sink = createSink({
        url: c.K_SINK,
        overrides: parseCeOverrides(c.K_CE_OVERRIDES),
        timeoutMs: c.SINK_TIMEOUT_MS,
      });
      config = await openFunctionConfig(c, env, createLogger({ name: NAME, level: c.LOG_LEVEL }));
    },
    accept(request) {
      if (!PATHS.has(request.path)) throw new NotFoundError();
      if (request.method !== 'POST') throw new MethodNotAllowedError();
      checkAuth(request.headers, auth);
    },
    async handle(ctx: InvocationContext) {
      const payload = parseWebhook(ctx.body);
      if (payload.truncatedAlerts) {
        ctx.log.warn(
          { truncatedAlerts: payload.truncatedAlerts },
          'Alertmanager truncated this group; raise max_alerts',
        );
      }
      const cfg = config?.current();
      // Every event is built before the first is sent: an alert no later stage could take is a
      // 400 for the webhook up front, never a refusal after half the group went out.
      const events: BinaryEvent[] = [];
      let silenced = 0;
      for (const [i, alert] of payload.alerts.entries()) {
        const issue = alertToIssue(alert, payload, { cluster, alertmanagerUrl });
        const planned = cfg ? planIssue(issue, cfg) : { issue };
        if (planned.silenced) {
          silenced++;
          silencedTotal.inc({ silence: planned.silenced });
          ctx.log.info({ alertname: alert.labels.alertname, silence: planned.silenced }, 'alert silenced');
        } else if (planned.issue) {
          events.push(ingestEventMessage(planned.issue, `alerts[${i}]`, source, ctx.traceparent));
        }
      }
      await sink.send(events);
      ctx.log.info(
        { alerts: events.length, silenced, receiver: payload.receiver, groupKey: payload.groupKey },
        'alerts accepted',
      );
      return { statusCode: 200, body: { status: 'accepted', alerts: events.length, silenced } };
    },
    shutdown() {
      config?.close();
      (sink as Sink | undefined)?.close();
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const accept = fn.accept;
export const shutdown = fn.shutdown;
export const acceptsHttp = fn.acceptsHttp;
