// Loading a workflow file (its top level, then the definition it exports) is limited by the CPU
// time it takes, not the wall-clock time: a file that is fine loads even when the machine stalls
// the process longer than the limit in the middle of it, and a top level that spins is still
// refused. The stall is real: the loading process is stopped (SIGSTOP) and continued.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import test from 'ava';
import { LOAD_LIMITS, loadWorkflowFile } from '../lib/stages/workflows/catalog.ts';
import { shared } from './support/workflows.ts';

/** A top level that computes for about half a second of CPU (QuickJS, release build) before defining. */
const HEAVY = `let acc = 0;
for (let i = 0; i < 20_000_000; i++) acc = (acc + i) % 1000003;
export default { name: 'heavy', triggers: [{ on: 'alert' }], run: () => ({ blocks: [{ type: 'markdown', text: String(acc) }] }) };`;

const CPU_LIMIT_MS = 3000;
const STALL_MS = CPU_LIMIT_MS + 500;

test('workflows load: a process stalled longer than the load limit, mid-load, still loads a fine file', async (t) => {
  const limits = { ...LOAD_LIMITS, cpuTimeoutMs: CPU_LIMIT_MS };
  const child = spawn(
    process.execPath,
    ['test/support/workflow-load-child.ts', JSON.stringify({ source: HEAVY, limits })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    t.is((await lines.next()).value, 'loading');
    // Well into the guest's top level, then a stall longer than the whole CPU allowance.
    await sleep(150);
    child.kill('SIGSTOP');
    await sleep(STALL_MS);
    child.kill('SIGCONT');
    const out = JSON.parse(String((await lines.next()).value)) as {
      problem?: string;
      wallMs: number;
      cpuMs: number;
    };
    t.is(out.problem, undefined);
    // The stall fell inside the load (else this test proved nothing), and the CPU time stayed under.
    t.true(out.wallMs > STALL_MS, `the load took ${out.wallMs} ms`);
    t.true(out.cpuMs < CPU_LIMIT_MS, `the load used ${out.cpuMs} ms of CPU`);
  } finally {
    await stop(child);
  }
});

test('workflows load: a top level that spins is refused once it has used the CPU allowance', async (t) => {
  const started = performance.now();
  const r = await loadWorkflowFile(
    'spin.ts',
    "for (;;) {}\nexport default { name: 'spin', triggers: [{ on: 'alert' }], run: () => null };",
    shared,
    { ...LOAD_LIMITS, cpuTimeoutMs: 300 },
  );
  t.deepEqual(r, { file: 'spin.ts', problem: 'does not load: used more than 300 ms of CPU time' });
  // Stopped by the CPU allowance, far below the wall-clock backstop.
  t.true(performance.now() - started < LOAD_LIMITS.timeoutMs);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}
