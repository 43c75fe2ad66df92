// What every incident service shows of an issue, as plain data its renderer lays out: the
// one-line summary (the verdict, else the title), the facts (where, since when), the
// diagnosis as text, and the links.
import type { RootView } from '../../domain/destination.ts';
import type { Issue } from '../../domain/issue.ts';
import { detailsAsText } from '../slack/plain.ts';

/** The verdict an on-call engineer reads first, else the issue's title. */
export function summaryOf(view: RootView, max = 1024): string {
  const { issue } = view;
  const text = (view.verdicts[0] ? `${issue.title}: ${view.verdicts[0]}` : issue.title)
    .replace(/\s+/g, ' ')
    .trim();
  return cut(text || 'incident', max);
}

export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

export interface Fact {
  title: string;
  value: string;
}

/** Where and since when, in a stable order; only what the issue knows. */
export function factsOf(view: RootView): Fact[] {
  const { issue } = view;
  const s = issue.subject;
  const facts: Array<[string, string | undefined]> = [
    [
      'Status',
      view.status === 'resolved'
        ? 'resolved'
        : view.firingCount > 1
          ? `firing (${view.firingCount} times)`
          : 'firing',
    ],
    ['Severity', issue.severity],
    ['Cluster', issue.cluster],
    ['Namespace', s.namespace],
    [s.kind, s.name],
    ['Container', s.container],
    ['Node', s.node],
    ['Since', view.firingSince],
    ['Resolved', view.status === 'resolved' ? (view.resolvedAt ?? issue.endsAt) : undefined],
    ['Occurrences', view.occurrences ? String(view.occurrences.count) : undefined],
  ];
  return facts.filter((f): f is [string, string] => !!f[1]).map(([title, value]) => ({ title, value }));
}

/**
 * The diagnosis (every enrichment) as text, tables kept short and files (logs) shown up to
 * `fileChars` each. Empty when there is none.
 */
export function diagnosisText(issue: Issue, fileChars = 2000): string {
  if (issue.enrichments.length === 0) return issue.description ?? '';
  const details = detailsAsText(issue, { tableRows: 20, fileChars });
  return issue.description ? `${issue.description}\n\n${details}` : details;
}
