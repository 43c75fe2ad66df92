// Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card per incident
// (severity colour, facts, the verdict, the diagnosis), cut to the payload limit (about 28 KB)
// with a line that says so. A Workflows webhook cannot edit a card it posted: the resolution and
// a re-fire are follow-up cards. The card's identity is ours (the webhook returns no message id).
import type { RootView, StatusReplyKind } from '../../domain/destination.ts';
import { occurrenceId } from '../../domain/events.ts';
import type { Severity } from '../../domain/issue.ts';
import { call } from '../http/client.ts';
import type { IncidentService } from './destination.ts';
import { diagnosisText, factsOf, summaryOf } from './render.ts';

/** Adaptive Card container styles: the card's colour bar. */
const STYLE: Record<Severity | 'resolved', string> = {
  HIGH: 'attention',
  LOW: 'warning',
  INFO: 'accent',
  DEBUG: 'default',
  resolved: 'good',
};
export const CUT_NOTE = 'The diagnosis was cut to fit Teams’ message size limit.';

export interface TeamsOptions {
  name: string;
  url: string;
  maxBytes: number;
  timeoutMs: number;
}

type Kind = 'open' | StatusReplyKind;

const HEADINGS: Record<Kind, (v: RootView) => string> = {
  open: (v) => (v.status === 'resolved' ? 'Resolved' : `Firing · ${v.issue.severity}`),
  resolved: () => 'Resolved',
  refired: (v) => `Firing again (${v.firingCount} times) · ${v.issue.severity}`,
};

/** The Workflows message: one Adaptive Card, within `maxBytes` of JSON (the diagnosis is what gives way). */
export function teamsMessage(view: RootView, kind: Kind, maxBytes: number): { body: string; cut: boolean } {
  // Logs whole: the cut below keeps as much as the card can carry.
  const full = kind === 'resolved' ? '' : diagnosisText(view.issue, Number.POSITIVE_INFINITY);
  let body = JSON.stringify(message(view, kind, full, false));
  if (Buffer.byteLength(body) <= maxBytes) return { body, cut: false };
  // Shrink the diagnosis until the card fits (a binary search over its length in characters).
  let lo = 0;
  let hi = full.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const size = Buffer.byteLength(JSON.stringify(message(view, kind, full.slice(0, mid), true)));
    if (size <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  body = JSON.stringify(message(view, kind, full.slice(0, lo), true));
  return { body, cut: true };
}

function message(view: RootView, kind: Kind, diagnosis: string, wasCut: boolean): object {
  const { issue } = view;
  const style = view.status === 'resolved' ? STYLE.resolved : STYLE[issue.severity];
  const text = (t: string, extra: object = {}) => ({ type: 'TextBlock', text: t, wrap: true, ...extra });
  // Untrusted text (titles, verdicts, logs) goes in TextRuns, which Teams never reads as
  // markdown: a label cannot become a link or a mention.
  const plain = (t: string, extra: object = {}) => ({
    type: 'RichTextBlock',
    inlines: [{ type: 'TextRun', text: t, ...extra }],
  });
  const body: object[] = [
    {
      type: 'Container',
      style,
      bleed: true,
      items: [
        text(HEADINGS[kind](view), { weight: 'Bolder', size: 'Small' }),
        plain(issue.title || 'incident', { weight: 'Bolder', size: 'Large' }),
      ],
    },
    { type: 'FactSet', facts: factsOf(view) },
  ];
  if (view.verdicts.length) body.push(plain(summaryOf(view, 2000), { weight: 'Bolder' }));
  if (diagnosis) body.push(plain(diagnosis, { fontType: 'Monospace', size: 'Small' }));
  if (wasCut) body.push(text(CUT_NOTE, { isSubtle: true, size: 'Small' }));
  const actions = issue.links
    .slice(0, 6)
    .map((l) => ({ type: 'Action.OpenUrl', title: l.title, url: l.url }));
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body,
          ...(actions.length ? { actions } : {}),
        },
      },
    ],
  };
}

export class TeamsService implements IncidentService {
  readonly id: string;
  readonly #o: TeamsOptions;

  constructor(o: TeamsOptions) {
    this.id = `teams:${o.name}`;
    this.#o = o;
  }

  async open(view: RootView): Promise<string> {
    await this.#post(view, 'open');
    return occurrenceId(this.id, view.issue.fingerprint, view.firingSince);
  }

  async status(_key: string, view: RootView, kind: StatusReplyKind): Promise<void> {
    await this.#post(view, kind);
  }

  async #post(view: RootView, kind: Kind): Promise<void> {
    const { body } = teamsMessage(view, kind, this.#o.maxBytes);
    await call(`teams ${this.#o.name}`, {
      method: 'POST',
      url: this.#o.url,
      headers: { 'content-type': 'application/json' },
      body,
      timeoutMs: this.#o.timeoutMs,
    });
  }
}
