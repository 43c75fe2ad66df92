// The configuration file: parsing and its documented errors, matching, silences and windows,
// routing tables, planning, and live reload.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigFileError, DEFAULT_CONFIG, openConfig } from '../lib/domain/config/load.ts';
import { matchesLabel, parseMatcher } from '../lib/domain/config/match.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { planIssue, renderTemplate } from '../lib/domain/config/plan.ts';
import { routeIssue } from '../lib/domain/config/route.ts';
import { Config, type DestinationConfig } from '../lib/domain/config/schema.ts';
import { inWindow, silencedBy } from '../lib/domain/config/silence.ts';
import type { Issue } from '../lib/domain/issue.ts';
import { makeIssue } from './support/issue-factory.ts';
import { captureLogs } from './support/logs.ts';

const env = { SLACK_TOKEN_PAYMENTS: 'xoxb-pay', SLACK_BOT_TOKEN: 'xoxb-platform' };
const example = () => readFile(new URL('../config/example.yaml', import.meta.url), 'utf8');
const fallback: DestinationConfig = { name: 'default', type: 'terminal' };

function alert(labels: Record<string, string>, over: Partial<Issue> = {}): Issue {
  return makeIssue({
    labels: { alertname: 'KubePodCrashLooping', ...labels },
    subject: { kind: 'Pod', name: 'api-1', ...(labels.namespace ? { namespace: labels.namespace } : {}) },
    ...over,
  });
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration's own ${ENV} syntax is under test
test('config: the example in config/ parses, with ${ENV} substituted', async (t) => {
  const c = parseConfig(await example(), env);
  t.is(c.destinations.length, 2);
  t.deepEqual(
    c.destinations.map((d) => (d.type === 'slack' ? d.token : '')),
    ['xoxb-pay', 'xoxb-platform'],
  );
  t.is(c.customWorkflows[0]?.name, 'payments-crashloops');
  t.is(c.workflows.podTroubleshooting.podLogs.tailLines, 100);
});

test('config: an empty file means the built-in defaults', (t) => {
  // DEFAULT_CONFIG is written out (lib/domain/config/defaults.ts) so no file means no schema to build.
  t.deepEqual(Config.parse({}), DEFAULT_CONFIG);
  t.deepEqual(parseConfig('', {}), DEFAULT_CONFIG);
  t.true(DEFAULT_CONFIG.workflows.alertEnrichment.defaultEnricher.enabled);
  t.true(DEFAULT_CONFIG.workflows.oomKiller.podOomKillerEnricher.attachLogs);
});

test('config: invalid files give errors that name the path and the problem', (t) => {
  const cases: Array<[string, RegExp]> = [
    [
      'customWorkflows:\n  - name: x\n    triggers: [{ on: alert, severity: URGENT }]',
      /customWorkflows\[0\]\.triggers\[0\]\.severity\[0\]: Invalid option: expected one of "HIGH"/,
    ],
    [
      'workflows:\n  oomKiller:\n    podOomKillerEnricher: { enabled: "yes" }',
      /workflows\.oomKiller\.podOomKillerEnricher\.enabled/,
    ],
    [
      'workflows:\n  podTroubleshooting:\n    podLogz: {}',
      /workflows\.podTroubleshooting: Unrecognized key.*podLogz/,
    ],
    [
      'silences:\n  - name: s\n    matchers: ["team = x"]',
      /silences\[0\]\.matchers\[0\]: expected a matcher/,
    ],
    [
      'silences:\n  - name: s\n    windows: [{ start: "25:00", end: "03:00" }]',
      /silences\[0\]\.windows\[0\]\.start: expected HH:MM/,
    ],
    [
      'silences:\n  - name: s\n    windows: [{ start: "01:00", end: "03:00", timezone: Mars/Olympus }]',
      /unknown time zone "Mars\/Olympus"/,
    ],
    ['routes:\n  - destinations: [nowhere]', /routes\[0\]\.destinations\[0\]: unknown destination "nowhere"/],
    [
      'routes:\n  - match: { namespace: { regex: "(" } }\n    destinations: [default]',
      /routes\[0\]\.match: invalid regex/,
    ],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration's own ${ENV} syntax is under test
      'destinations:\n  - { name: a, type: slack, token: "${MISSING_TOKEN}", channel: C1 }',
      /destinations\[0\]\.token: environment variable MISSING_TOKEN is not set/,
    ],
    ['destinations:\n  - { name: a, type: email }', /destinations\[0\]/],
    [
      'customWorkflows:\n  - name: m\n    triggers: [{ on: alert }]\n    actions: [{ mention: { users: ["<!channel>"] } }]',
      /customWorkflows\[0\]\.actions\[0\]/,
    ],
    ['workflows: [', /not valid YAML/],
  ];
  for (const [text, message] of cases) {
    const err = t.throws(() => parseConfig(text, {}), { instanceOf: ConfigFileError }, text);
    t.regex(err?.message ?? '', message, text);
  }
});

test('config: $${NAME} stays literal, so a template can show a dollar sign', (t) => {
  const c = parseConfig('workflows:\n  alertEnrichment:\n    template: { text: "cost $${USD}" }', {});
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the configuration's own ${ENV} syntax is under test
  t.is(c.workflows.alertEnrichment.template.text, 'cost ${USD}');
});

test('config: label matchers follow Alertmanager (anchored regex, missing label is empty)', (t) => {
  const labels = { team: 'payments', env: 'prod' };
  const cases: Array<[string, boolean]> = [
    ['team="payments"', true],
    ['team!="payments"', false],
    ['team=~"pay.*"', true],
    ['team=~"pay"', false],
    ['team!~"ops|sre"', true],
    ['missing=""', true],
    ['missing!=""', false],
    ['env=~"prod|staging"', true],
  ];
  for (const [m, want] of cases) t.is(matchesLabel(parseMatcher(m), labels), want, m);
});

test('config: silences by name, severity, matchers and windows, including windows across midnight', (t) => {
  const c = parseConfig(
    `silences:
  - name: nightly
    alertNames: [KubeJobFailed]
    matchers: ['namespace="batch"']
    windows: [{ days: [mon], start: "22:00", end: "02:00", timezone: UTC }]
  - name: low-noise
    severities: [DEBUG]
  - name: until
    alertNames: [Old]
    endsAt: "2026-01-01T00:00:00Z"`,
    {},
  );
  const job = alert({ alertname: 'KubeJobFailed', namespace: 'batch' });
  t.is(silencedBy(c.silences, job, new Date('2026-11-23T23:30:00Z')), 'nightly', 'Monday 23:30');
  t.is(
    silencedBy(c.silences, job, new Date('2026-11-24T01:30:00Z')),
    'nightly',
    'Tuesday 01:30 belongs to Monday night',
  );
  t.is(
    silencedBy(c.silences, job, new Date('2026-11-24T23:30:00Z')),
    undefined,
    'Tuesday night is not silenced',
  );
  t.is(
    silencedBy(
      c.silences,
      alert({ alertname: 'KubeJobFailed', namespace: 'web' }),
      new Date('2026-11-23T23:30:00Z'),
    ),
    undefined,
  );
  t.is(silencedBy(c.silences, makeIssue({ severity: 'DEBUG' })), 'low-noise');
  t.is(silencedBy(c.silences, alert({ alertname: 'Old' }), new Date('2025-06-01T00:00:00Z')), 'until');
  t.is(
    silencedBy(c.silences, alert({ alertname: 'Old' }), new Date('2026-06-01T00:00:00Z')),
    undefined,
    'expired',
  );
  // Time zones: 01:30 in Berlin is 00:30 UTC in winter.
  t.true(
    inWindow(
      { days: ['mon'], start: '01:00', end: '02:00', timezone: 'Europe/Berlin' },
      new Date('2026-11-23T00:30:00Z'),
    ),
  );
});

test('config: routes pick destinations and channels; first match wins unless continue; default catches the rest', async (t) => {
  const c = parseConfig(await example(), env);
  const names = (i: Issue) =>
    routeIssue(i, c, fallback).map((r) => `${r.destination.name}:${r.channel ?? ''}`);
  t.deepEqual(names(alert({ namespace: 'payments', severity: 'warning' }, { severity: 'LOW' })), [
    'payments-slack:C0PAYMENTS',
  ]);
  t.deepEqual(
    names(alert({ namespace: 'payments-eu' }, { severity: 'LOW' })),
    ['payments-slack:C0PAYMENTS'],
    'regex',
  );
  t.deepEqual(
    names(alert({ namespace: 'payments' }, { severity: 'HIGH' })),
    ['platform-slack:C0PLATFORM', 'payments-slack:C0PAYMENTS'],
    'continue',
  );
  t.deepEqual(
    names(alert({ namespace: 'web' }, { severity: 'LOW' })),
    ['platform-slack:C0PLATFORM'],
    'default route',
  );
  t.deepEqual(names(alert({ namespace: 'payments', slack_channel: 'C0OVERRIDE' }, { severity: 'LOW' })), [
    'payments-slack:C0OVERRIDE',
  ]);
  t.deepEqual(
    names(alert({ namespace: 'payments', slack_channel: '#general' }, { severity: 'LOW' })),
    ['payments-slack:C0PAYMENTS'],
    'only channel IDs are taken from alert data',
  );
  t.deepEqual(
    routeIssue(alert({}), DEFAULT_CONFIG, fallback).map((r) => r.destination.type),
    ['terminal'],
  );
});

test('config: planning adds explanation, annotations and custom workflow actions, and skips enrichers with nothing to do', async (t) => {
  const c = parseConfig(await example(), env);
  const issue = alert(
    { namespace: 'payments', severity: 'critical', team: 'ledger' },
    { annotations: { summary: 's', dashboard: 'https://grafana/x' } },
  );
  const planned = planIssue(issue, c).issue;
  if (!planned) return t.fail('not silenced');
  t.deepEqual(planned.plan, ['enrichpod', 'dispatch']);
  t.deepEqual(planned.actions?.podLogs, { tail: 300, previous: true });
  t.deepEqual(planned.actions?.workflows, ['payments-crashloops']);
  t.deepEqual(planned.actions?.mentions, { users: ['U0LEDGER1'], groups: ['S0PAYONCALL'] });
  const sources = planned.enrichments.map((e) => e.source);
  t.deepEqual(sources, ['default', 'explanation', 'template']);
  t.regex(JSON.stringify(planned.enrichments[1]), /database is unreachable/, 'explanation override');
  t.regex(JSON.stringify(planned.enrichments[2]), /Dashboard for api-1/);

  const off = parseConfig(
    'workflows:\n  podTroubleshooting:\n    podInvestigator: {enabled: false}\n    podLogs: {enabled: false}\n    podEvents: {enabled: false}\n    imagePullBackoff: {enabled: false}\n    evicted: {enabled: false}\n    pending: {enabled: false}\n  oomKiller:\n    podOomKillerEnricher: {enabled: false}\n  alertEnrichment:\n    alertExplanation: {enabled: false}',
    {},
  );
  const plain = planIssue(alert({ namespace: 'web' }), off).issue;
  t.deepEqual(plain?.plan, ['dispatch'], 'nothing to enrich goes straight to dispatch');
  t.deepEqual(plain?.enrichments, []);
  t.deepEqual(planIssue(makeIssue({ subject: { kind: 'Node', name: 'n1' } }), DEFAULT_CONFIG).issue?.plan, [
    'enrichnode',
    'dispatch',
  ]);
  t.deepEqual(
    planIssue(makeIssue({ subject: { kind: 'Deployment', name: 'web', namespace: 'x' } }), DEFAULT_CONFIG)
      .issue?.plan,
    ['enrichpod', 'dispatch'],
  );
});

test('config: a label can only choose among configured mention IDs', (t) => {
  const c = parseConfig(
    `customWorkflows:
  - name: m
    triggers: [{ on: alert }]
    actions: [{ mention: { fromLabel: owner, map: { ledger: [U0LEDGER1] } } }]`,
    {},
  );
  t.deepEqual(planIssue(alert({ owner: 'ledger' }), c).issue?.actions?.mentions, {
    users: ['U0LEDGER1'],
    groups: [],
  });
  t.deepEqual(planIssue(alert({ owner: 'U0ATTACKER' }), c).issue?.actions?.mentions, {
    users: [],
    groups: [],
  });
});

test('config: templates fill labels, annotations and subject, and ignore unknown names', (t) => {
  const issue = alert({ namespace: 'shop' }, { annotations: { owner: 'team-a' } });
  t.is(
    renderTemplate('{{subject.name}} in {{labels.namespace}} by {{annotations.owner}}{{nope.x}}', issue),
    'api-1 in shop by team-a',
  );
});

test('config: a changed file takes effect without a restart; an invalid one keeps the old config and says why', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'silences: [{ name: first, severities: [DEBUG] }]');
  const logs = captureLogs();
  const source = await openConfig({ file, env: {}, log: logs.log, pollMs: 50 });
  t.teardown(() => source.close());
  t.is(source.current().silences[0]?.name, 'first');
  const changed = new Promise((resolve) => source.onChange(resolve));
  await writeFile(file, 'silences: [{ name: second, severities: [DEBUG] }]');
  await changed;
  t.is(source.current().silences[0]?.name, 'second');
  await writeFile(file, 'silences: [{ name: broken, severities: [NOPE] }]');
  await source.reload();
  t.is(source.current().silences[0]?.name, 'second', 'the invalid file did not replace the running config');
  const line = logs.lines.find((l) => l.msg === 'invalid configuration: keeping the previous one');
  t.regex(String(line?.problem), /silences\[0\]\.severities\[0\]/);
  // Caught mid-rewrite (truncated, not yet written): the running config stays, then the new one.
  await writeFile(file, '');
  t.false(await source.reload(), 'an empty file is not taken');
  t.is(source.current().silences[0]?.name, 'second');
  await writeFile(file, 'silences: [{ name: third, severities: [DEBUG] }]');
  await source.reload();
  t.is(source.current().silences[0]?.name, 'third');
  t.false(await source.reload(), 'the same text read again is no change');
});

test('config: an invalid file at start is refused with the path of the problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'routes: [{ destinations: [] }]');
  const err = await t.throwsAsync(openConfig({ file, env: {} }), { instanceOf: ConfigFileError });
  t.regex(err?.message ?? '', /routes\[0\]\.destinations/);
});

test('config: every YAML example in the README and docs/configuration.md parses', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const docs = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Configuration at a glance'),
    readme.indexOf('## Read more'),
  );
  for (const text of [section, docs]) {
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    t.true(blocks.length >= 1);
    for (const block of blocks) {
      const c = parseConfig(block, env);
      t.true(c.customWorkflows.length + c.routes.length + c.silences.length > 0);
    }
  }
});

test('config: switched-off diagnoses and OOM logs travel with the issue', (t) => {
  const c = parseConfig(
    'workflows:\n  podTroubleshooting:\n    evicted: {enabled: false}\n    pending: {enabled: false}\n  oomKiller:\n    podOomKillerEnricher: {enabled: true, attachLogs: false}',
    {},
  );
  const a = planIssue(alert({ namespace: 'web' }), c).issue?.actions;
  t.deepEqual(a?.disabledDiagnoses, ['evicted', 'pending']);
  t.is(a?.attachOomLogs, false);
  t.is(planIssue(alert({ namespace: 'web' }), DEFAULT_CONFIG).issue?.actions?.disabledDiagnoses, undefined);
});

test('config: nodeHealth switches become enrich-node sections on the issue', (t) => {
  const c = parseConfig('workflows:\n  nodeHealth:\n    nodeRunningPods: {enabled: false}', {});
  t.deepEqual(
    planIssue(makeIssue({ subject: { kind: 'Node', name: 'n1' } }), c).issue?.actions?.nodeSections,
    {
      runningPods: false,
    },
  );
});
