// The fault harness of test/support/faults.ts with the incident destinations added: stand-in
// PagerDuty, Teams, Jira and webhook receiver, one config file that routes HIGH to PagerDuty
// and everything to Teams, Slack, the webhook and Jira, and the invariant checker per service:
// one incident per alert, its resolution reflected, nothing missing, nothing opened twice.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AlertSpec, type FaultEnv, startFaultEnv } from './faults.ts';
import {
  type JiraStandin,
  type PagerDutyStandin,
  type Standin,
  startJiraStandin,
  startPagerDutyStandin,
  startTeamsStandin,
  startWebhookStandin,
  type TeamsStandin,
  type WebhookStandin,
} from './incident-standins.ts';
import { eventually } from './pipeline.ts';

export const ROUTING_KEY = 'R0UTINGKEYfaults0123456789abcdef';
export const WEBHOOK_SECRET = `whsec_${Buffer.from('faults-shared-secret-32-bytes!!!').toString('base64')}`;
export const INCIDENT_FUNCTIONS = [
  'dispatch-webhook',
  'dispatch-pagerduty',
  'dispatch-teams',
  'dispatch-jira',
];

export interface IncidentEnv extends FaultEnv {
  pd: PagerDutyStandin;
  teams: TeamsStandin;
  hook: WebhookStandin;
  jira: JiraStandin;
  services: Standin[];
  stop(): Promise<void>;
}

export async function startIncidentEnv(env: NodeJS.ProcessEnv = {}): Promise<IncidentEnv> {
  const pd = await startPagerDutyStandin(ROUTING_KEY);
  const teams = await startTeamsStandin();
  const hook = await startWebhookStandin(WEBHOOK_SECRET);
  const jira = await startJiraStandin('OPS');
  const services = [pd, teams, hook, jira];
  const closeAll = () => Promise.all(services.map((s) => s.close()));
  try {
    const e = await startFaultEnv({
      CONFIG_FILE: await writeConfig(pd, hook, jira),
      TEAMS_WEBHOOK_URL: teams.webhookUrl,
      WEBHOOK_SECRET,
      JIRA_TOKEN: jira.token,
      // Longer than a loaded machine's slowest answer: a timed-out create that Jira or Teams
      // still took is shown twice (no idempotency key there: docs/destinations.md), and these
      // scenarios are about faults the services report, not about that one.
      DESTINATION_TIMEOUT_MS: '8000',
      ...env,
    });
    return {
      ...e,
      pd,
      teams,
      hook,
      jira,
      services,
      stop: async () => {
        await e.stop();
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The one config: secrets by `${ENV}` and by file, HIGH to PagerDuty, everything to the rest. */
async function writeConfig(pd: Standin, hook: Standin, jira: JiraStandin): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'incident-config-'));
  const keyFile = join(base, 'routing-key');
  await writeFile(keyFile, `${ROUTING_KEY}\n`);
  const file = join(base, 'config.yaml');
  await writeFile(
    file,
    `destinations:
  - name: oncall
    type: pagerduty
    apiUrl: ${pd.url}
    routingKey: {file: ${keyFile}}
  - name: sre
    type: teams
    url: \${TEAMS_WEBHOOK_URL}
  - name: hook
    type: webhook
    url: ${hook.url}/incidents
    secret: \${WEBHOOK_SECRET}
    headers: {x-source: kubeincident}
  - name: tickets
    type: jira
    url: ${jira.url}
    email: ${jira.email}
    apiToken: \${JIRA_TOKEN}
    project: OPS
    priorities: {HIGH: Highest}
    resolveStatus: Done
routes:
  - match: {severity: HIGH}
    destinations: [oncall]
    continue: true
  - destinations: [sre, default, hook, tickets]
`,
  );
  return file;
}

export interface IncidentReport {
  service: string;
  lost: string[];
  duplicated: string[];
  unresolved: string[];
}

const heading = (c: { body: Array<Record<string, unknown>> }): string =>
  String(((c.body[0]?.items as Array<{ text?: string }> | undefined) ?? [])[0]?.text ?? '');

/**
 * What each service holds for these alerts. `high`: the markers routed to PagerDuty.
 * `resolvedFirst`: markers whose resolution arrived before their firing (opened resolved).
 */
export function inspectIncidents(
  e: IncidentEnv,
  alerts: AlertSpec[],
  high: Set<string>,
  resolvedFirst: Set<string> = new Set(),
): IncidentReport[] {
  const reports = ['pagerduty', 'teams', 'webhook', 'jira'].map((service) => ({
    service,
    lost: [] as string[],
    duplicated: [] as string[],
    unresolved: [] as string[],
  }));
  const [pd, teams, hook, jira] = reports as [IncidentReport, IncidentReport, IncidentReport, IncidentReport];
  for (const { marker } of alerts) {
    const events = e.hook.events.filter((ev) => ev.data.issue.title.includes(marker));
    const fingerprint = events[0]?.data.issue.fingerprint;
    // Webhook: one opening event (firing, or resolved when the resolution came first), one resolution.
    const opened = events.filter((ev) => ev.type.endsWith('.firing.v1'));
    const resolvedEvents = events.filter((ev) => ev.type.endsWith('.resolved.v1'));
    if (events.length === 0) hook.lost.push(marker);
    if (opened.length > 1 || resolvedEvents.length > 1) hook.duplicated.push(marker);
    if (resolvedEvents.length === 0) hook.unresolved.push(marker);
    // Teams: one card opening the incident, one saying it resolved (one card in all when it opened resolved).
    const cards = e.teams.cards.filter((c) => c.text.includes(marker));
    const openCards = cards.filter((c) => heading(c).startsWith('Firing ·'));
    const resolvedCards = cards.filter((c) => heading(c) === 'Resolved');
    if (cards.length === 0) teams.lost.push(marker);
    if (openCards.length > 1 || resolvedCards.length > 1) teams.duplicated.push(marker);
    if (resolvedCards.length === 0) teams.unresolved.push(marker);
    // Jira: one issue, moved to Done.
    const issues = [...e.jira.issues.values()].filter((i) => String(i.fields.summary).includes(marker));
    if (issues.length === 0) jira.lost.push(marker);
    if (issues.length > 1) jira.duplicated.push(marker);
    if (issues.some((i) => i.status !== 'Done')) jira.unresolved.push(marker);
    // PagerDuty: HIGH only, one incident under its dedup key, resolved.
    const keys = [...e.pd.alerts.keys(), ...e.pd.orphanResolves].filter(
      (k) => fingerprint !== undefined && k.endsWith(`/${fingerprint}`),
    );
    const alert = keys.map((k) => e.pd.alerts.get(k)).find((a) => a !== undefined);
    if (!high.has(marker)) {
      if (keys.length > 0) pd.duplicated.push(`${marker} (not HIGH, yet paged)`);
    } else if (resolvedFirst.has(marker)) {
      if (alert?.status === 'triggered') pd.unresolved.push(marker);
    } else {
      if (!alert) pd.lost.push(marker);
      else {
        if (alert.incidents > 1) pd.duplicated.push(marker);
        if (alert.status !== 'resolved') pd.unresolved.push(marker);
      }
    }
  }
  return reports;
}

/** Waits until every service shows every alert resolved (or the time is up), then a last look. */
export async function settleIncidents(
  e: IncidentEnv,
  alerts: AlertSpec[],
  high: Set<string>,
  resolvedFirst: Set<string> = new Set(),
  timeoutMs = 60_000,
): Promise<IncidentReport[]> {
  const done = () =>
    inspectIncidents(e, alerts, high, resolvedFirst).every(
      (r) => r.lost.length === 0 && r.unresolved.length === 0,
    );
  await eventually(
    'every incident resolved in every service',
    () => (done() ? true : undefined),
    timeoutMs,
  ).catch(() => undefined);
  // Let in-flight retries land, so a late duplicate would be seen.
  await new Promise((r) => setTimeout(r, 1000));
  return inspectIncidents(e, alerts, high, resolvedFirst);
}

/** Waits until every alert has opened its incident in Teams (the last to take its firing). */
export async function waitForIncidents(e: IncidentEnv, alerts: AlertSpec[]): Promise<void> {
  await eventually(
    'every incident opened',
    () =>
      alerts.every(
        (a) =>
          e.teams.cards.some((c) => c.text.includes(a.marker)) &&
          [...e.jira.issues.values()].some((i) => String(i.fields.summary).includes(a.marker)) &&
          e.hook.events.some((ev) => ev.data.issue.title.includes(a.marker)),
      )
        ? true
        : undefined,
    60_000,
  );
}
