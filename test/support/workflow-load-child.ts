// Loads one workflow file in a process of its own and prints how it went, for a test that pauses
// this process (SIGSTOP) during the load, as a busy machine does. Argument: JSON of
// { source, limits }. Prints `loading` just before the load, then one JSON line:
// { problem?, wallMs, cpuMs }.
import type { SandboxLimits } from '../../lib/adapters/sandbox/sandbox.ts';
import { loadWorkflowFile } from '../../lib/stages/workflows/catalog.ts';
import { loadSource, shared } from './workflows.ts';

const { source, limits } = JSON.parse(process.argv[2] ?? '{}') as { source: string; limits: SandboxLimits };
// The engine instance and the transpiler warmed first: the load below starts its guest at once.
await loadSource("export default { name: 'warm', triggers: [{ on: 'alert' }], run: () => null };");
process.stdout.write('loading\n');
const wall = performance.now();
const cpu = process.threadCpuUsage();
const r = await loadWorkflowFile('heavy.ts', source, shared, limits);
const used = process.threadCpuUsage(cpu);
process.stdout.write(
  `${JSON.stringify({
    problem: 'problem' in r ? r.problem : undefined,
    wallMs: performance.now() - wall,
    cpuMs: (used.user + used.system) / 1000,
  })}\n`,
);
