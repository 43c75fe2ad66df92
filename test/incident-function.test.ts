// The incident destination functions behind the real runtime server: routing from the config
// file (only their own type; the rest acknowledged), the service's 429 and 5xx answered so the
// broker retries (with Retry-After), bad input refused with a 400, secrets read from files and
// never written to a log line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { create as createJira } from '../functions/dispatch-jira/index.ts';
import { create as createTeams } from '../functions/dispatch-teams/index.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { ConfigFileError } from '../lib/platform/errors.ts';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import type { FunctionModule } from '../lib/platform/runtime/types.ts';
import { startJiraStandin, startTeamsStandin } from './support/incident-standins.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';
import { type RedisServer, startRedisServer } from './support/redis-server.ts';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedisServer();
});
test.after.always(() => redis?.stop());

async function serve(t: ExecutionContext, fn: FunctionModule, name: string) {
  const logs = captureLogs();
  const server = createFunctionServer(fn, { name, log: logs.log });
  t.teardown(async () => {
    await server.drain(100);
    await fn.shutdown?.();
  });
  await fn.init?.();
  const port = await server.listen(0, '127.0.0.1');
  server.setReady(true);
  const post = async (data: unknown, headers: Record<string, string> = {}) => {
    const msg = HTTP.binary(
      new CloudEvent({ id: 'e-1', type: 'dev.kubeincident.issue.enriched.v1', source: '/t', data }),
    );
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { ...(msg.headers as Record<string, string>), ...headers },
      body: msg.body as string,
    });
    await res.arrayBuffer();
    return res;
  };
  return { post, logs };
}

async function configDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'incident-fn-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('dispatch-teams: only issues routed to a teams destination are posted; the rest are acknowledged', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const dir = await configDir(t);
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    `destinations:
  - {name: sre, type: teams, url: "\${TEAMS_URL}"}
routes:
  - match: {namespace: shop}
    destinations: [sre]
`,
  );
  const fn = createTeams({
    CONFIG_FILE: config,
    TEAMS_URL: teams.webhookUrl,
    REDIS_URL: redis.url,
    LOG_LEVEL: 'silent',
  });
  const { post } = await serve(t, fn, 'dispatch-teams');
  const elsewhere = await post(
    makeIssue({ fingerprint: 'f-other', subject: { kind: 'Pod', name: 'x', namespace: 'billing' } }),
  );
  t.is(elsewhere.status, 204, 'acknowledged: nothing for this function');
  t.is(teams.cards.length, 0);
  const mine = await post(makeIssue({ fingerprint: 'f-shop' }));
  t.is(mine.status, 200);
  t.is(mine.headers.get('ce-type'), 'dev.kubeincident.notification.sent.v1');
  t.is(teams.cards.length, 1);
  t.is((await post({ not: 'an issue' })).status, 400);
});

test('dispatch-teams: a 429 from Teams is answered 429 with its Retry-After, a 5xx 503; the redelivery posts once; the URL’s signature is never logged', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const dir = await configDir(t);
  const urlFile = join(dir, 'teams-url');
  await writeFile(urlFile, `${teams.webhookUrl}\n`);
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    `destinations:\n  - {name: sre, type: teams, url: {file: "${urlFile}"}}\ndefaultRoute: {destinations: [sre]}\n`,
  );
  const fn = createTeams({ CONFIG_FILE: config, REDIS_URL: redis.url, LOG_LEVEL: 'silent' });
  const { post, logs } = await serve(t, fn, 'dispatch-teams');
  const issue = makeIssue({ fingerprint: 'f-rate' });
  teams.injectFault('*', { status: 429, retryAfter: 9 });
  const limited = await post(issue);
  t.is(limited.status, 429);
  t.is(limited.headers.get('retry-after'), '9');
  teams.injectFault('*', { status: 500 });
  t.is((await post(issue)).status, 503);
  t.is((await post(issue)).status, 200);
  t.is((await post(issue)).status, 200, 'the duplicate');
  t.is(teams.cards.length, 1);
  const sig = new URL(teams.webhookUrl).searchParams.get('sig') as string;
  t.true(logs.text().length > 0);
  t.false(logs.text().includes(sig), 'the signature is in no log line');
});

test('dispatch-jira: an unreadable secret file keeps the event (500, retried) and the log names the file, never a value', async (t) => {
  const jira = await startJiraStandin('OPS');
  t.teardown(() => jira.close());
  const dir = await configDir(t);
  const tokenFile = join(dir, 'jira-token');
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    `destinations:
  - {name: tickets, type: jira, url: "${jira.url}", email: "${jira.email}", apiToken: {file: "${tokenFile}"}, project: OPS}
defaultRoute: {destinations: [tickets]}
`,
  );
  const fn = createJira({ CONFIG_FILE: config, REDIS_URL: redis.url, LOG_LEVEL: 'silent' });
  const { post, logs } = await serve(t, fn, 'dispatch-jira');
  const issue = makeIssue({ fingerprint: 'f-secret' });
  t.is((await post(issue)).status, 500);
  t.regex(logs.text(), /jira-token/);
  // The Secret is mounted: the redelivery goes through, with the token from the file.
  await writeFile(tokenFile, `${jira.token}\n`);
  t.is((await post(issue)).status, 200);
  t.is(jira.issues.size, 1);
  t.false(logs.text().includes(jira.token));
});

test('config: the incident destinations are validated with the path of each problem', (t) => {
  const problem = (yaml: string) => {
    const err = t.throws(() => parseConfig(yaml, {}), { instanceOf: ConfigFileError });
    return err?.message ?? '';
  };
  t.regex(
    problem(
      'destinations:\n  - {name: h, type: webhook, url: "https://x.example", headers: {webhook-signature: forged}}',
    ),
    /destinations\[0\]\.headers.*set by the webhook itself/,
  );
  t.regex(
    problem('destinations:\n  - {name: h, type: webhook, url: "ftp://x.example"}'),
    /destinations\[0\]\.url/,
  );
  t.regex(
    problem('destinations:\n  - {name: p, type: pagerduty, routingKey: k, severity: {HIGH: urgent}}'),
    /severity\.HIGH/,
  );
  t.regex(problem('destinations:\n  - {name: t, type: teams, url: {path: /x}}'), /destinations\[0\]\.url/);
  t.regex(
    problem(
      'destinations:\n  - {name: j, type: jira, url: "https://x.atlassian.net", email: a, apiToken: b, project: OPS, labels: [two words]}',
    ),
    /labels\[0\].*spaces/,
  );
  const ok = parseConfig(
    `destinations:\n  - {name: j, type: jira, url: "https://x.atlassian.net", email: a, apiToken: "\${JIRA_TOKEN}", project: OPS}`,
    { JIRA_TOKEN: 'secret-value' },
  );
  t.like(ok.destinations[0], {
    type: 'jira',
    apiToken: 'secret-value',
    issueType: 'Bug',
    resolveStatus: 'Done',
    maxComments: 10,
  });
});

test('dispatch-teams: a Kubernetes Event repeating within seconds is recorded, not deferred (nothing to edit) and not posted again', async (t) => {
  const teams = await startTeamsStandin();
  t.teardown(() => teams.close());
  const dir = await configDir(t);
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    `destinations:\n  - {name: sre, type: teams, url: "${teams.webhookUrl}"}\ndefaultRoute: {destinations: [sre]}\n`,
  );
  const fn = createTeams({ CONFIG_FILE: config, REDIS_URL: redis.url, LOG_LEVEL: 'silent' });
  const { post } = await serve(t, fn, 'dispatch-teams');
  const now = new Date().toISOString();
  const repeat = (count: number) =>
    makeIssue({
      id: `backoff-${count}`,
      fingerprint: 'f-backoff',
      type: 'event',
      source: 'kubernetes',
      occurrences: { count, lastSeen: now },
    });
  t.is((await post(repeat(3))).status, 200);
  t.is((await post(repeat(7))).status, 200, 'no 429: there is no edit rate to keep');
  t.is((await post(repeat(9))).status, 200);
  t.is(teams.cards.length, 1);
});
