// Builds one self-contained bundle per function into dist/<name>/ (index.mjs plus lazily
// loaded chunks): it starts with `node dist/<name>/index.mjs` and needs no node_modules.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { FUNCTIONS } from '../lib/functions.ts';

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
 * (never called: lib/runtime/sink.ts sends events) requires node:https; both bring OpenSSL's
 * set-up, which a plain redis:// connection or http sink never needs. The CloudEvents SDK's
 * uuid requires node:crypto at load, for ids we always set ourselves; pino's sonic-boom
 * requires node:assert for its argument checks; @slack/web-api requires node:zlib for the one
 * gzip answer Slack has (admin.analytics.getFile). Anything that does use them (a TLS connection, an https request,
 * a random UUID, a failed assertion, a file upload's multipart encoding) loads them at that
 * moment; so does our own code's node:crypto (webhook credentials, the trace-id fallback),
 * while ids are hashed without it (lib/digest.ts).
 */
const LOADED_ON_USE = new Set(['tls', 'https', 'crypto', 'assert', 'zlib']);

/**
 * A stand-in module that loads the built-in at its first use, then forwards everything to it.
 * Until then it lists the built-in's export names as read at build time (the bundle runs on the
 * Node it was built with): esbuild's ES-module interop copies a CommonJS module's keys when an
 * ES module imports it (uuid does `import crypto from 'crypto'`), and listing them must not
 * load the module. Each listed property is a getter that loads it when read.
 */
function onFirstUse(id: string): string {
  const names = Object.getOwnPropertyNames(process.getBuiltinModule(id));
  return `let m;
const load = () => (m ??= require(${JSON.stringify(id)}));
const names = ${JSON.stringify(names)};
module.exports = new Proxy({}, {
  // Interop helpers ask this before anything else; a built-in is never an ES module.
  get: (_, k) => (k === '__esModule' ? undefined : load()[k]),
  has: (_, k) => k in load(),
  ownKeys: () => (m ? Reflect.ownKeys(m) : [...names]),
  getOwnPropertyDescriptor: (_, k) => {
    if (!m && typeof k === 'string' && names.includes(k))
      return { get: () => load()[k], enumerable: true, configurable: true };
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  },
});`;
}

/**
 * ioredis adds its ~240 command methods, twice each (`get`, `getBuffer`), to
 * `Commander.prototype` in a loop. V8 keeps that prototype in fast mode, so every addition
 * copies the prototype's descriptor array: garbage that grows with the square of the number
 * of methods while the module loads, which grows the heap and brings a mark-compact before
 * the function is ready (`npm run bench -- --only cold` shows it in the Redis functions'
 * start-up and idle RSS).
 * Deleting a property first puts the prototype in dictionary mode, where each addition is a
 * hash-table insert; V8 makes it fast again, in one copy, once objects use it. Nothing else
 * about the module changes. The build fails if ioredis's loop ever reads differently.
 */
const COMMANDER = /[\\/]ioredis[\\/]built[\\/]utils[\\/]Commander\.js$/;
const COMMANDER_LOOP = 'commands.forEach(function (commandName) {';
const ioredisCommandsInDictionaryMode: Plugin = {
  name: 'ioredis-commands-in-dictionary-mode',
  setup(b) {
    b.onLoad({ filter: COMMANDER }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const at = text.indexOf(COMMANDER_LOOP);
      if (at < 0 || text.indexOf(COMMANDER_LOOP, at + 1) >= 0)
        throw new Error(
          `${args.path}: expected one "${COMMANDER_LOOP}"; revisit this plugin for this ioredis`,
        );
      const normalize =
        'Commander.prototype.__dictionaryMode = 0;\ndelete Commander.prototype.__dictionaryMode;\n';
      return { contents: text.slice(0, at) + normalize + text.slice(at), loader: 'js' };
    });
  },
};

/**
 * ioredis's Script module (EVALSHA names) requires `crypto` for one createHash('sha1') per Lua
 * script, at start-up. In the bundles it gets lib/store/script-sha1.ts instead, with the
 * digests of our scripts computed here: a function that uses Redis over redis:// loads neither
 * node:crypto nor OpenSSL's digests for them, and hashes nothing while it starts.
 */
const IOREDIS_SCRIPT = /[\\/]ioredis[\\/]built[\\/]Script\.js$/;
const ioredisScriptSha1: Plugin = {
  name: 'ioredis-script-sha1',
  setup(b) {
    b.onResolve({ filter: /^(node:)?crypto$/ }, (args) =>
      IOREDIS_SCRIPT.test(args.importer) ? { path: 'script-sha1', namespace: 'ki-script-sha1' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'ki-script-sha1' }, async () => {
      const { SCRIPTS } = await import('../lib/store/redis.ts');
      const known = Object.values(SCRIPTS).map(({ lua }) => [
        lua,
        createHash('sha1').update(lua).digest('hex'),
      ]);
      return {
        contents: [
          `import { scriptSha1 } from ${JSON.stringify(resolve(root, 'lib/store/script-sha1.ts'))};`,
          `export const { createHash } = scriptSha1(new Map(${JSON.stringify(known)}));`,
        ].join('\n'),
        loader: 'js',
        resolveDir: root,
      };
    });
  },
};

export async function buildFunction(name: string, outRoot = resolve(root, 'dist')): Promise<string> {
  const outdir = resolve(outRoot, name);
  await rm(outdir, { recursive: true, force: true });
  await build({
    stdin: {
      contents: [
        `import * as mod from ${JSON.stringify(resolve(root, 'functions', name, 'index.ts'))};`,
        `import { runFunction } from ${JSON.stringify(resolve(root, 'lib/runtime/main.ts'))};`,
        `await runFunction(mod, { name: ${JSON.stringify(name)} });`,
      ].join('\n'),
      resolveDir: root,
      sourcefile: `${name}-entry.ts`,
      loader: 'ts',
    },
    bundle: true,
    // Splitting keeps dynamic imports (Kubernetes client, Slack client, Redis, OTLP) in
    // their own chunks, loaded only by the code path that needs them.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outdir,
    entryNames: 'index',
    outExtension: { '.js': '.mjs' },
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [ioredisScriptSha1, builtinsViaRequire, ioredisCommandsInDictionaryMode],
    // Bundled CommonJS packages still call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return resolve(outdir, 'index.mjs');
}

if (import.meta.main) {
  const only = process.argv.slice(2);
  const names = only.length ? only : [...FUNCTIONS];
  for (const name of names) {
    const file = await buildFunction(name);
    console.log(`built ${name} -> ${file}`);
  }
}
