// lib/platform/digest.ts must give node:crypto's digests exactly: ids and fingerprints computed before it
// (and stored in Redis, or sent as CloudEvent ids) must stay the same.
import { createHash } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import { scriptSha1 as scriptSha1Module } from '../lib/adapters/store/script-sha1.ts';
import { sha256Hex } from '../lib/platform/digest.ts';
import { kernelRandom } from '../lib/platform/runtime/trace.ts';

const nodeSha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

test('sha256Hex: the known digests of the empty string and "abc"', (t) => {
  t.is(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('sha256Hex: same digest as node:crypto for any text, including non-ASCII and lone surrogates', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 2000 })),
      (s) => {
        t.is(sha256Hex(s), nodeSha256(s));
      },
    ),
    { numRuns: 500 },
  );
  // Across the 64-byte block boundary, where padding changes.
  for (let n = 50; n < 140; n++) t.is(sha256Hex('é'.repeat(n)), nodeSha256('é'.repeat(n)));
});

test('kernelRandom: the size asked for, and different bytes each time', (t) => {
  const a = kernelRandom(4096);
  const b = kernelRandom(4096);
  t.is(a.length, 4096);
  t.is(b.length, 4096);
  t.false(a.equals(b));
  // 4096 random bytes take (almost surely) more than 200 distinct values.
  t.true(new Set(a).size > 200);
});

// ioredis sends EVALSHA with this digest; Redis names a script by the SHA-1 of its bytes.
test('script-sha1: the SHA-1 node:crypto gives for any script text, and nothing it was not built for', (t) => {
  const { createHash: scriptSha1 } = scriptSha1Module();
  t.is(scriptSha1('sha1').update('abc').digest('hex'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 2000 })),
      (s) => {
        t.is(scriptSha1('sha1').update(s).digest('hex'), createHash('sha1').update(s).digest('hex'));
      },
    ),
    { numRuns: 300 },
  );
  const bytes = Buffer.from('return redis.call("GET", KEYS[1])');
  t.is(scriptSha1('sha1').update(bytes).digest('hex'), createHash('sha1').update(bytes).digest('hex'));
  t.is(
    scriptSha1('sha1').update('return ').update('1').digest('hex'),
    createHash('sha1').update('return 1').digest('hex'),
    'several updates hash their concatenation',
  );
  t.throws(() => scriptSha1('sha256'), { message: /sha1 only/ });
  t.throws(
    () =>
      scriptSha1('sha1')
        .update('x')
        .digest('base64' as 'hex'),
    { message: /hex only/ },
  );
});

test('script-sha1: a script whose digest the build computed is answered from the table, without hashing', (t) => {
  // A wrong digest in the table would be answered as is: that shows the table is what answers.
  const table = scriptSha1Module(new Map([['return 1', 'from-the-table']]));
  t.is(table.createHash('sha1').update('return 1').digest('hex'), 'from-the-table');
  t.is(
    table.createHash('sha1').update('return 2').digest('hex'),
    createHash('sha1').update('return 2').digest('hex'),
    'other text is hashed',
  );
});
