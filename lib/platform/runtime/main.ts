// Process entry for one function: init, listen on PORT (default 8080), drain on SIGTERM.
// Bundles and the local pipeline both start functions through runFunction().
import { parseEnv, RuntimeEnv } from '../env.ts';
import { createLogger, type Logger } from '../logger.ts';
import { createIdleRelease, gcRelease, type IdleRelease } from './idle-release.ts';
import { defaultRegistry, type Registry } from './metrics.ts';
import { createFunctionServer } from './server.ts';
import { getExporter } from './trace.ts';
import type { FunctionModule } from './types.ts';

export interface RunOptions {
  name: string;
  env?: NodeJS.ProcessEnv;
  /**
   * What became of the bundle's code cache (scripts/build.ts, lib/platform/runtime/bundle-entry.cjs):
   * reported in the ready line, since a rejected one means a slower start on every cold start.
   */
  codeCache?: CodeCacheState;
  /**
   * The code cache's training run (the bundle entry): called once the function is ready and
   * warm (FunctionModule.warm); it writes the cache and exits.
   */
  training?: () => void;
}

/** accepted; rejected (built by another Node or other V8 flags: compiled from source); absent. */
export type CodeCacheState = 'accepted' | 'rejected' | 'absent';

export async function runFunction(mod: FunctionModule, opts: RunOptions): Promise<void> {
  const env = opts.env ?? process.env;
  const log = createLogger({ name: opts.name });
  let idleRelease: IdleRelease | undefined;
  try {
    idleRelease = idleReleaseFor(parseEnv(RuntimeEnv, env).IDLE_RELEASE_MS, log, defaultRegistry);
  } catch (err) {
    log.fatal({ err }, 'init failed');
    process.exit(1);
  }
  const fs = createFunctionServer(mod, {
    name: opts.name,
    log,
    registry: defaultRegistry,
    ...(idleRelease ? { idleRelease } : {}),
  });
  const port = await fs.listen(Number(env.PORT ?? 8080), env.HOST || undefined);
  // Liveness answers while init runs; readiness waits for it, so Knative routes no traffic early.
  try {
    await mod.init?.();
  } catch (err) {
    log.fatal({ err }, 'init failed');
    process.exit(1);
  }
  fs.setReady(true);
  if (opts.codeCache === 'rejected') {
    log.warn(
      'code cache rejected (built by another Node version or with other V8 flags): compiled from source',
    );
  }
  log.info({ port, ...(opts.codeCache ? { codeCache: opts.codeCache } : {}) }, 'ready');
  process.send?.({ type: 'listening', name: opts.name, port, codeCache: opts.codeCache });
  if (opts.training) {
    await mod.warm?.();
    opts.training();
  }

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

/** Between two releases at least this long: a trickle of events pays one per gap, not one each. */
export const IDLE_RELEASE_MIN_GAP_MS = 5_000;

function idleReleaseFor(idleMs: number, log: Logger, registry: Registry): IdleRelease | undefined {
  if (idleMs === 0) return undefined;
  const release = gcRelease();
  const took = registry.histogram(
    'kubeincident_idle_release_seconds',
    'Collections that gave memory back after the function went idle, and how long each blocked.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
  );
  return createIdleRelease({
    idleMs,
    minGapMs: IDLE_RELEASE_MIN_GAP_MS,
    release,
    released: (ms) => {
      took.observe(ms / 1000);
      log.debug({ ms: Math.round(ms), rss: process.memoryUsage.rss() }, 'idle: memory given back');
    },
  });
}
