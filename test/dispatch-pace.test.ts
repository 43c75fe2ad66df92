// A busy channel: unrelated alerts that meet its bucket empty wait for their turns and are then
// posted whole (root, details, files); only a channel further behind than the backlog bound
// gathers new alerts into a digest, which shows each one with its verdict. Run over memory and
// a real redis-server, with the broker's retries played by a loop that honours Retry-After.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { renderSummary, renderSummaryLines } from '../lib/adapters/slack/render-summary.ts';
import { MemoryStore } from '../lib/adapters/store/memory.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import type { Issue } from '../lib/domain/issue.ts';
import type { StateStore } from '../lib/domain/state-store.ts';
import { createChannelBucket, DEFAULT_CHANNEL_RATE } from '../lib/stages/dispatch/channel-bucket.ts';
import type { DispatchDeps } from '../lib/stages/dispatch/dispatcher.ts';
import { DEFAULT_STORM } from '../lib/stages/dispatch/storm.ts';
import { backoffMs } from '../scripts/broker/broker.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import { makeIssue, oomEnrichment, resolvedOf, T0 } from './support/issue-factory.ts';
import { RecordingDestination } from './support/recording-destination.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

let server: RedisServer;
const opened: StateStore[] = [];
test.before(async () => {
  server = await startRedisServer();
});
test.after.always(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
});

const backends: Array<{ name: string; open(): StateStore }> = [
  { name: 'memory', open: () => new MemoryStore() },
  {
    name: 'redis',
    // A generous connect wait: on a loaded machine the first command can come before the connection.
    open: () =>
      new RedisStore(server.url, { keyPrefix: `p${randomUUID().slice(0, 8)}:`, commandTimeoutMs: 5000 }),
  },
];

/** Unrelated alerts: each its own alert name, namespace and object, so no group storms. */
function unrelated(n: number): Issue[] {
  return Array.from({ length: n }, (_, i) =>
    makeIssue({
      fingerprint: `fp-unrelated-${i}`,
      title: `Alert ${i} about pod-${i}`,
      labels: { alertname: `Alert${i}`, namespace: `ns-${i}`, pod: `pod-${i}` },
      subject: { kind: 'Pod', name: `pod-${i}`, namespace: `ns-${i}` },
      enrichments: [oomEnrichment({ verdict: `verdict of pod-${i}` })],
    }),
  );
}

interface Sim {
  destination: RecordingDestination;
  deps: DispatchDeps;
  /** When each recorded call was made (ms since T0), in call order. */
  callTimes: number[];
  /** Delivers every issue at t=0, retrying each refusal after its Retry-After, like the broker. */
  deliverAll(issues: Issue[]): Promise<{ retries: Map<string, number>; endMs: number }>;
}

function simulate(open: () => StateStore, extra: Partial<DispatchDeps> = {}): Sim {
  const store = open();
  opened.push(store);
  let clock = Date.parse(T0);
  const destination = new RecordingDestination();
  destination.bucket = createChannelBucket(store, DEFAULT_CHANNEL_RATE, () => clock);
  const deps: DispatchDeps = {
    store,
    destination,
    now: () => new Date(clock),
    storm: DEFAULT_STORM,
    ...extra,
  };
  const callTimes: number[] = [];
  return {
    destination,
    deps,
    callTimes,
    async deliverAll(issues) {
      const queue = issues.map((issue) => ({ issue, at: clock }));
      const retries = new Map<string, number>();
      while (queue.length > 0) {
        queue.sort((a, b) => a.at - b.at);
        const next = queue.shift() as (typeof queue)[number];
        clock = Math.max(clock, next.at);
        const before = destination.calls.length;
        try {
          await dispatch(next.issue, deps);
        } catch (err) {
          if (!(err instanceof ComeBackLater)) throw err;
          const n = (retries.get(next.issue.id) ?? 0) + 1;
          retries.set(next.issue.id, n);
          // As the broker does with the manifests' delivery: the larger of its backoff and Retry-After.
          const wait = Math.max(backoffMs('exponential', 1000, n), (err.retryAfter ?? 0) * 1000);
          queue.push({ issue: next.issue, at: clock + wait });
        }
        for (let i = before; i < destination.calls.length; i++) callTimes.push(clock - Date.parse(T0));
      }
      return { retries, endMs: clock - Date.parse(T0) };
    },
  };
}

for (const b of backends) {
  test(`pace (${b.name}): unrelated alerts past the burst are each posted whole at their turn, with no summary and within the channel's rate`, async (t) => {
    const sim = simulate(b.open);
    const alerts = unrelated(8);
    const { retries } = await sim.deliverAll(alerts);
    const { destination } = sim;
    t.is(destination.callsOf('postSummary').length, 0, 'no summary');
    t.deepEqual(
      destination.callsOf('postRoot').map((c) => c.fingerprint),
      alerts.map((a) => a.fingerprint),
      'one root each, in arrival order',
    );
    for (const a of alerts) {
      const root = destination.callsOf('postRoot').find((c) => c.fingerprint === a.fingerprint);
      t.true(
        destination
          .callsOf('postDetails')
          .some((c) => c.fingerprint === a.fingerprint && c.ref.ts === root?.ref.ts),
        `${a.fingerprint} has its details in its own thread`,
      );
      t.is(root?.view?.verdicts[0], `verdict of ${a.fingerprint.replace('fp-unrelated-', 'pod-')}`);
    }
    // Each waits once for its turn, then posts: no race for tokens, no retries burnt.
    t.true(
      [...retries.values()].every((n) => n === 1),
      JSON.stringify([...retries]),
    );
    t.is(retries.size, alerts.length - 1, 'all but the first wait');
    const { perSecond, burst } = DEFAULT_CHANNEL_RATE;
    const times = sim.callTimes;
    for (let i = 0; i < times.length; i++)
      for (let j = i; j < times.length; j++) {
        const span = (times[j] as number) - (times[i] as number);
        t.true(
          j - i + 1 <= burst + Math.floor((span / 1000) * perSecond),
          `${j - i + 1} calls in ${span} ms`,
        );
      }
  });

  test(`pace (${b.name}): a channel further behind than the bound gathers new alerts into one digest with each verdict`, async (t) => {
    const sim = simulate(b.open, { backlogMaxWaitMs: 5_000 });
    const alerts = unrelated(8);
    await sim.deliverAll(alerts);
    const { destination } = sim;
    const own = destination.callsOf('postRoot').map((c) => c.fingerprint);
    t.true(own.length >= 2 && own.length < alerts.length, `some wait their turn (${own.length})`);
    t.deepEqual(
      own,
      alerts.slice(0, own.length).map((a) => a.fingerprint),
      'the first ones, in order',
    );
    t.is(destination.callsOf('postSummary').length, 1, 'one digest');
    const lines = destination.callsOf('postSummaryLines').flatMap((c) => c.lines ?? []);
    const held = alerts.slice(own.length);
    t.deepEqual(
      lines.map((l) => l.fingerprint).sort(),
      held.map((a) => a.fingerprint).sort(),
      'every held-back alert is in the digest thread',
    );
    for (const l of lines) t.is(l.verdict, `verdict of ${l.object}`);
    const last = destination.calls.filter((c) => c.summary).at(-1)?.summary;
    t.is(last?.kind, 'digest');
    t.is(last?.total, held.length);
    const shown = renderSummary(last as NonNullable<typeof last>);
    t.is(shown.text, `${held.length} alerts held back since 2026-03-01 10:00 UTC`);
    t.regex(JSON.stringify(shown), /verdict of pod-/);
    t.regex(
      renderSummaryLines(lines, { kind: 'digest' }).text,
      new RegExp(`^${held.length} alerts held back$`),
    );
  });
}

test('pace: a digest of a single alert shows that alert with its verdict, never "1 alerts"', async (t) => {
  const sim = simulate(() => new MemoryStore(), { backlogMaxWaitMs: 1_000 });
  // The first alert's three calls use the whole burst; the second would wait past the bound.
  const alerts = unrelated(2);
  await sim.deliverAll(alerts);
  t.is(sim.destination.callsOf('postSummary').length, 1);
  const summary = sim.destination.callsOf('postSummary')[0]?.summary;
  t.is(summary?.total, 1);
  const shown = renderSummary(summary as NonNullable<typeof summary>);
  const json = JSON.stringify(shown);
  t.false(/\b1 alerts\b/.test(json));
  t.regex(shown.text, /Alert 1 about pod-1/);
  t.regex(json, /verdict of pod-1/);
  const single = summary?.single as NonNullable<NonNullable<typeof summary>['single']>;
  t.is(renderSummaryLines([single], { kind: 'digest' }).text, '1 alert held back');
});

test('pace: a resolution that meets its channel busy waits for its turn and keeps the thread settled for duplicates', async (t) => {
  const sim = simulate(() => new MemoryStore());
  const [first, second, third] = unrelated(3) as [Issue, Issue, Issue];
  await sim.deliverAll([first]);
  const resolved = resolvedOf(first);
  // Two other alerts take the channel's next turns; the resolution queues behind them.
  const { retries } = await sim.deliverAll([second, third, resolved]);
  t.is(retries.get(resolved.id), 1, 'waited once for its turn');
  const ref = sim.destination.callsOf('postRoot')[0]?.ref;
  t.true(
    sim.destination.callsOf('updateRoot').some((c) => c.ref.ts === ref?.ts && c.view?.status === 'resolved'),
  );
  t.true(sim.destination.callsOf('postStatusReply').some((c) => c.kind === 'resolved'));
  t.is((await dispatch(resolved, sim.deps)).action, 'unchanged', 'its redelivery changes nothing');
});
