// The QuickJS engine (compiled to WebAssembly) that runs operators' workflow code: loaded once per
// process, then a fresh runtime per run (sandbox.ts). The .wasm file is read from beside the
// bundle in an image (scripts/build.ts copies it) or from the package in development.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';

// The package's types describe its CommonJS face; ESM and the bundle hand over the variant itself.
const mod = releaseSync as unknown as QuickJSSyncVariant & { default?: QuickJSSyncVariant };
const RELEASE_SYNC: QuickJSSyncVariant = mod.default ?? mod;

export type { QuickJSWASMModule as Engine };

export const WASM_FILE = 'quickjs.wasm';

/**
 * Where the engine's .wasm file is: `QUICKJS_WASM`, beside a bundle's script, else the installed
 * package under the working directory (development, tests and `npm start` run from the root;
 * no import.meta here, which a CommonJS bundle does not have).
 */
export function wasmPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.QUICKJS_WASM) return env.QUICKJS_WASM;
  const beside = process.argv[1] ? join(dirname(process.argv[1]), WASM_FILE) : undefined;
  if (beside && existsSync(beside)) return beside;
  return resolve('node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm');
}

let loading: Promise<QuickJSWASMModule> | undefined;

/** The engine, compiled once per process (~20 ms); every run after that only makes a runtime. */
export function loadEngine(path = wasmPath(), fresh = false): Promise<QuickJSWASMModule> {
  if (fresh) loading = undefined;
  loading ??= (async () => {
    const bytes = readFileSync(path);
    const wasmBinary = bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer;
    return newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmBinary }));
  })();
  return loading;
}
