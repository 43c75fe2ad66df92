// dispatch-teams: an Adaptive Card per incident into Microsoft Teams through a Workflows
// webhook (lib/adapters/incident/teams.ts), on the shared incident dispatch core
// (lib/stages/incident/function.ts).
import { TeamsService } from '../../lib/adapters/incident/teams.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { createIncidentFunction } from '../../lib/stages/incident/function.ts';

export const create = (env: NodeJS.ProcessEnv = process.env) =>
  createIncidentFunction(
    {
      name: 'dispatch-teams',
      type: 'teams',
      async service(d, ctx) {
        return new TeamsService({
          name: d.name,
          url: await ctx.secret(d.url, `destination ${d.name}`),
          maxBytes: d.maxBytes,
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
