// The workflow directory, reloaded live: a file that fails to compile or to define a workflow is
// logged and counted while the others keep running; an edited or removed file takes effect
// without a restart; ConfigMap volume internals (`..data`) are not workflows.
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import test from 'ava';
import { createEnginePool } from '../lib/adapters/sandbox/engine.ts';
import { inProcessSandbox } from '../lib/adapters/sandbox/sandbox.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { type LoadProblem, openCatalog } from '../lib/stages/workflows/catalog.ts';
import { eventually } from './support/pipeline.ts';
import { alertWorkflow } from './support/workflows.ts';

async function replace(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

function logSink() {
  const lines: Array<{ msg: string; file?: string; problem?: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: createLogger({ name: 'test', level: 'info', destination: stream }) };
}

test('catalog: a broken file is logged and counted, the others load; edits and removals apply live', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'workflows-catalog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'a-good.ts'),
    alertWorkflow('good', "return { blocks: [{ type: 'markdown', text: 'v1' }] };"),
  );
  await writeFile(join(dir, 'b-syntax.ts'), 'export default { name: "x", triggers: [ ;');
  await writeFile(
    join(dir, 'c-nameless.ts'),
    'export default { triggers: [{ on: "alert" }], run() { return null; } };',
  );
  await writeFile(join(dir, 'notes.md'), '# not a workflow');
  await mkdir(join(dir, '..2026_12_08_01_00_00.123'));
  const { lines, log } = logSink();
  const problems: LoadProblem[] = [];
  const catalog = await openCatalog({
    directory: dir,
    sandbox: inProcessSandbox(createEnginePool()),
    log,
    pollMs: 100,
    onProblem: (p) => problems.push(p),
  });
  t.teardown(() => catalog.close());

  t.deepEqual(
    catalog.current().map((w) => [w.file, w.name]),
    [['a-good.ts', 'good']],
  );
  t.deepEqual(
    problems.map((p) => p.file),
    ['b-syntax.ts', 'c-nameless.ts'],
  );
  t.regex(problems[0]?.problem ?? '', /^does not compile: /);
  t.regex(problems[1]?.problem ?? '', /^invalid workflow: .*name/);
  t.is(lines.filter((l) => l.msg === 'workflow not loaded: the others keep running').length, 2);

  // Fixed and edited files take effect on the next reload; problems are not logged again. Written
  // whole and renamed into place, as a ConfigMap update swaps its files (a half-written file
  // would be a problem of its own).
  await replace(join(dir, 'b-syntax.ts'), alertWorkflow('fixed', 'return null;'));
  await replace(
    join(dir, 'a-good.ts'),
    alertWorkflow('good', "return { blocks: [{ type: 'markdown', text: 'v2' }] };"),
  );
  const edited = () =>
    catalog
      .current()
      .find((w) => w.name === 'good')
      ?.script.includes("'v2'") === true;
  await eventually('the fixed and the edited file loaded', () =>
    catalog.current().some((w) => w.name === 'fixed') && edited() ? true : undefined,
  );
  t.deepEqual(
    catalog.problems().map((p) => p.file),
    ['c-nameless.ts'],
  );
  t.is(problems.length, 2, 'a problem that stays is counted once');

  await unlink(join(dir, 'a-good.ts'));
  await eventually('the removed file unloaded', () =>
    catalog.current().every((w) => w.name !== 'good') ? true : undefined,
  );
  t.deepEqual(
    catalog.current().map((w) => w.name),
    ['fixed'],
  );
});

test('catalog: two files defining the same name keep the first', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'workflows-catalog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'one.ts'), alertWorkflow('same', 'return null;'));
  await writeFile(join(dir, 'two.ts'), alertWorkflow('same', 'return null;'));
  const { log } = logSink();
  const catalog = await openCatalog({
    directory: dir,
    sandbox: inProcessSandbox(createEnginePool()),
    log,
    pollMs: 60_000,
  });
  t.teardown(() => catalog.close());
  t.deepEqual(
    catalog.current().map((w) => w.file),
    ['one.ts'],
  );
  t.deepEqual(catalog.problems(), [{ file: 'two.ts', problem: 'a second workflow named same' }]);
});
