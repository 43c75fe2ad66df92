// Attribute values in ce-* headers, percent-encoded and decoded as the CloudEvents HTTP binding
// (1.0.2, §3.1.3.2) says, from the codec itself through the sink and the runtime over real HTTP.
import test from 'ava';
import { CloudEvent } from 'cloudevents';
import fc from 'fast-check';
import { decodeCloudEvent, decodeHeaderValue } from '../lib/platform/cloudevents/decode.ts';
import { binaryMessage, encodeHeaderValue } from '../lib/platform/cloudevents/encode.ts';
import { BadRequestError } from '../lib/platform/errors.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { createSink } from '../lib/platform/runtime/sink.ts';
import { NUM_RUNS } from './support/arbitraries.ts';
import { captureLogs } from './support/logs.ts';
import { startRecordingSink } from './support/sink.ts';

// Japanese, an emoji (a surrogate pair), a control character, a quote, a percent, a space.
const AWKWARD = '日本語 😀 \u0007 "q" 100%';

test('encodeHeaderValue: the binding example, and only printable ASCII without space, quote or bare percent', (t) => {
  t.is(encodeHeaderValue('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
  t.is(encodeHeaderValue('Pod/payments/api-7d9f'), 'Pod/payments/api-7d9f', 'plain values stay as written');
  t.is(encodeHeaderValue('a\ud800b'), 'a%EF%BF%BDb', 'a lone surrogate has no UTF-8: U+FFFD');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
      const encoded = encodeHeaderValue(s);
      return /^(?:[\x21\x23\x24\x26-\x7e]|%[0-9A-F]{2})*$/.test(encoded);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('decodeHeaderValue undoes encodeHeaderValue for any string, and refuses escapes that are not UTF-8', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
      return decodeHeaderValue('ce-subject', encodeHeaderValue(s)) === s.toWellFormed();
    }),
    { numRuns: NUM_RUNS },
  );
  t.is(decodeHeaderValue('ce-x', '%41%62c'), 'Abc', 'needless escapes are accepted');
  t.is(decodeHeaderValue('ce-x', '"a \\"b\\""'), 'a "b"', 'a quoted string from an older sender');
  t.is(decodeHeaderValue('ce-x', '50% off'), '50% off', 'a % that starts no escape is kept');
  t.is(decodeHeaderValue('ce-x', '%EF%BB%BFx'), '\ufeffx', 'a leading U+FEFF is content');
  for (const bad of ['%C0%A0', '%FF', '%E2%82']) {
    const err = t.throws(() => decodeHeaderValue('ce-subject', bad));
    t.true(err instanceof BadRequestError, bad);
    t.regex(err?.message ?? '', /ce-subject is not percent-encoded UTF-8/);
  }
});

test('decodeCloudEvent refuses structured events without id or specversion, and extensions no header can carry', (t) => {
  const structured = (obj: unknown) =>
    decodeCloudEvent({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify(obj)));
  const base = { specversion: '1.0', id: 'e1', source: '/s', type: 't' };
  t.is(structured(base).id, 'e1');
  const cases: Array<[unknown, RegExp]> = [
    [{ ...base, id: undefined }, /id is required/],
    [{ ...base, specversion: undefined }, /specversion is required/],
    [{ ...base, specversion: '2.0' }, /unsupported CloudEvents specversion "2.0"/],
    [{ ...base, team: { name: 'x' } }, /extension team must be a string, number or boolean/],
    [{ ...base, team: null }, /extension team/],
    [[base], /not a JSON object/],
  ];
  for (const [obj, message] of cases) {
    const err = t.throws(() => structured(obj), undefined, JSON.stringify(obj));
    t.true(err instanceof BadRequestError);
    t.regex(err?.message ?? '', message);
  }
  const binary = t.throws(() =>
    decodeCloudEvent({ 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' }, Buffer.alloc(0)),
  );
  t.regex(binary?.message ?? '', /specversion is required/);
});

test('binaryMessage round-trips any attribute value through decodeCloudEvent', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), (s) => {
      const event = new CloudEvent({ id: 'e1', source: '/s', type: 't', subject: s, team: s, data: { s } });
      const msg = binaryMessage(event);
      const back = decodeCloudEvent(msg.headers, Buffer.from(msg.body));
      return back.subject === s.toWellFormed() && back.team === s.toWellFormed();
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('sink: an event whose attributes are past Latin-1 goes out encoded instead of failing forever', async (t) => {
  const recorder = await startRecordingSink();
  t.teardown(() => recorder.close());
  const sink = createSink({ url: recorder.url, overrides: { team: 'paiements équipe 🚀' } });
  t.teardown(() => sink.close());
  await sink.send([new CloudEvent({ id: 'e1', source: '/s', type: 't', subject: AWKWARD, data: {} })]);
  const [req] = recorder.requests;
  if (!req) return t.fail('nothing reached the sink');
  t.is(req.headers['ce-subject'], encodeHeaderValue(AWKWARD));
  const event = decodeCloudEvent(req.headers, Buffer.from(req.body));
  t.is(event.subject, AWKWARD);
  t.is(event.team, 'paiements équipe 🚀', 'K_CE_OVERRIDES values are encoded too');
});

test('runtime: a binary event with encoded attributes reaches handle decoded, and its reply goes out encoded', async (t) => {
  const seen: CloudEvent<unknown>[] = [];
  const logs = captureLogs();
  const fs = createFunctionServer(
    {
      handle: (_ctx, event) => {
        if (event) seen.push(event);
        return new CloudEvent({ type: 'dev.test.reply.v1', source: '/test', subject: `re: ${AWKWARD}` });
      },
    },
    { name: 'test-fn', log: logs.log },
  );
  const port = await fs.listen(0, '127.0.0.1');
  fs.setReady(true);
  t.teardown(() => fs.drain(100));
  const msg = binaryMessage(
    new CloudEvent({ id: 'e1', source: '/s', type: 't', subject: AWKWARD, data: {} }),
  );
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: msg.headers,
    body: msg.body,
  });
  t.is(res.status, 200);
  t.is(seen[0]?.subject, AWKWARD);
  const reply = decodeCloudEvent(Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
  t.is(reply.subject, `re: ${AWKWARD}`);
  const broken = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { ...msg.headers, 'ce-subject': '%C0%A0' },
    body: msg.body,
  });
  t.is(broken.status, 400, 'an overlong escape is bad input, not a crash');
});
