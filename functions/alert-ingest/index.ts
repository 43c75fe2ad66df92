// alert-ingest: Alertmanager's webhook receiver. One CloudEvent per alert goes to K_SINK; the
// webhook is answered 2xx only after the sink accepted all of them, so Alertmanager retries
// anything that was not handed on.
import { alertToIssue, parseWebhook } from '../../lib/alertmanager.ts';
import { checkAuth, type WebhookAuth } from '../../lib/auth.ts';
import { AlertIngestEnv, parseEnv } from '../../lib/env.ts';
import { MethodNotAllowedError, NotFoundError } from '../../lib/errors.ts';
import { issueEvent } from '../../lib/events.ts';
import { createSink, parseCeOverrides, type Sink } from '../../lib/runtime/sink.ts';
import type { FunctionModule, InvocationContext } from '../../lib/runtime/types.ts';

export const NAME = 'alert-ingest';
const PATHS = new Set(['/', '/api/alerts', '/api/v2/alerts']);

export function create(env: NodeJS.ProcessEnv = process.env): FunctionModule {
  let sink: Sink;
  let auth: WebhookAuth = {};
  let cluster: string | undefined;
  let alertmanagerUrl: string | undefined;
  let source = '/kubeincident/alert-ingest';
  const config = () => parseEnv(AlertIngestEnv, env);
  const maxBodyBytes = (() => {
    try {
      return config().MAX_BODY_BYTES;
    } catch {
      return 4 * 1024 * 1024;
    }
  })();

  return {
    acceptsHttp: true,
    maxBodyBytes,
    init() {
      const c = config();
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
    },
    async handle(ctx: InvocationContext) {
      if (!PATHS.has(ctx.path)) throw new NotFoundError();
      if (ctx.method !== 'POST') throw new MethodNotAllowedError();
      checkAuth(ctx.headers, auth);
      const payload = parseWebhook(ctx.body);
      if (payload.truncatedAlerts) {
        ctx.log.warn(
          { truncatedAlerts: payload.truncatedAlerts },
          'Alertmanager truncated this group; raise max_alerts',
        );
      }
      const issues = payload.alerts.map((a) => alertToIssue(a, payload, { cluster, alertmanagerUrl }));
      await sink.send(issues.map((i) => issueEvent(i, source, ctx.traceparent)));
      ctx.log.info(
        { alerts: issues.length, receiver: payload.receiver, groupKey: payload.groupKey },
        'alerts accepted',
      );
      return { statusCode: 200, body: { status: 'accepted', alerts: issues.length } };
    },
  };
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const acceptsHttp = fn.acceptsHttp;
export const maxBodyBytes = fn.maxBodyBytes;
