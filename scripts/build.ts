// Builds one self-contained bundle per function into dist/<name>/ (index.cjs, main.cjs and
// its code cache): it starts with `node dist/<name>/index.cjs` and needs no node_modules.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { WASM_FILE, wasmPath } from '../lib/adapters/sandbox/engine.ts';
import { WORKER_FILE } from '../lib/adapters/sandbox/worker-sandbox.ts';
import { FUNCTIONS } from '../lib/platform/functions.ts';

export { FUNCTIONS };

const root = resolve(import.meta.dirname, '..');

const BUILTIN = new RegExp(`^(node:.*|${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);

/**
 * Node built-ins reach the bundle through require() (the banner's createRequire), not as ESM
 * imports. Node builds an ES module facade of a built-in by reading every export, and that runs
 * lazy getters: `import 'node:http'` reads http.WebSocket, which loads undici into a server
 * that never opens a WebSocket; the facades of util and fs cost memory the same way.
 */
const builtinsViaRequire: Plugin = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: BUILTIN }, (args) =>
      args.namespace === 'builtin'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: LOADED_ON_USE.has(args.path.replace(/^node:/, ''))
        ? onFirstUse(args.path)
        : `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * Built-ins loaded when first used rather than when a package requires them. ioredis requires
 * node:tls at load for rediss:// connections, and the CloudEvents SDK's own HTTP transport
 * (never called: lib/platform/runtime/sink.ts sends events) requires node:https; both bring OpenSSL's
 * set-up, which a plain redis:// connection or http sink never needs. The CloudEvents SDK's
 * uuid requires node:crypto at load, for ids we always set ourselves; pino's sonic-boom
 * requires node:assert for its argument checks; @slack/web-api requires node:zlib for the one
 * gzip answer Slack has (admin.analytics.getFile). Anything that does use them (a TLS connection, an https request,
 * a random UUID, a failed assertion, a file upload's multipart encoding) loads them at that
 * moment; so does our own code's node:crypto (webhook credentials, the trace-id fallback),
 * while ids are hashed without it (lib/platform/digest.ts).
 */
const LOADED_ON_USE = new Set(['tls', 'https', 'crypto', 'assert', 'zlib']);

/**
 * A stand-in module that loads the built-in at its first use, then forwards everything to it.
 * Until then it lists the built-in's export names as read at build time (the bundle runs on the
 * Node it was built with): esbuild's ES-module interop copies a CommonJS module's keys when an
 * ES module imports it (uuid does `import crypto from 'crypto'`), and listing them must not
 * load the module. Each listed property is a getter that loads it when read.
 */
export function onFirstUse(id: string): string {
  const builtin = process.getBuiltinModule(id);
  const names = Object.getOwnPropertyNames(builtin);
  // node:assert is itself a function (`assert(value)`): its stand-in must be callable too. An
  // arrow function has no non-configurable own properties for the traps below to contradict.
  const callable = typeof builtin === 'function';
  return `let m;
const load = () => (m ??= require(${JSON.stringify(id)}));
const names = ${JSON.stringify(names)};
module.exports = new Proxy(${callable ? '() => {}' : '{}'}, {
  // Interop helpers ask this before anything else; a built-in is never an ES module.
  get: (_, k) => (k === '__esModule' ? undefined : load()[k]),
  has: (_, k) => k in load(),
  ownKeys: () => (m ? Reflect.ownKeys(m) : [...names]),
  getOwnPropertyDescriptor: (_, k) => {
    if (!m && typeof k === 'string' && names.includes(k))
      return { get: () => load()[k], enumerable: true, configurable: true };
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  },${callable ? '\n  apply: (_, self, args) => Reflect.apply(load(), self, args),' : ''}
});`;
}

/**
 * ioredis adds its ~240 command methods, twice each (`get`, `getBuffer`), to
 * `Commander.prototype` in a loop. V8 keeps that prototype in fast mode, so every addition
 * copies the prototype's descriptor array: garbage that grows with the square of the number
 * of methods while the module loads. Deleting a property first puts the prototype in
 * dictionary mode, where each addition is a hash-table insert; V8 makes it fast again, in one
 * copy, once objects use it. Nothing else about the module changes. Without it, k8s-event-ingest
 * and dispatch-slack typically take 10-30 ms longer to their first event (docs/performance.md).
 */
const COMMANDER = /[\\/]ioredis[\\/]built[\\/]utils[\\/]Commander\.js$/;
const ioredisCommandsInDictionaryMode: Plugin = {
  name: 'ioredis-commands-in-dictionary-mode',
  setup(b) {
    b.onLoad({ filter: COMMANDER }, async (args) => ({
      contents: commanderInDictionaryMode(args.path, await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

/**
 * Commander.js's text with the prototype put in dictionary mode just before the loop. Throws, so
 * the build fails, unless the class and its loop read as in the ioredis this was written for.
 */
export function commanderInDictionaryMode(path: string, text: string): string {
  const loop = 'commands.forEach(function (commandName) {';
  const at = text.indexOf(loop);
  const once = (what: string) => text.split(what).length === 2;
  if (!once('class Commander {') || !once(loop) || !once('Commander.prototype[commandName] ='))
    throw new Error(
      `${path}: expected one "class Commander {" and one "${loop}" adding to Commander.prototype; revisit ioredisCommandsInDictionaryMode`,
    );
  const normalize =
    'Commander.prototype.__dictionaryMode = 0;\ndelete Commander.prototype.__dictionaryMode;\n';
  return text.slice(0, at) + normalize + text.slice(at);
}

/**
 * ioredis's Script module (EVALSHA names) requires `crypto` for one createHash('sha1') per Lua
 * script, at start-up. In the bundles it gets lib/adapters/store/script-sha1.ts instead, with the
 * digests of every script in SCRIPTS (lib/adapters/store/redis.ts) computed here: a function that
 * uses Redis over redis:// loads neither node:crypto nor OpenSSL's digests for them (1.0-1.3 MiB
 * of k8s-event-ingest's idle RSS, docs/performance.md), and hashes nothing while it starts. The
 * build fails if Script.js requires crypto for anything but that one call.
 */
const IOREDIS_SCRIPT = /[\\/]ioredis[\\/]built[\\/]Script\.js$/;
const ioredisScriptSha1: Plugin = {
  name: 'ioredis-script-sha1',
  setup(b) {
    b.onLoad({ filter: IOREDIS_SCRIPT }, async (args) => {
      checkScriptHashesOnly(args.path, await readFile(args.path, 'utf8'));
      return undefined; // loaded as is; only its require of crypto is redirected
    });
    b.onResolve({ filter: /^(node:)?crypto$/ }, (args) =>
      IOREDIS_SCRIPT.test(args.importer) ? { path: 'script-sha1', namespace: 'ki-script-sha1' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'ki-script-sha1' }, async () => {
      const { SCRIPTS } = await import('../lib/adapters/store/redis.ts');
      const known = Object.values(SCRIPTS).map(({ lua }) => [
        lua,
        createHash('sha1').update(lua).digest('hex'),
      ]);
      return {
        contents: [
          `import { scriptSha1 } from ${JSON.stringify(resolve(root, 'lib/adapters/store/script-sha1.ts'))};`,
          `export const { createHash } = scriptSha1(new Map(${JSON.stringify(known)}));`,
        ].join('\n'),
        loader: 'js',
        resolveDir: root,
      };
    });
  },
};

/**
 * What script-sha1.ts provides is createHash('sha1').update(text).digest('hex'): Script.js must
 * require crypto once and use it for that call alone, or this ioredis needs the plugin revisited.
 */
export function checkScriptHashesOnly(path: string, text: string): void {
  const required = [...text.matchAll(/const (\w+) = require\("(?:node:)?crypto"\);/g)];
  const name = required.length === 1 ? (required[0]?.[1] ?? '') : '';
  const count = (what: string) => text.split(what).length - 1;
  // The binding named twice (its declaration and the call), and that call exactly as ours.
  const mentions = name ? text.match(new RegExp(`\\b${name}\\b`, 'g'))?.length : 0;
  const hashes = name ? count(`(0, ${name}.createHash)("sha1").update(lua).digest("hex")`) : 0;
  if (mentions !== 2 || hashes !== 1)
    throw new Error(
      `${path}: expected one require("crypto"), used for createHash("sha1").update(lua).digest("hex") alone; revisit ioredisScriptSha1`,
    );
}

/**
 * @kubernetes/client-node (4 MB) serves only kubeconfigs that need it (exec plugins, auth
 * providers, proxies): the enrichers import it on that path alone. It stays out of main.cjs
 * (which is read, and held in memory, whole) in a file of its own, required then.
 */
const K8S_CLIENT = 'k8s-client.cjs';
const k8sClientApart: Plugin = {
  name: 'k8s-client-apart',
  setup(b) {
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: K8S_CLIENT, namespace: 'k8s-client-apart' } : undefined,
    );
    // The require() the stand-in below makes stays a require() of the file next to main.cjs.
    b.onResolve({ filter: /^\.\/k8s-client\.cjs$/ }, (args) => ({
      path: args.path,
      external: true,
    }));
    b.onLoad({ filter: /.*/, namespace: 'k8s-client-apart' }, () => ({
      contents: `module.exports = require('./${K8S_CLIENT}');`,
      loader: 'js',
    }));
  },
};

/**
 * enrich-metrics' renderer (echarts, resvg's native binary and the font) loads on the first chart
 * only (lib/stages/enrich/metrics/function.ts imports it dynamically): it stays out of main.cjs in
 * chart.cjs, with resvg's .node file and DejaVuSans.ttf beside it.
 */
const CHART = 'chart.cjs';
const CHART_SOURCE = /[\\/]adapters[\\/]prometheus[\\/]chart\.ts$/;
const chartApart: Plugin = {
  name: 'chart-apart',
  setup(b) {
    b.onResolve({ filter: /[\\/]chart\.ts$/ }, (args) =>
      args.kind === 'dynamic-import' && CHART_SOURCE.test(resolve(args.resolveDir, args.path))
        ? { path: CHART, namespace: 'chart-apart' }
        : undefined,
    );
    b.onResolve({ filter: /^\.\/chart\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'chart-apart' }, () => ({
      contents: `module.exports = require('./${CHART}');`,
      loader: 'js',
    }));
  },
};

/**
 * resvg's loader tries a .node file beside itself, then each platform's package: the one
 * installed here is bundled (its .node copied next to chart.cjs), the others stay requires that
 * fail on this platform, as they do in node_modules.
 */
const resvgNative: Plugin = {
  name: 'resvg-native',
  setup(b) {
    b.onResolve({ filter: /^(\.\/resvgjs\..*\.node|@resvg\/resvg-js-.*)$/ }, (args) => {
      if (args.path.startsWith('./')) return { path: args.path, external: true };
      try {
        createRequire(resolve(root, 'package.json')).resolve(args.path);
        return undefined;
      } catch {
        return { path: args.path, external: true };
      }
    });
  },
};

async function buildChart(outdir: string): Promise<void> {
  await build({
    entryPoints: [resolve(root, 'lib/adapters/prometheus/chart.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    outfile: resolve(outdir, CHART),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'error',
    loader: { '.node': 'copy' },
    plugins: [resvgNative],
  });
  await copyFile(
    createRequire(resolve(root, 'package.json')).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
    resolve(outdir, 'DejaVuSans.ttf'),
  );
}

/**
 * The build-time patches of third-party source, by the name a measurement leaves one out with
 * (`scripts/bench/patches.ts` builds each function with and without each, and starts them in
 * turn). docs/performance.md has what each buys.
 */
const DEPENDENCY_PATCHES = {
  commander: ioredisCommandsInDictionaryMode,
  'script-sha1': ioredisScriptSha1,
} as const satisfies Record<string, Plugin>;
export type DependencyPatch = keyof typeof DEPENDENCY_PATCHES;
export const DEPENDENCY_PATCH_NAMES = Object.keys(DEPENDENCY_PATCHES) as DependencyPatch[];

export interface BuildOptions {
  /** Patches to leave out, for measuring what each buys; a deployed build has them all. */
  without?: readonly DependencyPatch[];
}

/** The plugins in the order they must run: ioredis's crypto is resolved before the built-ins are. */
function pluginsWithout(without: readonly DependencyPatch[]): Plugin[] {
  const patch = (name: DependencyPatch) => (without.includes(name) ? [] : [DEPENDENCY_PATCHES[name]]);
  return [...patch('script-sha1'), builtinsViaRequire, ...patch('commander'), k8sClientApart, chartApart];
}

/**
 * dist/<name>/: index.cjs (lib/platform/runtime/bundle-entry.cjs), main.cjs (the function, one
 * CommonJS file), main.cjs.cache (V8's code cache for it, from a training run) and, for the
 * enrichers, k8s-client.mjs. Returns the entry, index.cjs.
 *
 * One CommonJS file rather than ES module chunks: V8 can write a code cache of a script after
 * it ran, holding every function compiled by then, and Node runs a script with one
 * (`vm.Script`'s cachedData). An ES module's cache (Node's compile cache) is written when the
 * module is compiled, before it runs, so it holds its top-level code only, and most of a
 * start is compiling the functions that code calls. Lazily imported packages (ioredis, the
 * Slack client, yaml, the OTLP exporter) still load when first imported: esbuild wraps each
 * module, and its code runs only then.
 */
export async function buildFunction(
  name: string,
  outRoot = resolve(root, 'dist'),
  options: BuildOptions = {},
): Promise<string> {
  const outdir = resolve(outRoot, name);
  await rm(outdir, { recursive: true, force: true });
  const main = await build({
    stdin: {
      contents: [
        `import * as mod from ${JSON.stringify(resolve(root, 'functions', name, 'index.ts'))};`,
        `import { runFunction } from ${JSON.stringify(resolve(root, 'lib/platform/runtime/main.ts'))};`,
        `export const start = (opts) => runFunction(mod, { ...opts, name: ${JSON.stringify(name)} });`,
      ].join('\n'),
      resolveDir: root,
      sourcefile: `${name}-entry.ts`,
      loader: 'ts',
    },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    outfile: resolve(outdir, 'main.cjs'),
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
    plugins: pluginsWithout(options.without ?? []),
    // The sandbox's engine (an Emscripten ES module) asks import.meta.url for a require of its own.
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  const imports = Object.values(main.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  if (imports.includes(`./${K8S_CLIENT}`)) {
    await build({
      stdin: {
        contents: "module.exports = require('@kubernetes/client-node');",
        resolveDir: root,
        loader: 'js',
      },
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node24',
      outfile: resolve(outdir, K8S_CLIENT),
      minify: true,
      sourcemap: 'linked',
      legalComments: 'linked',
      logLevel: 'warning',
      // Built-ins as plain require()s: this file loads on the path that uses them.
    });
  }
  if (imports.includes(`./${CHART}`)) await buildChart(outdir);
  // The workflow sandbox: its worker thread's own bundle and the engine's .wasm, both read from
  // beside the bundle (lib/adapters/sandbox/worker-sandbox.ts, engine.ts).
  if (Object.keys(main.metafile.inputs).some((i) => i.endsWith('lib/adapters/sandbox/worker-sandbox.ts'))) {
    await build({
      entryPoints: [resolve(root, 'lib/adapters/sandbox/sandbox-worker.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node24',
      outfile: resolve(outdir, WORKER_FILE),
      minify: true,
      sourcemap: 'linked',
      legalComments: 'linked',
      logLevel: 'warning',
      define: { 'import.meta.url': '__bundleUrl' },
      banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
    });
    await copyFile(wasmPath({}), resolve(outdir, WASM_FILE));
  }
  const entry = resolve(outdir, 'index.cjs');
  await copyFile(resolve(root, 'lib/platform/runtime/bundle-entry.cjs'), entry);
  await trainCodeCache(entry);
  return entry;
}

/**
 * The training run: the bundle starts with the defaults (no Redis, no Slack, no cluster; a sink
 * nothing listens on, never called) and writes its code cache once ready. The heap flags the
 * Services set in NODE_OPTIONS are not among the V8 flags a code cache is checked against.
 */
async function trainCodeCache(entry: string): Promise<void> {
  const child = spawn(process.execPath, [entry], {
    cwd: dirname(entry),
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      K_SINK: 'http://127.0.0.1:9/',
      KUBEINCIDENT_CODE_CACHE: 'write',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((ok) => child.on('exit', (c) => ok(c)));
  clearTimeout(timer);
  const cache = `${dirname(entry)}/main.cjs.cache`;
  if (code !== 0 || !existsSync(cache)) {
    throw new Error(`training run of ${entry} exited with ${code} and wrote no code cache: ${stderr.trim()}`);
  }
}

if (import.meta.main) {
  const only = process.argv.slice(2);
  const names = only.length ? only : [...FUNCTIONS];
  for (const name of names) {
    const file = await buildFunction(name);
    console.log(`built ${name} -> ${file}`);
  }
}
