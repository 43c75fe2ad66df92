// Process helpers for the benchmarks: spawn a server, time it to readiness, read its RSS.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface Started {
  child: ChildProcess;
  port: number;
  /** Milliseconds from spawn to the first 200 from the readiness URL. */
  readyMs: number;
  spawnedAt: bigint;
}

export const msSince = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

/** Spawns `node <file>` with PORT set and polls `readyPath` until it answers 200. */
export async function spawnServer(
  file: string,
  env: NodeJS.ProcessEnv,
  port: number,
  readyPath = '/health/readiness',
  cwd?: string,
): Promise<Started> {
  const spawnedAt = process.hrtime.bigint();
  const child = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
    ...(cwd ? { cwd } : {}),
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${readyPath}`);
      await res.arrayBuffer();
      if (res.status === 200) return { child, port, readyMs: msSince(spawnedAt), spawnedAt };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${file} not ready within 20 s`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

// Below Linux's ephemeral range (32768+), where outgoing sockets would collide, from a random start.
// Ports something already listens on (other services on the machine) are skipped.
let nextPort = 20000 + Math.floor(Math.random() * 10000);
export function freePort(): number {
  const busy = listeningPorts();
  while (busy.has(nextPort)) nextPort++;
  return nextPort++;
}

/** TCP ports in LISTEN state, from /proc/net/tcp{,6} (empty where /proc is not Linux's). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
      if (f[3] === '0A') ports.add(Number.parseInt(f[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The environment a function's Knative Service gives its process that changes how Node runs
 * (NODE_OPTIONS: V8's heap) and how its memory is allocated (GLIBC_TUNABLES: malloc), so bundles
 * are measured as deployed.
 */
export function deployedEnv(fn: string): NodeJS.ProcessEnv {
  const file = resolve(import.meta.dirname, '../../knative/services', `${fn}.yaml`);
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    spec?: {
      template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } };
    };
  };
  const env = doc.spec?.template?.spec?.containers?.[0]?.env ?? [];
  const out: NodeJS.ProcessEnv = {};
  for (const name of ['NODE_OPTIONS', 'GLIBC_TUNABLES']) {
    const value = env.find((e) => e.name === name)?.value;
    if (value !== undefined) out[name] = value;
  }
  return out;
}
