// The lint step's import check (scripts/check-imports.ts): it refuses cycles (type imports
// included), a lib/ layer importing a layer above it, loose files in lib/ and folder cycles, and
// this repository passes it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import test from 'ava';
import { checkImports } from '../scripts/check-imports.ts';

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'imports-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

test('check-imports: cycles, upward imports, loose lib/ files and folder cycles are refused', async (t) => {
  const root = await tree({
    'lib/platform/log.ts': "import type { Issue } from '../domain/issue.ts';\nexport const x = 1;\n",
    'lib/domain/issue.ts': 'export type Issue = { id: string };\n',
    'lib/stages/a/one.ts': "import { two } from './two.ts';\nexport const one = two;\n",
    'lib/stages/a/two.ts': "import type { one } from './one.ts';\nexport const two = 2;\n",
    'lib/stages/b/x.ts': "import { y } from '../c/y.ts';\nexport const x = y;\n",
    'lib/stages/c/y.ts': "export const y = 1;\nexport const z = () => import('../b/x.ts');\n",
    'lib/loose.ts': 'export const loose = 1;\n',
    'functions/f/index.ts': "import { one } from '../../lib/stages/a/one.ts';\nexport { one };\n",
  });
  t.teardown(() => rm(root, { recursive: true, force: true }));
  t.deepEqual(checkImports(root).sort(), [
    'folder cycle in lib/: lib/stages/b -> lib/stages/c',
    'import cycle: lib/stages/a/one.ts -> lib/stages/a/two.ts',
    'import cycle: lib/stages/b/x.ts -> lib/stages/c/y.ts',
    'lib/loose.ts: lib/ files belong in a layer (platform, domain, adapters, stages)',
    'lib/platform/log.ts imports lib/domain/issue.ts: a layer imports only the layers below it',
  ]);
});

test('check-imports: this repository has no import cycle and lib/ is layered', (t) => {
  t.deepEqual(checkImports(resolve(import.meta.dirname, '..')), []);
});
