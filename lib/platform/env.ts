// Environment settings, parsed once with zod at start-up: the parser every function uses and
// the settings the runtime itself reads. Each stage's own settings are in lib/stages/env.ts.
import * as z from 'zod';
import { ConfigError } from './errors.ts';
import { formatZodError } from './zod.ts';

/** Read by the runtime (lib/platform/runtime/main.ts) before the function's own settings. */
export const RuntimeEnv = z.object({
  /** Idle time after which memory is given back (lib/platform/runtime/idle-release.ts); 0 turns it off. */
  IDLE_RELEASE_MS: z.coerce.number().int().nonnegative().default(250),
});

export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
