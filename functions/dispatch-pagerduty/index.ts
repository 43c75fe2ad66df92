// dispatch-pagerduty: triggers and resolves PagerDuty alerts (Events API v2,
// lib/adapters/incident/pagerduty.ts) on the shared incident dispatch core
// (lib/stages/incident/function.ts).
import { PagerDutyService } from '../../lib/adapters/incident/pagerduty.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { createIncidentFunction } from '../../lib/stages/incident/function.ts';

export const create = (env: NodeJS.ProcessEnv = process.env) =>
  createIncidentFunction(
    {
      name: 'dispatch-pagerduty',
      type: 'pagerduty',
      async service(d, ctx) {
        return new PagerDutyService({
          name: d.name,
          routingKey: await ctx.secret(d.routingKey, `destination ${d.name}`),
          apiUrl: d.apiUrl,
          severity: d.severity,
          cluster: ctx.cluster,
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
