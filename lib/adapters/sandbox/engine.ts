// The QuickJS engine (compiled to WebAssembly) that runs operators' workflow code. The .wasm is
// compiled once per process; each run borrows an instance of its own from a pool, whose linear
// memory is created here with a fixed maximum. That maximum is the memory limit that holds:
// QuickJS's own (runtime.setMemoryLimit) counts 8 bytes per allocation in this build, as
// Emscripten's malloc reports no usable size, so big strings and arrays never add up to it.
// A run past the maximum gets "out of memory" from QuickJS, not a host crash.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';

export type { QuickJSWASMModule as Engine };

export const WASM_FILE = 'quickjs.wasm';

// The package's types describe its CommonJS face; ESM and the bundle hand over the variant itself.
const mod = releaseSync as unknown as QuickJSSyncVariant & { default?: QuickJSSyncVariant };
const RELEASE_SYNC: QuickJSSyncVariant = mod.default ?? mod;

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

// @types/node declares WebAssembly's types but not the global's value.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/** What the engine itself takes before any guest code (Emscripten's default initial memory). */
const BASE_PAGES = 256;
/** Idle instances kept per memory limit; more concurrent runs make more, then drop them. */
const IDLE_KEPT = 4;

export interface Lease {
  engine: QuickJSWASMModule;
  /** Whether the instance's memory grew past half its allowance (a run that failed then ran out of it). */
  full(): boolean;
  /** Gives the instance back; a broken one (or one grown large) is dropped instead. */
  release(broken: boolean): void;
}

export interface EnginePool {
  acquire(memoryLimitBytes: number): Promise<Lease>;
}

export interface PoolOptions {
  path?: string;
  /** Another build of the same engine (tests use the debug build, which asserts on leaks). */
  variant?: QuickJSSyncVariant;
}

/** A pool of engine instances over one compiled module. */
export function createEnginePool(opts: PoolOptions = {}): EnginePool {
  const variant = opts.variant ?? RELEASE_SYNC;
  let compiled: Promise<object | undefined> | undefined;
  // The debug variant brings its own .wasm (resolved by its package); the release one is ours.
  const compile = () => {
    compiled ??= opts.variant
      ? Promise.resolve(undefined)
      : WASM.compile(readFileSync(opts.path ?? wasmPath()));
    return compiled;
  };
  const idle = new Map<number, Lease[]>();
  return {
    async acquire(limit) {
      const pages = BASE_PAGES + Math.ceil(limit / PAGE);
      const kept = idle.get(pages)?.pop();
      if (kept) return kept;
      const wasmModule = await compile();
      const wasmMemory = new WASM.Memory({ initial: BASE_PAGES, maximum: pages });
      const half = (BASE_PAGES + (pages - BASE_PAGES) / 2) * PAGE;
      // The debug build aborts the process when its memory cannot grow (release returns NULL to
      // QuickJS), so it runs without the fixed maximum: tests of leaks, not of the limit.
      const engine = await newQuickJSWASMModuleFromVariant(
        newVariant(
          variant,
          wasmModule ? { wasmModule: wasmModule as never, wasmMemory: wasmMemory as never } : {},
        ),
      );
      const lease: Lease = {
        engine,
        full: () => wasmModule !== undefined && wasmMemory.buffer.byteLength > half,
        release(broken) {
          const list = idle.get(pages) ?? [];
          // An instance that grew past half its allowance would start the next run with less.
          if (broken || wasmMemory.buffer.byteLength > half) return;
          if (list.length < IDLE_KEPT) list.push(lease);
          idle.set(pages, list);
        },
      };
      return lease;
    },
  };
}
