// dispatch-webhook: POSTs each incident change to the configured webhooks as a structured
// CloudEvent signed the Standard Webhooks way (lib/adapters/incident/webhook.ts), on the shared
// incident dispatch core (lib/stages/incident/function.ts).
import { WebhookService } from '../../lib/adapters/incident/webhook.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { createIncidentFunction } from '../../lib/stages/incident/function.ts';

export const create = (env: NodeJS.ProcessEnv = process.env) =>
  createIncidentFunction(
    {
      name: 'dispatch-webhook',
      type: 'webhook',
      async service(d, ctx) {
        return new WebhookService({
          name: d.name,
          url: d.url,
          secret: d.secret === undefined ? undefined : await ctx.secret(d.secret, `destination ${d.name}`),
          headers: d.headers,
          source: ctx.source,
          timeoutMs: ctx.timeoutMs,
        });
      },
    },
    env,
  );

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const shutdown = fn.shutdown;
export const warm = loadIoredis;
