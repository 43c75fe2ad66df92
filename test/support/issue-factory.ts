// Valid Issues for tests, shaped like what alert-ingest and enrich-pod produce, with defaults
// so a test states only what it is about. Everything passes through the Issue schema.
import { occurrenceId } from '../../lib/domain/events.ts';
import { type Enrichment, Issue, type IssueInput } from '../../lib/domain/issue.ts';

export const T0 = '2026-03-01T10:00:00.000Z';

/** ISO time `minutes` after T0 (or another base). */
export function at(minutes: number, base = T0): string {
  return new Date(Date.parse(base) + minutes * 60_000).toISOString();
}

/** What enrich-pod adds for an OOM-killed container: verdict, a table and the previous logs. */
export function oomEnrichment(overrides: Partial<Enrichment> = {}): Enrichment {
  return {
    source: 'enrich-pod',
    title: 'Pod checkout-7d9f8b6c5-x2k4q',
    verdict: 'OOMKilled: container api reached its 256Mi memory limit (3 restarts in 10m)',
    blocks: [
      {
        type: 'table',
        title: 'Containers',
        headers: ['container', 'state', 'last state', 'exit code', 'restarts'],
        rows: [['api', 'Waiting (CrashLoopBackOff)', 'Terminated (OOMKilled)', '137', '3']],
      },
      {
        type: 'file',
        filename: 'checkout-7d9f8b6c5-x2k4q.api.previous.log',
        title: 'Previous logs of api',
        contentType: 'text/plain',
        content: 'INFO starting checkout api\nINFO cache warmed: 212MB\nFATAL runtime: out of memory\n',
      },
    ],
    ...overrides,
  };
}

/**
 * A firing KubePodCrashLooping alert by default. Like alert-ingest, the id is derived from the
 * fingerprint, status and times, so a repeat of the same firing gets the same id.
 */
export function makeIssue(overrides: Partial<IssueInput> = {}): Issue {
  const fingerprint = overrides.fingerprint ?? 'a1b2c3d4e5f60718';
  const status = overrides.status ?? 'firing';
  const startsAt = overrides.startsAt ?? T0;
  const endsAt = overrides.endsAt ?? (status === 'resolved' ? at(15, startsAt) : undefined);
  const input: IssueInput = {
    id: overrides.id ?? occurrenceId('alert', fingerprint, status, startsAt, endsAt ?? ''),
    fingerprint,
    type: 'alert',
    source: 'prometheus',
    title: 'Pod shop/checkout-7d9f8b6c5-x2k4q is crash looping',
    description: 'Pod shop/checkout-7d9f8b6c5-x2k4q (api) restarted 3 times in the last 10 minutes.',
    severity: 'HIGH',
    status,
    cluster: 'prod-eu-1',
    subject: { kind: 'Pod', name: 'checkout-7d9f8b6c5-x2k4q', namespace: 'shop', container: 'api' },
    labels: {
      alertname: 'KubePodCrashLooping',
      namespace: 'shop',
      pod: 'checkout-7d9f8b6c5-x2k4q',
      container: 'api',
      severity: 'critical',
    },
    annotations: {
      summary: 'Pod is crash looping.',
      runbook_url: 'https://runbooks.example.com/KubePodCrashLooping',
    },
    links: [{ type: 'runbook', title: 'Runbook', url: 'https://runbooks.example.com/KubePodCrashLooping' }],
    enrichments: [],
    plan: ['dispatch'],
    ...overrides,
    startsAt,
  };
  if (endsAt !== undefined) input.endsAt = endsAt;
  else delete input.endsAt;
  return Issue.parse(input);
}

/** The same alert as `firing`, resolved at `endsAt` (15 minutes after it started by default). */
export function resolvedOf(firing: Issue, endsAt = at(15, firing.startsAt)): Issue {
  return makeIssue({
    fingerprint: firing.fingerprint,
    startsAt: firing.startsAt,
    status: 'resolved',
    endsAt,
  });
}
