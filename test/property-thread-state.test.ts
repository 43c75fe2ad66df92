// The duplicate's fast answer (settledRepeatRef, read from the raw state) against the full
// decision (decide on the parsed state): whenever the fast one answers, decide agrees that there
// is nothing to do, in the same thread.
import test from 'ava';
import fc from 'fast-check';
import { encode } from '../lib/stages/dispatch/stored.ts';
import { decide, pendingSteps, settledRepeatRef, ThreadState } from '../lib/stages/dispatch/thread-state.ts';
import { at, makeIssue, oomEnrichment, T0 } from './support/issue-factory.ts';

const KINDS = ['root', 'link', 'update', 'reply-resolved', 'reply-refired', 'details', 'files'] as const;

const occurrences = fc.option(
  fc.record({
    count: fc.integer({ min: 1, max: 4 }),
    objects: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    firstSeen: fc.constant(T0),
    lastSeen: fc.constantFrom(at(1), at(2)),
  }),
  { nil: undefined },
);

/** A stored thread settled (every step done) at `status`, firing since T0, and an occurrence. */
const scenario = fc
  .record({
    status: fc.constantFrom('firing' as const, 'resolved' as const),
    threadTs: fc.option(fc.constant('1700000000.000009'), { nil: undefined }),
    kinds: fc.array(fc.constantFrom(...KINDS), { minLength: 1, maxLength: 6 }),
    shown: occurrences,
    enriched: fc.boolean(),
    repeat: occurrences,
    id: fc.constantFrom('occ-1', 'occ-2'),
  })
  .map((r) => {
    const state = ThreadState.parse({
      v: 1,
      channel: 'C0TEST',
      ts: '1700000000.000001',
      ...(r.threadTs ? { threadTs: r.threadTs } : {}),
      status: r.status,
      firingSince: T0,
      ...(r.status === 'resolved' ? { resolvedAt: at(15) } : {}),
      firingCount: 1,
      verdicts: ['v'],
      ...(r.shown ? { occurrences: r.shown, occurrencesShownAt: at(1) } : {}),
      steps: r.kinds.map((kind, i) => ({
        id: `${kind}:${i}`,
        kind,
        by: i % 2 ? 'occ-1' : 'occ-2',
        done: true,
      })),
    });
    const issue = makeIssue({
      id: r.id,
      status: r.status,
      startsAt: T0,
      enrichments: r.enriched ? [oomEnrichment()] : [],
      ...(r.repeat ? { occurrences: r.repeat } : {}),
    });
    return { state, issue };
  });

const ctx = { now: new Date(at(30)), stateTtlSeconds: 14 * 24 * 3600 };

test('settledRepeatRef: when it answers, decide has nothing to do in that same thread', (t) => {
  let answered = 0;
  fc.assert(
    fc.property(scenario, ({ state, issue }) => {
      const ref = settledRepeatRef(encode.thread(state), issue);
      if (!ref) return true;
      answered += 1;
      const d = decide(state, issue, ctx);
      if (d.kind !== 'apply' || pendingSteps(d.draft, issue).length > 0) return false;
      return ref.channel === state.channel && ref.ts === state.ts && ref.threadTs === state.threadTs;
    }),
    { numRuns: 2000 },
  );
  t.true(answered > 200, `the fast answer covered ${answered} of 2000 cases`);
});

test('settledRepeatRef: a plain repeat is answered; a new count, first details or another period are not', (t) => {
  const state = {
    v: 1,
    channel: 'C0TEST',
    ts: '1700000000.000001',
    status: 'firing',
    firingSince: T0,
    firingCount: 1,
    verdicts: [],
    occurrences: { count: 2, firstSeen: T0, lastSeen: at(1) },
    steps: [{ id: 'root', kind: 'root', by: 'a', done: true }],
  };
  const raw = encode.thread(ThreadState.parse(state));
  const repeat = (over: Parameters<typeof makeIssue>[0]) => makeIssue({ startsAt: T0, ...over });
  const shown = { count: 2, firstSeen: T0, lastSeen: at(2) };
  t.deepEqual(settledRepeatRef(raw, repeat({ occurrences: shown })), {
    channel: 'C0TEST',
    ts: '1700000000.000001',
  });
  t.is(settledRepeatRef(raw, repeat({ occurrences: { ...shown, count: 3 } })), undefined);
  t.is(settledRepeatRef(raw, repeat({ occurrences: shown, enrichments: [oomEnrichment()] })), undefined);
  t.is(settledRepeatRef(raw, repeat({ occurrences: shown, startsAt: at(5) })), undefined);
  t.is(settledRepeatRef(raw, repeat({ occurrences: shown, status: 'resolved' })), undefined);
  t.is(settledRepeatRef('{"v":1,', repeat({ occurrences: shown })), undefined, 'unreadable: the full path');
});
