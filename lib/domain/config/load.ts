// Reads the configuration file (parsed by parse.ts, imported only when there is a file: the
// YAML parser is ~115 KB no function without a CONFIG_FILE should load). ConfigSource reloads
// it live: a changed file (a ConfigMap update) takes effect without a restart; an invalid one
// keeps the old config.
import { readFile, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigFileError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/logger.ts';
import { DEFAULT_CONFIG } from './defaults.ts';
import type { Config } from './schema.ts';

export { ConfigFileError, DEFAULT_CONFIG };

export interface ConfigSourceOptions {
  /** The file; unset means the built-in defaults and nothing to watch. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** Polling backs up the file watch (ConfigMap updates swap a symlink, which some watchers miss). */
  pollMs?: number;
}

export interface ConfigSource {
  current(): Config;
  /** Re-reads the file now; resolves true when a new valid config took effect. */
  reload(): Promise<boolean>;
  onChange(listener: (config: Config) => void): void;
  close(): void;
}

/** Loads the file once (an invalid file at start is fatal: no config to fall back on). */
export async function openConfig(opts: ConfigSourceOptions = {}): Promise<ConfigSource> {
  const env = opts.env ?? process.env;
  const listeners: Array<(c: Config) => void> = [];
  let config = DEFAULT_CONFIG;
  // The text the current config came from: a reload that reads the same text changes nothing.
  let lastText: string | undefined;
  const file = opts.file;
  // Only reached with a file: without one there is nothing to parse.
  const parseConfig = file ? (await import('./parse.ts')).parseConfig : (): Config => DEFAULT_CONFIG;

  // node:fs's callback API: node:fs/promises would load its own dozen modules just for this.
  const read = (): Promise<string | undefined> =>
    file
      ? new Promise((resolve, reject) =>
          readFile(file, 'utf8', (err, data) => (err ? reject(err) : resolve(data))),
        )
      : Promise.resolve(undefined);

  if (file) {
    let first: string | undefined;
    try {
      first = await read();
    } catch (err) {
      throw new ConfigFileError(`cannot read ${file}: ${(err as Error).message}`);
    }
    if (first !== undefined) {
      try {
        config = parseConfig(first, env);
      } catch (err) {
        throw new ConfigFileError(`${file}: ${(err as Error).message}`);
      }
      lastText = first;
    }
  }

  let reloading: Promise<boolean> | undefined;
  const reload = (): Promise<boolean> => {
    reloading ??= (async () => {
      try {
        const next = await read();
        if (next === undefined || next === lastText) return false;
        // An empty file is one being rewritten in place (truncated, then written: editors,
        // `cp`, `writeFile`), not a request for the defaults (write `{}` for those): read on.
        if (next.trim() === '') {
          opts.log?.warn({ file }, 'configuration file is empty: keeping the previous one');
          return false;
        }
        lastText = next;
        try {
          config = parseConfig(next, env);
        } catch (err) {
          opts.log?.error(
            { file, problem: (err as Error).message },
            'invalid configuration: keeping the previous one',
          );
          return false;
        }
        opts.log?.info({ file }, 'configuration reloaded');
        for (const l of listeners) l(config);
        return true;
      } catch (err) {
        opts.log?.warn({ file, err }, 'configuration file unreadable: keeping the previous one');
        return false;
      } finally {
        reloading = undefined;
      }
    })();
    return reloading;
  };

  const closers: Array<() => void> = [];
  if (file) {
    try {
      // Watch the directory: a ConfigMap volume replaces the file through a `..data` symlink swap.
      const watcher = watch(dirname(file), (_event, name) => {
        if (!name || name === basename(file) || name.startsWith('..')) void reload();
      });
      watcher.unref();
      closers.push(() => watcher.close());
    } catch {
      // Polling below still picks changes up.
    }
    const timer = setInterval(() => void reload(), opts.pollMs ?? 10_000);
    timer.unref();
    closers.push(() => clearInterval(timer));
  }

  return {
    current: () => config,
    reload,
    onChange: (l) => listeners.push(l),
    close: () => {
      for (const c of closers) c();
    },
  };
}
