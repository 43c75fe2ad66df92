// Opening the configuration for a function: CONFIG_FILE, reloaded live, errors logged.
import type { Logger } from '../../platform/logger.ts';
import { type ConfigSource, openConfig } from './load.ts';

export { type ConfigSource, DEFAULT_CONFIG } from './load.ts';
export type { Config } from './schema.ts';

export function openFunctionConfig(
  env: { CONFIG_FILE?: string | undefined; CONFIG_POLL_MS: number },
  procEnv: NodeJS.ProcessEnv,
  log?: Logger,
): Promise<ConfigSource> {
  return openConfig(
    log
      ? { file: env.CONFIG_FILE, env: procEnv, pollMs: env.CONFIG_POLL_MS, log }
      : { file: env.CONFIG_FILE, env: procEnv, pollMs: env.CONFIG_POLL_MS },
  );
}
