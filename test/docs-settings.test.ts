// Every setting a function reads from its environment is in docs/configuration.md's table: the
// schemas in lib/platform/env.ts and lib/stages/env.ts are the list, so a setting added there
// without a row fails here.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import test from 'ava';
import * as platformEnv from '../lib/platform/env.ts';
import * as stageEnv from '../lib/stages/env.ts';

const root = resolve(import.meta.dirname, '..');

/** The keys of every zod object schema a module exports. */
function settingsOf(mod: Record<string, unknown>): string[] {
  return Object.values(mod).flatMap((v) => {
    const shape = (v as { shape?: Record<string, unknown> } | undefined)?.shape;
    return shape && typeof shape === 'object' ? Object.keys(shape) : [];
  });
}

test('docs: every environment setting of every function has a row in docs/configuration.md', async (t) => {
  const docs = await readFile(resolve(root, 'docs/configuration.md'), 'utf8');
  const rows = docs.split('\n').filter((l) => l.startsWith('| `'));
  const documented = new Set(
    rows.flatMap((r) => [...(r.split(' | ')[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
  );
  const settings = [...new Set([...settingsOf(platformEnv), ...settingsOf(stageEnv)])].sort();
  t.true(settings.length > 30, `${settings.length} settings found`);
  t.deepEqual(
    settings.filter((s) => !documented.has(s)),
    [],
  );
});
