// dispatch-jira: a Jira Cloud issue per incident, commented on re-fire and transitioned on
// resolution (lib/adapters/incident/jira.ts), on the shared incident dispatch core
// (lib/stages/incident/function.ts).
import { JiraService } from '../../lib/adapters/incident/jira.ts';
import { loadIoredis } from '../../lib/adapters/store/redis.ts';
import { createIncidentFunction } from '../../lib/stages/incident/function.ts';

export const create = (env: NodeJS.ProcessEnv = process.env) =>
  createIncidentFunction(
    {
      name: 'dispatch-jira',
      type: 'jira',
      async service(d, ctx) {
        return new JiraService({
          ...d,
          apiToken: await ctx.secret(d.apiToken, `destination ${d.name}`),
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
