// PagerDuty Events API v2: the firing triggers an alert under a dedup key made of the cluster
// and the fingerprint, the resolution resolves it, a re-fire triggers again (a new incident if
// the old one was resolved). PagerDuty dedupes on the key, so a retried event changes nothing.
// 429 and 5xx go back to the broker with Retry-After (lib/adapters/http/client.ts).
import type { PagerDutyDestination } from '../../domain/config/destinations.ts';
import type { RootView } from '../../domain/destination.ts';
import type { Severity } from '../../domain/issue.ts';
import { sha256Hex } from '../../platform/digest.ts';
import { call } from '../http/client.ts';
import type { IncidentService } from './destination.ts';
import { cut, diagnosisText, factsOf, summaryOf } from './render.ts';

const DEFAULT_SEVERITY: Record<Severity, PagerDutyDestination['severity'][Severity] & string> = {
  HIGH: 'critical',
  LOW: 'warning',
  INFO: 'info',
  DEBUG: 'info',
};
/** PagerDuty takes 512 KB an event; the diagnosis is kept far below, with room for the rest. */
const MAX_DIAGNOSIS_CHARS = 64 * 1024;

export interface PagerDutyOptions {
  name: string;
  routingKey: string;
  apiUrl: string;
  severity: PagerDutyDestination['severity'];
  cluster?: string | undefined;
  timeoutMs: number;
}

/** At most 255 characters, as PagerDuty allows: cluster and fingerprint, hashed when longer. */
export function dedupKey(cluster: string | undefined, fingerprint: string): string {
  const key = `kubeincident/${cluster ?? 'cluster'}/${fingerprint}`;
  return key.length <= 255 ? key : `kubeincident/${sha256Hex(key)}`;
}

export class PagerDutyService implements IncidentService {
  readonly id: string;
  readonly #o: PagerDutyOptions;

  constructor(o: PagerDutyOptions) {
    this.id = `pagerduty:${o.name}`;
    this.#o = o;
  }

  async open(view: RootView): Promise<string> {
    const key = dedupKey(view.issue.cluster ?? this.#o.cluster, view.issue.fingerprint);
    await this.#enqueue(view.status === 'resolved' ? this.#resolve(key) : this.#trigger(key, view));
    return key;
  }

  async status(key: string, view: RootView): Promise<void> {
    await this.#enqueue(view.status === 'resolved' ? this.#resolve(key) : this.#trigger(key, view));
  }

  #resolve(key: string): object {
    return { routing_key: this.#o.routingKey, event_action: 'resolve', dedup_key: key };
  }

  #trigger(key: string, view: RootView): object {
    const { issue } = view;
    const s = issue.subject;
    const where = [s.namespace, s.name].filter(Boolean).join('/');
    const diagnosis = diagnosisText(issue, MAX_DIAGNOSIS_CHARS);
    return {
      routing_key: this.#o.routingKey,
      event_action: 'trigger',
      dedup_key: key,
      client: 'kubeincident',
      payload: {
        summary: summaryOf(view, 1024),
        source: cut(
          where
            ? `${issue.cluster ?? this.#o.cluster ?? 'cluster'}/${where}`
            : (issue.cluster ?? 'kubernetes'),
          255,
        ),
        severity: this.#o.severity[issue.severity] ?? DEFAULT_SEVERITY[issue.severity],
        timestamp: issue.startsAt,
        component: s.name ?? s.kind,
        group: s.namespace ?? issue.cluster ?? 'cluster',
        class: issue.labels.alertname ?? issue.subject.kind,
        custom_details: {
          verdicts: view.verdicts,
          facts: Object.fromEntries(factsOf(view).map((f) => [f.title, f.value])),
          ...(diagnosis ? { diagnosis: cut(diagnosis, MAX_DIAGNOSIS_CHARS) } : {}),
          labels: issue.labels,
          fingerprint: issue.fingerprint,
        },
      },
      links: issue.links.map((l) => ({ href: l.url, text: l.title })),
    };
  }

  async #enqueue(event: object): Promise<void> {
    await call(`pagerduty ${this.#o.name}`, {
      method: 'POST',
      url: new URL('/v2/enqueue', this.#o.apiUrl).toString(),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      timeoutMs: this.#o.timeoutMs,
    });
  }
}
