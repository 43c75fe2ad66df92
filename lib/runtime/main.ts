// Process entry for one function: init, listen on PORT (default 8080), drain on SIGTERM.
// Bundles and the local pipeline both start functions through runFunction().
import { createLogger } from '../logger.ts';
import { defaultRegistry } from './metrics.ts';
import { createFunctionServer } from './server.ts';
import { getExporter } from './trace.ts';
import type { FunctionModule } from './types.ts';

export interface RunOptions {
  name: string;
  env?: NodeJS.ProcessEnv;
}

export async function runFunction(mod: FunctionModule, opts: RunOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const log = createLogger({ name: opts.name });
  const fs = createFunctionServer(mod, { name: opts.name, log, registry: defaultRegistry });
  const port = await fs.listen(Number(env.PORT ?? 8080), env.HOST || undefined);
  // Liveness answers while init runs; readiness waits for it, so Knative routes no traffic early.
  try {
    await mod.init?.();
  } catch (err) {
    log.fatal({ err }, 'init failed');
    process.exit(1);
  }
  fs.setReady(true);
  log.info({ port }, 'ready');
  process.send?.({ type: 'listening', name: opts.name, port });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inflight: fs.inflight() }, 'draining');
    await fs.drain(Number(env.DRAIN_TIMEOUT_MS ?? 20_000));
    try {
      await mod.shutdown?.();
      await (await getExporter(env))?.shutdown();
    } catch (err) {
      log.error({ err }, 'shutdown failed');
    }
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('disconnect', () => void stop('parent disconnected'));
}
