// `npm run bench` ends by itself: with a token load (--tiny) every section runs and prints its
// table, every redis-server, stand-in and child process it started is stopped, and the process
// exits 0. No timing is checked here: figures belong to the bench itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import test from 'ava';

const root = resolve(import.meta.dirname, '..');

interface Proc {
  pid: number;
  ppid: number;
  /** Clock ticks after boot: with the pid, names one process even if the pid is reused. */
  start: string;
  state: string;
  cmd: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { pid, ppid: Number(f[1]), start: f[19] ?? '', state: f[0] ?? '', cmd };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Every process below `rootPid` right now. */
function descendants(rootPid: number): Proc[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is Proc => p !== undefined);
  const found: Proc[] = [];
  const parents = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Still running: the same process (pid and start time), not a zombie waiting to be reaped. */
const alive = (p: Proc): boolean => {
  const now = readProc(p.pid);
  return now !== undefined && now.start === p.start && now.state !== 'Z';
};

function exited(child: ChildProcess, timeoutMs: number) {
  return new Promise<{ code: number | null; signal: string | null; timedOut: boolean }>((done) => {
    const timer = setTimeout(() => done({ code: null, signal: null, timedOut: true }), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, timedOut: false });
    });
  });
}

test('bench: a --tiny run prints every table, stops everything it started and exits 0 by itself', async (t) => {
  // Generous: the test is about exiting, not speed, and a shared machine runs every section slowly.
  t.timeout(420_000);
  const child = spawn(process.execPath, [resolve(root, 'scripts/bench.ts'), '--tiny'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  // Every process the bench starts, at any depth (the pipeline's functions are grandchildren).
  const seen = new Map<string, Proc>();
  const watch = setInterval(() => {
    for (const p of descendants(child.pid as number)) seen.set(`${p.pid}/${p.start}`, p);
  }, 50);
  const end = await exited(child, 360_000);
  clearInterval(watch);
  const left = async () => {
    // Stops are awaited before the bench exits; a moment more lets a grandchild's exit land.
    const deadline = Date.now() + 5000;
    let running = [...seen.values()].filter(alive);
    while (running.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      running = running.filter(alive);
    }
    return running;
  };
  const running = await left();
  // Whatever a failed run left is ours to end: only the processes this test saw the bench start.
  if (end.timedOut) child.kill('SIGKILL');
  for (const p of running) process.kill(p.pid, 'SIGKILL');

  if (end.timedOut || end.code !== 0) t.log(stderr.slice(-3000));
  t.false(end.timedOut, 'the bench exits by itself');
  t.deepEqual(
    running.map((p) => p.cmd),
    [],
    'no redis-server, stand-in or child process is left running',
  );
  t.is(end.code, 0);
  const names = [...seen.values()].map((p) => p.cmd);
  t.true(
    names.some((c) => c.includes('redis-server')),
    'the watch saw the redis-servers it checks for',
  );
  t.true(
    names.some((c) => c.includes('scripts/start.ts')),
    'and the pipeline the latency section runs',
  );

  for (const heading of [
    /^\| what +\| ready ms +\|/m,
    /^\| alerts per request +\|/m,
    /^Redis path \(dispatch decisions vs redis-benchmark\)$/m,
    /^End-to-end latency through the local pipeline$/m,
    /^Storm folded to Slack’s rate$/m,
    /^Enrichment$/m,
    /^Kubernetes Events$/m,
    /^Redis memory$/m,
    /^Change tracking: Deployment updates$/m,
  ]) {
    t.regex(stdout, heading);
  }
  t.false(/\| error\s+\|/.test(stdout), 'no section failed');
});
