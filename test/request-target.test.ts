// Request targets a stranger can send (`POST //`, absolute forms, broken ports and escapes) at
// every function and at the broker of the running pipeline: each gets a 4xx, and no process dies.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { FUNCTIONS as ALL_FUNCTIONS, DESTINATION_FUNCTIONS } from '../lib/platform/functions.ts';

// Without a config file naming their types, `npm start` runs no incident destination function.
const FUNCTIONS = ALL_FUNCTIONS.filter((f) => DESTINATION_FUNCTIONS[f] === undefined);

import { type RunningPipeline, startPipeline } from './support/pipeline.ts';
import { rawRequest } from './support/raw-http.ts';

// Targets that broke servers here or elsewhere: `new URL()` throws on the first eight.
const KNOWN = [
  '//',
  '///',
  '//x:99999',
  'http://',
  '//@',
  '//[',
  '/\\\\',
  'http://a:99999/',
  '*',
  '//x',
  '/%',
  '/%zz',
  '/%00',
  '/..',
  '/?%',
  '/api/alerts?%zz=%',
  'https://x/api/alerts',
  `/${'a'.repeat(6000)}`,
];

const PIECES = [
  '/',
  '//',
  '?',
  '#',
  '%',
  '%zz',
  '%ff',
  '@',
  ':',
  ':99999',
  '[',
  ']',
  '\\',
  '..',
  'http://',
  '*',
];
// Bytes a request line may carry: printable ASCII without space, plus obs-text.
const targetChar = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
);
const target = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 }).map((a) => a.join('')),
  fc
    .array(fc.oneof(fc.constantFrom(...PIECES), targetChar), { minLength: 1, maxLength: 20 })
    .map((a) => a.join('')),
);

const post = (port: number, t: string) =>
  rawRequest(
    port,
    Buffer.from(`POST ${t} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`, 'latin1'),
  );

let pipeline: RunningPipeline | undefined;

test.before(async () => {
  const work = await mkdtemp(join(tmpdir(), 'targets-'));
  pipeline = await startPipeline({
    WEBHOOK_BEARER_TOKEN: 'target-fuzz-token',
    DEAD_LETTER_FILE: join(work, 'dead-letters.jsonl'),
  });
});
test.after.always(async () => {
  await pipeline?.stop();
});

test('request targets: every function and the broker answer each fuzzed target with a 4xx and stay up', async (t) => {
  const p = pipeline as RunningPipeline;
  const before = await p.pids();
  const servers: Array<[string, number]> = [
    ...FUNCTIONS.map((fn): [string, number] => [fn, p.ports[fn] as number]),
    ['broker', Number(new URL(p.broker).port)],
  ];
  t.deepEqual(Object.keys(p.ports).sort(), [...FUNCTIONS].sort(), 'the pipeline started every function');
  for (const [name, port] of servers) {
    t.truthy(port, `${name} has a port`);
    for (const k of KNOWN) {
      const answer = await post(port, k);
      t.true(
        answer.status >= 400 && answer.status < 500,
        `${name}: POST ${k.slice(0, 40)} -> ${answer.status}`,
      );
    }
    await fc.assert(
      fc.asyncProperty(target, async (tg) => {
        const answer = await post(port, tg);
        if (answer.status < 400 || answer.status >= 500)
          throw new Error(`${name}: POST ${JSON.stringify(tg)} answered ${answer.status || 'nothing'}`);
      }),
      { numRuns: 60 },
    );
  }
  t.deepEqual(await p.pids(), before, 'no process died and was restarted');
  for (const [name, port] of servers.slice(0, FUNCTIONS.length)) {
    const res = await fetch(`http://127.0.0.1:${port}/health/liveness`);
    t.is(res.status, 200, `${name} is alive`);
  }
  t.notRegex(p.output(), /function exited; restarting/);
});
