// The incident destinations on the dispatch core, over a real redis-server and stand-ins shaped
// like the real APIs: one incident per fingerprint, its identifier kept in Redis, resolution and
// re-fire reflected, duplicates posting nothing, 429 / 5xx thrown for the broker to retry
// (with Retry-After), and a retry after a failure posting nothing twice.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { Redis } from 'ioredis';
import { IncidentDestination, type IncidentService } from '../lib/adapters/incident/destination.ts';
import { JiraService } from '../lib/adapters/incident/jira.ts';
import { dedupKey, PagerDutyService } from '../lib/adapters/incident/pagerduty.ts';
import { CUT_NOTE, TeamsService } from '../lib/adapters/incident/teams.ts';
import { sign, WEBHOOK_EVENT_TYPES, WebhookService } from '../lib/adapters/incident/webhook.ts';
import { threadKeys } from '../lib/adapters/store/keys.ts';
import { RedisStore } from '../lib/adapters/store/redis.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { DependencyError, RateLimitedError, UnavailableError } from '../lib/platform/errors.ts';
import { ComeBackLater, dispatch } from './support/dispatch.ts';
import {
  adfProblem,
  startJiraStandin,
  startPagerDutyStandin,
  startTeamsStandin,
  startWebhookStandin,
  TEAMS_MAX_BYTES,
} from './support/incident-standins.ts';
import { at, makeIssue, oomEnrichment, resolvedOf } from './support/issue-factory.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

let server: RedisServer;
let raw: Redis;
const stores: RedisStore[] = [];

test.before(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
});
test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  raw?.disconnect();
  await server?.stop();
});

/** A delivery function over a fresh Redis key space and the service. */
function deliverTo(service: IncidentService, now?: () => Date) {
  const prefix = `t${randomUUID().slice(0, 8)}:`;
  // A generous command timeout: on a loaded machine the first command can come before the connection.
  const store = new RedisStore(server.url, { keyPrefix: prefix, commandTimeoutMs: 5000 });
  stores.push(store);
  const destination = new IncidentDestination(service);
  return {
    deliver: (issue: Issue) => dispatch(issue, now ? { store, destination, now } : { store, destination }),
    /** The thread state Redis holds for the fingerprint. */
    stored: async (fingerprint: string) => {
      const v = await raw.get(prefix + threadKeys(destination.id, fingerprint).data);
      return v === null ? null : (JSON.parse(v) as { ts?: string; status?: string });
    },
  };
}

const enriched = (overrides: Parameters<typeof makeIssue>[0] = {}) =>
  makeIssue({ enrichments: [oomEnrichment()], ...overrides });

test('webhook: a signed structured CloudEvent per change, one per fingerprint, its id kept in Redis', async (t) => {
  const secret = `whsec_${Buffer.from('a-32-byte-shared-secret-for-test').toString('base64')}`;
  const hook = await startWebhookStandin(secret);
  t.teardown(() => hook.close());
  const service = new WebhookService({
    name: 'ops',
    url: `${hook.url}/hooks/incidents`,
    secret,
    headers: { 'x-team': 'payments' },
    source: '/kubeincident/prod/dispatch-webhook',
    timeoutMs: 10_000,
  });
  const { deliver, stored } = deliverTo(service);
  const firing = enriched();
  const first = await deliver(firing);
  t.is(first.action, 'posted');
  // HA pair and redelivery: the same alert twice more posts nothing.
  t.is((await deliver(firing)).action, 'unchanged');
  t.is((await deliver(enriched())).action, 'unchanged');
  t.is(hook.deliveries, 1);
  const [opened] = hook.events;
  t.is(opened?.type, WEBHOOK_EVENT_TYPES.firing);
  t.is(opened?.subject, firing.fingerprint);
  t.is(opened?.data.issue.title, firing.title);
  t.is(hook.calls[0]?.headers['x-team'], 'payments');
  t.is((await stored(firing.fingerprint))?.ts, opened?.id, 'the webhook id is the stored identifier');

  const resolved = resolvedOf(firing);
  t.is((await deliver(resolved)).action, 'updated');
  t.is((await deliver(resolved)).action, 'unchanged');
  t.deepEqual(
    hook.events.map((e) => e.type),
    [WEBHOOK_EVENT_TYPES.firing, WEBHOOK_EVENT_TYPES.resolved],
  );
  t.is(hook.events[1]?.data.incident, opened?.id);
  t.is(hook.deliveries, 2);
});

test('webhook: the signature is the Standard Webhooks one, and a wrong secret is refused (dead-lettered, not lost)', async (t) => {
  // The scheme's own example: a receiver computes the same value from id, timestamp and body.
  t.is(
    sign(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    ),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
  const hook = await startWebhookStandin('whsec_c2VjcmV0LW9mLXRoZS1yZWNlaXZlcg==');
  t.teardown(() => hook.close());
  const { deliver } = deliverTo(
    new WebhookService({
      name: 'x',
      url: hook.url,
      secret: 'whsec_d3Jvbmc=',
      headers: {},
      source: '/s',
      timeoutMs: 10_000,
    }),
  );
  await t.throwsAsync(deliver(makeIssue()), { instanceOf: DependencyError, message: /HTTP 401/ });
  t.is(hook.events.length, 0);
});

test('webhook: 429 with Retry-After and 5xx go back to the broker; the retry delivers once, under the same id', async (t) => {
  const hook = await startWebhookStandin();
  t.teardown(() => hook.close());
  const { deliver } = deliverTo(
    new WebhookService({ name: 'x', url: hook.url, headers: {}, source: '/s', timeoutMs: 4000 }),
  );
  hook.injectFault('*', { status: 429, retryAfter: 7 });
  const err = await t.throwsAsync(deliver(makeIssue()), { instanceOf: RateLimitedError });
  t.is(err?.retryAfter, 7);
  hook.injectFault('*', { status: 503 });
  await t.throwsAsync(deliver(makeIssue()), { instanceOf: UnavailableError });
  t.is((await deliver(makeIssue())).action, 'posted');
  t.is(hook.events.length, 1);
  // A timeout while the receiver takes it (its answer lost): the repost carries the same webhook-id.
  const resolved = resolvedOf(makeIssue());
  hook.injectFault('*', { delayMs: 6000 });
  await t.throwsAsync(deliver(resolved), { instanceOf: UnavailableError });
  await new Promise((r) => setTimeout(r, 2200));
  // The root's re-render was recorded before the failed post: what is left is the status reply.
  t.is((await deliver(resolved)).action, 'replied');
  const ids = hook.calls.map((c) => c.headers['webhook-id']);
  t.is(ids[ids.length - 1], ids[ids.length - 2], 'same webhook-id on the retry');
  t.is(hook.events.length, 2, 'the receiver drops the repeat by its id');
});

test('pagerduty: trigger under the cluster+fingerprint dedup key, severity mapped, verdict as summary, diagnosis and links; resolve; re-fire', async (t) => {
  const routingKey = 'R0UTINGKEYstandin0123456789abcde';
  const pd = await startPagerDutyStandin(routingKey);
  t.teardown(() => pd.close());
  const { deliver, stored } = deliverTo(
    new PagerDutyService({
      name: 'oncall',
      routingKey,
      apiUrl: pd.url,
      severity: { LOW: 'error' },
      timeoutMs: 10_000,
    }),
  );
  const firing = enriched();
  t.is((await deliver(firing)).action, 'posted');
  t.is((await deliver(firing)).action, 'unchanged');
  const key = dedupKey('prod-eu-1', firing.fingerprint);
  t.is((await stored(firing.fingerprint))?.ts, key);
  const alert = pd.alerts.get(key);
  t.is(alert?.status, 'triggered');
  t.is(alert?.severity, 'critical');
  t.regex(alert?.summary ?? '', /OOMKilled: container api reached its 256Mi memory limit/);
  t.regex(String(alert?.customDetails.diagnosis), /FATAL runtime: out of memory/);
  t.deepEqual(alert?.links, [{ href: 'https://runbooks.example.com/KubePodCrashLooping', text: 'Runbook' }]);
  t.is(alert?.deduplicated, 0, 'the duplicate never reached PagerDuty');

  await deliver(resolvedOf(firing));
  t.is(pd.alerts.get(key)?.status, 'resolved');
  const refired = makeIssue({ fingerprint: firing.fingerprint, startsAt: at(30), severity: 'LOW' });
  t.is((await deliver(refired)).action, 'updated');
  t.like(pd.alerts.get(key), { status: 'triggered', incidents: 2, severity: 'error' });

  pd.injectFault('/v2/enqueue', { status: 429, body: '' });
  const err = await t.throwsAsync(deliver(resolvedOf(refired, at(40))), { instanceOf: RateLimitedError });
  t.true((err?.retryAfter ?? 0) > 0, 'a Retry-After even when PagerDuty sends none');
  await deliver(resolvedOf(refired, at(40)));
  t.is(pd.alerts.get(key)?.status, 'resolved');
});

test('pagerduty: an invalid routing key is a dependency error (retried, then dead-lettered), with PagerDuty’s reason', async (t) => {
  const pd = await startPagerDutyStandin('R0UTINGKEYstandin0123456789abcde');
  t.teardown(() => pd.close());
  const { deliver } = deliverTo(
    new PagerDutyService({ name: 'x', routingKey: 'wrong', apiUrl: pd.url, severity: {}, timeoutMs: 10_000 }),
  );
  await t.throwsAsync(deliver(makeIssue()), { instanceOf: DependencyError, message: /400.*routing_key/ });
});

test('teams: an Adaptive Card per incident, colour by severity, facts, verdict and diagnosis; the resolution is a follow-up card', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const { deliver } = deliverTo(
    new TeamsService({ name: 'sre', url: teams.webhookUrl, maxBytes: 27_000, timeoutMs: 10_000 }),
  );
  const firing = enriched();
  await deliver(firing);
  await deliver(firing);
  t.is(teams.cards.length, 1);
  const card = teams.cards[0];
  t.like(card?.body[0], { type: 'Container', style: 'attention' });
  t.regex(card?.text ?? '', /"title":"Namespace","value":"shop"/);
  t.regex(card?.text ?? '', /OOMKilled: container api/);
  t.regex(card?.text ?? '', /FATAL runtime: out of memory/);
  t.notRegex(card?.text ?? '', new RegExp(CUT_NOTE));
  await deliver(resolvedOf(firing));
  await deliver(resolvedOf(firing));
  t.is(teams.cards.length, 2);
  t.like(teams.cards[1]?.body[0], { type: 'Container', style: 'good' });
  t.regex(teams.cards[1]?.text ?? '', /Resolved/);
});

test('teams: untrusted text goes in TextRuns, which Teams does not read as markdown', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const { deliver } = deliverTo(
    new TeamsService({ name: 'm', url: teams.webhookUrl, maxBytes: 27_000, timeoutMs: 10_000 }),
  );
  const spoof = '[Click to fix](https://evil.example/) <at>everyone</at>';
  await deliver(makeIssue({ title: spoof }));
  const blocks = JSON.stringify(teams.cards[0]?.body);
  const found = (node: unknown, inRun: boolean): boolean[] => {
    if (typeof node !== 'object' || node === null) return [];
    const n = node as Record<string, unknown>;
    const here =
      typeof n.text === 'string' && n.text.includes('evil.example') ? [inRun || n.type === 'TextRun'] : [];
    return [...here, ...Object.values(n).flatMap((v) => found(v, inRun || n.type === 'TextRun'))];
  };
  t.true(blocks.includes('evil.example'));
  t.deepEqual([...new Set(found(teams.cards[0]?.body, false))], [true], 'only inside TextRuns');
});

test('teams: a diagnosis past the payload limit is cut to fit and the card says so', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const log = Array.from({ length: 3000 }, (_, i) => `line ${i} ünïcødé ${'x'.repeat(20)}`).join('\n');
  const issue = makeIssue({
    enrichments: [
      oomEnrichment({
        blocks: [{ type: 'file', filename: 'big.log', contentType: 'text/plain', content: log }],
      }),
    ],
  });
  // The same card unbounded is refused by Teams (413): the stand-in holds the real limit.
  const unbounded = deliverTo(
    new TeamsService({ name: 'a', url: teams.webhookUrl, maxBytes: 10_000_000, timeoutMs: 10_000 }),
  );
  await t.throwsAsync(unbounded.deliver(issue), { instanceOf: DependencyError, message: /413/ });
  const { deliver } = deliverTo(
    new TeamsService({ name: 'b', url: teams.webhookUrl, maxBytes: 27_000, timeoutMs: 10_000 }),
  );
  await deliver(issue);
  t.is(teams.cards.length, 1);
  t.true((teams.cards[0]?.bytes ?? 0) <= 27_000 && (teams.cards[0]?.bytes ?? 0) > 20_000);
  t.true((teams.cards[0]?.bytes ?? 0) < TEAMS_MAX_BYTES);
  t.regex(teams.cards[0]?.text ?? '', new RegExp(CUT_NOTE));
});

test('jira: an issue with project, type, labels, mapped priority and an ADF description; logs attached; key in Redis', async (t) => {
  const jira = await startJiraStandin('OPS');
  t.teardown(() => jira.close());
  const { deliver, stored } = deliverTo(
    new JiraService({
      name: 'ops',
      url: jira.url,
      email: jira.email,
      apiToken: jira.token,
      project: 'OPS',
      issueType: 'Incident',
      labels: ['kubeincident', 'prod'],
      priorities: { HIGH: 'Highest' },
      resolveStatus: 'Done',
      reopenStatus: 'To Do',
      maxComments: 2,
      timeoutMs: 10_000,
    }),
  );
  const firing = enriched();
  t.is((await deliver(firing)).action, 'posted');
  t.is((await deliver(firing)).action, 'unchanged');
  t.is(jira.issues.size, 1);
  const issue = jira.issues.get('OPS-1');
  t.like(issue?.fields, {
    issuetype: { name: 'Incident' },
    labels: ['kubeincident', 'prod'],
    priority: { name: 'Highest' },
  });
  t.is(adfProblem(issue?.fields.description), undefined);
  t.regex(JSON.stringify(issue?.fields.description), /FATAL runtime: out of memory/);
  t.deepEqual(issue?.attachments, ['checkout-7d9f8b6c5-x2k4q.api.previous.log']);
  t.is((await stored(firing.fingerprint))?.ts, 'OPS-1');
  // The key is kept: no search on the way.
  t.false(jira.calls.some((c) => c.path.includes('search')));

  // Re-fires comment, bounded at maxComments; the resolution transitions to Done.
  let startsAt = firing.startsAt;
  for (let i = 1; i <= 4; i++) {
    await deliver(resolvedOf(makeIssue({ fingerprint: firing.fingerprint, startsAt }), at(10 * i - 5)));
    startsAt = at(10 * i);
    await deliver(makeIssue({ fingerprint: firing.fingerprint, startsAt }));
  }
  const comments = issue?.comments.map((c) => JSON.stringify(c)) ?? [];
  t.is(comments.filter((c) => c.includes('Firing again')).length, 2);
  // Resolutions of the first three periods; the fourth's period is past the bound.
  t.is(comments.filter((c) => c.includes('Resolved')).length, 3);
  t.true(comments.some((c) => c.includes('Further re-fires and resolutions add no comment')));
  t.is(issue?.status, 'To Do', 'fired again: reopened');
  await deliver(resolvedOf(makeIssue({ fingerprint: firing.fingerprint, startsAt }), at(45)));
  t.is(issue?.comments.length, comments.length, 'past the bound: no comment');
  t.is(issue?.status, 'Done');
  t.is(jira.issues.size, 1, 'one issue for the fingerprint throughout');
});

test('jira: a create Jira took whose answer was lost is found by its label after the settling time, not created twice', async (t) => {
  const jira = await startJiraStandin('OPS');
  t.teardown(() => jira.close());
  let offsetMs = 0;
  const { deliver, stored } = deliverTo(
    new JiraService({
      name: 'lost',
      url: jira.url,
      email: jira.email,
      apiToken: jira.token,
      project: 'OPS',
      issueType: 'Bug',
      labels: ['kubeincident'],
      priorities: {},
      resolveStatus: 'Done',
      maxComments: 10,
      timeoutMs: 1500,
    }),
    () => new Date(Date.now() + offsetMs),
  );
  const firing = enriched({ fingerprint: 'f-lost-answer' });
  // Jira creates the issue, but answers after the client gave up.
  jira.injectFault('/rest/api/3/issue', { delayMs: 2500 });
  await t.throwsAsync(deliver(firing), { instanceOf: UnavailableError });
  await new Promise((r) => setTimeout(r, 1500));
  t.is(jira.issues.size, 1, 'Jira took it');
  await t.throwsAsync(deliver(firing), { instanceOf: ComeBackLater }, 'too soon to look: the index lags');
  offsetMs = 11_000;
  // The adopted issue gets what the first delivery had left: its logs.
  t.is((await deliver(firing)).action, 'replied');
  t.is(jira.issues.size, 1, 'found, not created again');
  t.is((await stored(firing.fingerprint))?.ts, 'OPS-1');
  t.deepEqual(jira.issues.get('OPS-1')?.attachments, ['checkout-7d9f8b6c5-x2k4q.api.previous.log']);
  t.is(jira.calls.filter((c) => c.path.endsWith('/search/jql')).length, 1);
});

test('jira: ADF Jira would refuse is caught by the stand-in, as Jira answers it', (t) => {
  t.regex(
    adfProblem({
      type: 'doc',
      version: 1,
      content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }],
    }) ?? '',
    /empty/,
  );
  t.regex(
    adfProblem({ type: 'doc', version: 1, content: [{ type: 'bulletList', content: [] }] }) ?? '',
    /listItem/,
  );
  t.regex(adfProblem({ type: 'doc', version: 1, content: [{ type: 'table' }] }) ?? '', /cannot hold table/);
});
