// Serves one function module from source: `node lib/platform/runtime/cli.ts <function-name>`.
// The local pipeline spawns one of these per function, each its own process and port.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runFunction } from './main.ts';
import type { FunctionModule } from './types.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: node lib/platform/runtime/cli.ts <function-name>');
  process.exit(2);
}
const file = resolve(import.meta.dirname, '../../../functions', name, 'index.ts');
const mod = (await import(pathToFileURL(file).href)) as FunctionModule;
await runFunction(mod, { name });
