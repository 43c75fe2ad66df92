// Memory given back when a function goes idle (lib/platform/runtime/idle-release.ts): when it runs, what
// keeps it from running, the collection itself, the server's part, and a real function process.
import { spawn } from 'node:child_process';
import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { createIdleRelease, gcRelease, type Timers } from '../lib/platform/runtime/idle-release.ts';
import { IDLE_RELEASE_MIN_GAP_MS } from '../lib/platform/runtime/main.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { eventually } from './support/pipeline.ts';

/** Timers on a clock the test moves by hand. */
function manualTimers() {
  let now = 1_000;
  const pending = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const timers: Timers = {
    set: (fn, ms) => {
      pending.set(++next, { at: now + ms, fn });
      return next;
    },
    clear: (h) => void pending.delete(h as number),
    now: () => now,
  };
  /** Moves the clock on, running each timer that falls due at its own time, in order. */
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const [due] = [...pending].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at);
      if (!due) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = end;
  };
  return { timers, advance, armed: () => pending.size };
}

function setup(idleMs = 250, minGapMs = 5_000) {
  const clock = manualTimers();
  const runs: number[] = [];
  const r = createIdleRelease({
    idleMs,
    minGapMs,
    release: () => runs.push(clock.timers.now()),
    timers: clock.timers,
  });
  return { r, runs, ...clock };
}

test('idle release: one release once the function has been idle for the idle time after events', (t) => {
  const { r, runs, advance, armed } = setup();
  r.idle();
  advance(10_000);
  t.deepEqual(runs, [], 'nothing handled yet, nothing to give back');
  r.busy();
  r.idle();
  advance(249);
  t.deepEqual(runs, [], 'not before the idle time');
  advance(1);
  t.deepEqual(runs, [11_250]);
  advance(60_000);
  t.is(runs.length, 1, 'one per idle spell, however long it lasts');
  t.is(armed(), 0);
});

test('idle release: an event in the idle time puts it off until the next idle spell', (t) => {
  const { r, runs, advance } = setup();
  r.busy();
  r.idle();
  advance(200);
  r.busy();
  advance(1_000);
  t.deepEqual(runs, [], 'not while an event is in flight');
  r.idle();
  advance(250);
  t.deepEqual(runs, [2_450]);
});

test('idle release: a trickle of events gets at most one release per minimum gap', (t) => {
  const { r, runs, advance } = setup(250, 5_000);
  for (let i = 0; i < 20; i++) {
    r.busy();
    r.idle();
    advance(500);
  }
  // Events every 500 ms for 10 s: releases at 250 ms, then 5 s after each.
  t.deepEqual(runs, [1_250, 6_250]);
  advance(5_000);
  t.deepEqual(runs, [1_250, 6_250, 11_250], 'the last events are given back once the gap is over');
});

test('idle release: stop disarms it', (t) => {
  const { r, runs, advance, armed } = setup();
  r.busy();
  r.idle();
  r.stop();
  t.is(armed(), 0);
  advance(10_000);
  t.deepEqual(runs, []);
});

test('idle release: the collection shrinks the young generation and leaves gc unexposed', (t) => {
  t.is((globalThis as { gc?: unknown }).gc, undefined, 'tests run without --expose-gc');
  const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  // Short-lived garbage in quantity: V8 grows the young generation to keep up with it.
  let keep = 0;
  for (let i = 0; i < 200_000; i++) keep += JSON.stringify({ i, s: 'x'.repeat(i % 100) }).length;
  t.true(keep > 0);
  const grown = newSpace();
  const release = gcRelease();
  release();
  t.true(newSpace() < grown, `young generation ${grown} -> ${newSpace()} bytes`);
  release();
  t.is((globalThis as { gc?: unknown }).gc, undefined, 'nothing put on the global object');
  t.is(runInNewContext('typeof gc'), 'undefined', '--expose-gc is set only while gc is fetched');
});

test('idle release: the server reports events, not probes or metrics scrapes, and stops it on drain', async (t) => {
  const calls: string[] = [];
  const logs = captureLogs();
  // Each event waits until both are in, so both are in flight together.
  let arrived = 0;
  let bothIn: () => void = () => {};
  const together = new Promise<void>((resolve) => {
    bothIn = resolve;
  });
  const fs = createFunctionServer(
    {
      handle: async () => {
        if (++arrived === 2) bothIn();
        await together;
        return undefined;
      },
    },
    {
      name: 'test-fn',
      log: logs.log,
      idleRelease: {
        busy: () => calls.push('busy'),
        idle: () => calls.push('idle'),
        stop: () => calls.push('stop'),
      },
    },
  );
  t.teardown(() => fs.drain(100));
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  const url = `http://127.0.0.1:${port}`;
  await (await fetch(`${url}/health/readiness`)).arrayBuffer();
  await (await fetch(`${url}/health/liveness`)).arrayBuffer();
  await (await fetch(`${url}/metrics`)).arrayBuffer();
  t.deepEqual(calls, []);
  const msg = HTTP.binary(new CloudEvent({ id: 'e1', type: 'dev.test.v1', source: '/t', data: {} }));
  const send = () =>
    fetch(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
  const [a, b] = await Promise.all([send(), send()]);
  t.is(a.status, 204);
  t.is(b.status, 204);
  t.deepEqual(calls, ['busy', 'busy', 'idle'], 'idle only once nothing is in flight');
  await fs.drain(100);
  t.is(calls.at(-1), 'stop');
});

test('idle release: a function process gives memory back after its events, and refuses a bad setting', async (t) => {
  const cli = new URL('../lib/platform/runtime/cli.ts', import.meta.url).pathname;
  const start = (env: NodeJS.ProcessEnv) =>
    spawn(process.execPath, [cli, 'dispatch-slack'], {
      env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });

  const bad = start({ IDLE_RELEASE_MS: 'soon' });
  let badOut = '';
  bad.stdout?.on('data', (d) => {
    badOut += d;
  });
  const code = await new Promise<number | null>((resolve) => bad.once('exit', resolve));
  t.is(code, 1);
  t.regex(badOut, /IDLE_RELEASE_MS/, 'the log names the setting');

  // dispatch-slack with no Slack token and no Redis: the terminal and the in-memory store.
  const child = start({ IDLE_RELEASE_MS: '50' });
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'listening' && m.port) resolve(m.port);
    });
    child.once('exit', (c) => reject(new Error(`exited with ${c}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually('ready', async () =>
    (await fetch(`${url}/health/readiness`)).status === 200 ? true : undefined,
  );
  const releases = async () =>
    Number(
      /kubeincident_idle_release_seconds_count (\d+)/.exec(
        await (await fetch(`${url}/metrics`)).text(),
      )?.[1] ?? 0,
    );
  t.is(await releases(), 0, 'none before any event');
  const msg = HTTP.binary(
    new CloudEvent({ type: 'dev.kubeincident.issue.created.v1', source: '/t', data: makeIssue() }),
  );
  const res = await fetch(url, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  t.is(res.status, 200);
  await eventually('memory given back', async () => ((await releases()) === 1 ? true : undefined), 5_000);
  // Another event inside the minimum gap waits for it; scrapes in between are not events.
  await fetch(url, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  await new Promise((r) => setTimeout(r, 300));
  t.is(await releases(), 1, `not again within ${IDLE_RELEASE_MIN_GAP_MS} ms`);
});
