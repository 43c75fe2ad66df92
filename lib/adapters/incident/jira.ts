// Jira Cloud (REST v3): the firing creates an issue (project, type, labels, the priority mapped
// from the severity, the diagnosis in Atlassian Document Format) whose key is kept in the thread
// state, never searched for; the logs are attached; a re-fire adds a comment (bounded, in number
// and size); the resolution comments and moves the issue to the configured status.
import type { JiraDestination } from '../../domain/config/destinations.ts';
import type { RootView, StatusReplyKind } from '../../domain/destination.ts';
import type { FileBlock } from '../../domain/issue.ts';
import { sha256Hex } from '../../platform/digest.ts';
import { DependencyError } from '../../platform/errors.ts';
import { call } from '../http/client.ts';
import { type AdfNode, bulletList, codeBlock, doc, heading, paragraph } from './adf.ts';
import type { IncidentService } from './destination.ts';
import { cut, diagnosisText, factsOf, summaryOf } from './render.ts';

/** Jira's own limits: a summary of 255 characters; a description or comment of 32,767. */
const MAX_SUMMARY = 255;
const MAX_DIAGNOSIS_CHARS = 24_000;
const MAX_COMMENT_DIAGNOSIS_CHARS = 4_000;

export type JiraOptions = Pick<
  JiraDestination,
  | 'name'
  | 'url'
  | 'email'
  | 'project'
  | 'issueType'
  | 'labels'
  | 'priorities'
  | 'resolveStatus'
  | 'reopenStatus'
  | 'maxComments'
> & { apiToken: string; timeoutMs: number };

const durationOf = (view: RootView): string | undefined => {
  const end = view.resolvedAt ?? view.issue.endsAt;
  if (!end) return undefined;
  const min = Math.round((Date.parse(end) - Date.parse(view.firingSince)) / 60_000);
  return Number.isFinite(min) && min >= 0
    ? min < 60
      ? `${min}m`
      : `${Math.floor(min / 60)}h${min % 60}m`
    : undefined;
};

export function description(view: RootView, maxDiagnosis = MAX_DIAGNOSIS_CHARS): AdfNode {
  const { issue } = view;
  const diagnosis = diagnosisText(issue);
  return doc([
    ...(view.verdicts.length ? [heading('Verdict'), bulletList(view.verdicts)] : []),
    heading('Facts'),
    bulletList(factsOf(view).map((f) => `${f.title}: ${f.value}`)),
    ...(diagnosis
      ? [
          heading('Diagnosis'),
          codeBlock(cut(diagnosis, maxDiagnosis)),
          ...(diagnosis.length > maxDiagnosis ? [paragraph('(cut: the whole diagnosis is attached)')] : []),
        ]
      : []),
    ...(issue.links.length
      ? [heading('Links'), ...issue.links.map((l) => paragraph({ text: l.title || l.url, href: l.url }))]
      : []),
  ]);
}

export class JiraService implements IncidentService {
  readonly id: string;
  readonly #o: JiraOptions;
  readonly #auth: string;

  constructor(o: JiraOptions) {
    this.id = `jira:${o.name}`;
    this.#o = o;
    this.#auth = `Basic ${Buffer.from(`${o.email}:${o.apiToken}`).toString('base64')}`;
  }

  async open(view: RootView): Promise<string> {
    const { issue } = view;
    const priority = this.#o.priorities[issue.severity];
    const fields = {
      project: { key: this.#o.project },
      issuetype: { name: this.#o.issueType },
      summary: cut(summaryOf(view, MAX_SUMMARY), MAX_SUMMARY),
      labels: [...this.#o.labels, this.#label(issue.fingerprint)],
      ...(priority ? { priority: { name: priority } } : {}),
      description: description(view),
    };
    const answer = await this.#json('create issue', 'POST', '/rest/api/3/issue', { fields });
    const key = (answer as { key?: unknown }).key;
    if (typeof key !== 'string')
      throw new DependencyError(`jira ${this.#o.name}: create issue answered without a key`);
    if (view.status === 'resolved') await this.#transition(key, this.#o.resolveStatus);
    return key;
  }

  async status(key: string, view: RootView, kind: StatusReplyKind): Promise<void> {
    // Bounded: a flapping alert stops commenting after maxComments re-fires (it still transitions).
    const refires = view.firingCount - 1;
    const quiet = refires > this.#o.maxComments;
    if (kind === 'resolved') {
      const after = durationOf(view);
      if (!quiet) await this.#comment(key, [paragraph(`Resolved${after ? ` after ${after}` : ''}.`)]);
      await this.#transition(key, this.#o.resolveStatus);
      return;
    }
    if (this.#o.reopenStatus) await this.#transition(key, this.#o.reopenStatus);
    if (quiet) return;
    const diagnosis = diagnosisText(view.issue);
    await this.#comment(key, [
      paragraph(`Firing again (${view.firingCount} times) since ${view.firingSince}.`),
      ...(view.verdicts.length ? [bulletList(view.verdicts)] : []),
      ...(diagnosis ? [codeBlock(cut(diagnosis, MAX_COMMENT_DIAGNOSIS_CHARS))] : []),
      ...(refires === this.#o.maxComments
        ? [paragraph(`Further re-fires and resolutions add no comment (limit ${this.#o.maxComments}).`)]
        : []),
    ]);
  }

  /**
   * The issue a create made whose key never reached Redis (its answer lost, the function killed
   * before recording it), by the fingerprint's label. Only then: every other call uses the
   * stored key. Jira's search index lags its writes by seconds; the dispatcher looks no sooner
   * than a settling time after the attempt.
   */
  async find(fingerprint: string, since: number): Promise<string | undefined> {
    const jql = `project = "${this.#o.project}" AND labels = "${this.#label(fingerprint)}" ORDER BY created DESC`;
    const query = new URLSearchParams({ jql, fields: 'created', maxResults: '10' });
    const answer = (await this.#json('search', 'GET', `/rest/api/3/search/jql?${query}`)) as {
      issues?: Array<{ key?: string; fields?: { created?: string } }>;
    };
    const found = answer.issues?.find((i) => Date.parse(i.fields?.created ?? '') >= since * 1000);
    return found?.key;
  }

  /** A label per fingerprint (Jira labels cannot hold spaces; fingerprints are hashed to fit). */
  #label(fingerprint: string): string {
    return `kubeincident-${sha256Hex(fingerprint).slice(0, 16)}`;
  }

  async attach(key: string, files: FileBlock[]): Promise<void> {
    const form = new FormData();
    for (const f of files) form.append('file', new Blob([f.content], { type: f.contentType }), f.filename);
    await call(`jira ${this.#o.name} attach`, {
      method: 'POST',
      url: this.#url(`/rest/api/3/issue/${encodeURIComponent(key)}/attachments`),
      headers: { authorization: this.#auth, 'x-atlassian-token': 'no-check', accept: 'application/json' },
      body: form,
      timeoutMs: this.#o.timeoutMs,
    });
  }

  async #comment(key: string, content: AdfNode[]): Promise<void> {
    await this.#json('comment', 'POST', `/rest/api/3/issue/${encodeURIComponent(key)}/comment`, {
      body: doc(content),
    });
  }

  /** Moves the issue to `status`; already there is done. */
  async #transition(key: string, status: string): Promise<void> {
    const path = `/rest/api/3/issue/${encodeURIComponent(key)}`;
    const want = status.toLowerCase();
    const { transitions } = (await this.#json('transitions', 'GET', `${path}/transitions`)) as {
      transitions?: Array<{ id: string; name?: string; to?: { name?: string } }>;
    };
    const t = transitions?.find((x) => x.to?.name?.toLowerCase() === want || x.name?.toLowerCase() === want);
    if (t) {
      await this.#json('transition', 'POST', `${path}/transitions`, { transition: { id: t.id } });
      return;
    }
    const current = (await this.#json('status', 'GET', `${path}?fields=status`)) as {
      fields?: { status?: { name?: string } };
    };
    if (current.fields?.status?.name?.toLowerCase() === want) return;
    throw new DependencyError(
      `jira ${this.#o.name}: no transition of ${key} leads to "${this.#o.resolveStatus}"`,
    );
  }

  #url(path: string): string {
    return new URL(path, this.#o.url).toString();
  }

  async #json(what: string, method: 'GET' | 'POST', path: string, body?: object): Promise<unknown> {
    const answer = await call(`jira ${this.#o.name} ${what}`, {
      method,
      url: this.#url(path),
      headers: {
        authorization: this.#auth,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      timeoutMs: this.#o.timeoutMs,
    });
    if (!answer.body) return {};
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      throw new DependencyError(`jira ${this.#o.name} ${what}: the answer is not JSON`);
    }
  }
}
