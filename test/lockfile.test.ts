// `npm ci` (what CI runs on a fresh clone) refuses a lock file that misses any optional
// dependency of a locked package, even one for another platform that npm would skip here.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import test from 'ava';

const root = resolve(import.meta.dirname, '..');

test('lock file: every optional dependency of every locked package is locked too, so npm ci stays in sync', async (t) => {
  const lock = JSON.parse(await readFile(resolve(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { optionalDependencies?: Record<string, string> }>;
  };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      // npm resolves a dependency next to its dependant first, then at the top level.
      const nested = `${path ? `${path}/` : ''}node_modules/${dep}`;
      if (!(nested in lock.packages) && !(`node_modules/${dep}` in lock.packages))
        missing.push(`${dep} (of ${path || 'the root'})`);
    }
  }
  t.deepEqual(missing, []);
});
