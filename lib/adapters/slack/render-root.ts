// The root message of a thread and its short status replies. The root is rebuilt from a
// RootView alone, so a resolution can edit it in place without storing what was posted.
import type { RootView, StatusReplyKind } from '../../domain/destination.ts';
import type { FileBlock, Issue, Severity } from '../../domain/issue.ts';
import {
  blocksSize,
  context,
  fields,
  header,
  type SlackBlock,
  type SlackMessage,
  section,
} from './blocks.ts';
import {
  BUDGET,
  clip,
  escapeMrkdwn,
  formatDuration,
  formatTime,
  Overflow,
  oneLine,
  SLACK_LIMITS,
  slackLink,
  truncateEscaped,
} from './text.ts';

export const COLORS = {
  HIGH: '#d62828',
  LOW: '#f4a100',
  INFO: '#1f77d0',
  DEBUG: '#9e9e9e',
  resolved: '#2eb67d',
} as const;

export const EMOJI: Record<Severity | 'resolved', string> = {
  HIGH: ':red_circle:',
  LOW: ':large_orange_circle:',
  INFO: ':large_blue_circle:',
  DEBUG: ':white_circle:',
  resolved: ':large_green_circle:',
};

export function colorFor(view: Pick<RootView, 'status'> & { issue: Pick<Issue, 'severity'> }): string {
  return view.status === 'resolved' ? COLORS.resolved : COLORS[view.issue.severity];
}

export interface RootRender extends SlackMessage {
  attachments: [{ color: string; fallback: string; blocks: SlackBlock[] }];
  /** Full texts cut from the root (long title, description, labels, links), for uploadFiles. */
  overflowFiles: FileBlock[];
}

/** Character budgets at scale 1; the renderer scales them down until the blocks fit. */
const BASE = { title: 1200, description: 2400, verdict: 300, verdicts: 1500, labels: 1200, links: 2000 };

/** How long the firing lasted, when both ends are known. */
export function resolvedAfter(view: RootView): string | undefined {
  const end = view.resolvedAt ?? view.issue.endsAt;
  if (view.status !== 'resolved' || end === undefined) return undefined;
  const ms = Date.parse(end) - Date.parse(view.firingSince);
  return Number.isNaN(ms) ? undefined : formatDuration(ms);
}

function statusLine(view: RootView): string {
  const sev = view.issue.severity;
  const parts: string[] = [];
  if (view.status === 'resolved') {
    const after = resolvedAfter(view);
    parts.push(`${EMOJI.resolved} *RESOLVED*${after ? ` after ${after}` : ''}`);
  } else {
    // A workload change (change tracking) is news, not a failure: it never says FIRING.
    parts.push(`${EMOJI[sev]} *${view.issue.type === 'change' ? 'CHANGED' : 'FIRING'}*`);
  }
  parts.push(sev);
  if (view.firingCount > 1) parts.push(`fired ${view.firingCount} times`);
  return parts.join('  ·  ');
}

const SLACK_ID = /^[A-Z][A-Z0-9]{2,}$/;

/**
 * `<@U…>` and `<!subteam^S…>` for the configured IDs the issue carries. The IDs come from the
 * operator's configuration (lib/config), and are checked again here: nothing else can ping.
 */
export function mentionText(issue: Pick<Issue, 'actions'>): string {
  const m = issue.actions?.mentions;
  if (!m) return '';
  const users = m.users.filter((u) => SLACK_ID.test(u)).map((u) => `<@${u}>`);
  const groups = m.groups.filter((g) => SLACK_ID.test(g)).map((g) => `<!subteam^${g}>`);
  return [...users, ...groups].join(' ');
}

/** "Seen 57 times, last 04:10 UTC · 12 pods: a, b, c …" for issues that fold repeats. */
export function occurrencesLine(view: Pick<RootView, 'occurrences'>): string | undefined {
  const o = view.occurrences;
  if (!o || (o.count <= 1 && (o.objects ?? 0) <= 1)) return undefined;
  const parts = [`Seen ${o.count} ${o.count === 1 ? 'time' : 'times'}, last ${formatTime(o.lastSeen)}`];
  if (o.objects !== undefined && o.objects > 1) {
    const sample = (o.sample ?? []).slice(0, 5).map((s) => clip(oneLine(s), 80));
    const more = o.objects - sample.length;
    parts.push(
      `${o.objects} objects affected${sample.length ? `: ${sample.join(', ')}${more > 0 ? ` +${more} more` : ''}` : ''}`,
    );
  }
  return parts.join('  ·  ');
}

function fieldItems(issue: Issue, firingSince: string): string[] {
  const s = issue.subject;
  const items: Array<[string, string | undefined]> = [
    ['Cluster', issue.cluster],
    ['Namespace', s.namespace],
    [clip(oneLine(s.kind), 60), s.name ?? (s.kind === 'Cluster' ? issue.cluster : undefined)],
    ['Node', s.kind === 'Node' ? undefined : s.node],
    ['Container', s.container],
    ['Started', formatTime(firingSince)],
    ['Source', `${issue.source} ${issue.type}`],
  ];
  return items
    .filter((i): i is [string, string] => i[1] !== undefined && i[1] !== '')
    .slice(0, SLACK_LIMITS.sectionFields)
    .map(([label, value]) => `*${label}*\n${clip(oneLine(value), 300)}`);
}

function labelsBlock(labels: Record<string, string>, budget: number, overflow: Overflow): string | undefined {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return undefined;
  const pairs = keys.map((k) => `\`${clip(oneLine(`${k}=${labels[k]}`), 200).replace(/`/g, "'")}\``);
  let text = '';
  let shown = 0;
  for (const p of pairs) {
    if (text.length + p.length + 2 > budget) break;
    text += (shown ? '  ' : '') + p;
    shown++;
  }
  if (shown < pairs.length) {
    const name = overflow.add('labels.txt', keys.map((k) => `${k}=${labels[k]}`).join('\n'), 'All labels');
    text += `${shown ? '  ' : ''}… +${pairs.length - shown} more, full list in ${name}`;
  }
  return text;
}

function linksLine(issue: Issue, budget: number, overflow: Overflow): string | undefined {
  const links: string[] = [];
  let rest = 0;
  let length = 0;
  for (const l of issue.links) {
    const s = slackLink(l);
    if (s === undefined) continue;
    if (rest > 0 || length + s.length + 5 > budget) {
      rest++;
      continue;
    }
    links.push(s);
    length += s.length + 5;
  }
  if (rest > 0) {
    const name = overflow.add(
      'links.txt',
      issue.links.map((l) => `${l.title}: ${l.url}`).join('\n'),
      'Links',
    );
    links.push(`… +${rest} more links in ${name}`);
  }
  return links.length ? links.join('  ·  ') : undefined;
}

function verdictsText(verdicts: readonly string[], budget: number, perVerdict: number): string | undefined {
  const lines: string[] = [];
  let length = 0;
  for (const [i, v] of verdicts.entries()) {
    const line = `• ${clip(oneLine(v), perVerdict)}`;
    if (length + line.length + 1 > budget) {
      lines.push(`… +${verdicts.length - i} more verdicts in the thread`);
      break;
    }
    lines.push(line);
    length += line.length + 1;
  }
  return lines.length ? lines.join('\n') : undefined;
}

function rootBlocks(view: RootView, scale: number, overflow: Overflow): SlackBlock[] {
  const issue = view.issue;
  const budget = (n: number) => Math.max(80, Math.floor(n * scale));
  const title = oneLine(issue.title).trim() || issue.fingerprint;
  const blocks: SlackBlock[] = [header(clip(title, SLACK_LIMITS.headerText))];
  if (escapeMrkdwn(title).length > SLACK_LIMITS.headerText) {
    blocks.push(section(`*${overflow.fit(title, budget(BASE.title), 'title.txt', 'Title')}*`));
  }
  blocks.push(section(statusLine(view)));
  const repeats = occurrencesLine(view);
  if (repeats) blocks.push(context(repeats));
  if (view.linked) {
    blocks.push(context(':link: Same workload as this thread: reported here too, from another source.'));
  }
  if (view.continuesEarlier) {
    blocks.push(
      context(
        ':leftwards_arrow_with_hook: Continues an earlier thread whose state was lost; history is above.',
      ),
    );
  }
  blocks.push(fields(fieldItems(issue, view.firingSince)));
  if (issue.description?.trim()) {
    blocks.push(
      section(overflow.fit(issue.description, budget(BASE.description), 'description.txt', 'Description')),
    );
  }
  const verdicts = verdictsText(view.verdicts, budget(BASE.verdicts), budget(BASE.verdict));
  if (verdicts) blocks.push(section(verdicts));
  const labels = labelsBlock(issue.labels, budget(BASE.labels), overflow);
  if (labels) blocks.push(context(labels));
  const links = linksLine(issue, budget(BASE.links), overflow);
  if (links) blocks.push(section(links));
  return blocks;
}

/**
 * The root message: compact, colored by status and severity, every untrusted string escaped.
 * Budgets shrink until the blocks are under Slack's aggregate limit; whatever is cut is
 * returned as overflow files.
 */
export function renderRoot(view: RootView): RootRender {
  let overflow = new Overflow();
  let blocks: SlackBlock[] = [];
  for (let scale = 1; scale > 0.05; scale *= 0.7) {
    overflow = new Overflow();
    blocks = rootBlocks(view, scale, overflow);
    if (blocksSize(blocks) <= BUDGET.aggregate) break;
  }
  const status =
    view.status === 'resolved' ? 'RESOLVED' : view.issue.type === 'change' ? 'CHANGED' : 'FIRING';
  const where = [view.issue.cluster, view.issue.subject.namespace, view.issue.subject.name].filter(Boolean);
  const raw = `${status}: ${oneLine(view.issue.title)}${where.length ? ` (${where.join('/')})` : ''}`;
  const text = truncateEscaped(escapeMrkdwn(raw), 300);
  const mentions = mentionText(view.issue);
  return {
    // Mentions go in the top-level text, where Slack notifies them; edits never re-notify.
    text: mentions ? `${mentions} ${text}` : text,
    attachments: [{ color: colorFor(view), fallback: text, blocks }],
    overflowFiles: overflow.files,
  };
}

/** Files cut from the root of this issue; they depend only on the issue, so uploadFiles can find them. */
export function rootOverflowFiles(issue: Issue): FileBlock[] {
  return renderRoot({
    issue,
    status: issue.status,
    firingSince: issue.startsAt,
    firingCount: 1,
    verdicts: [],
  }).overflowFiles;
}

/** The short reply in the thread when the issue resolves or fires again. */
export function renderStatusReply(view: RootView, kind: StatusReplyKind): SlackMessage {
  let line: string;
  if (kind === 'resolved') {
    const after = resolvedAfter(view);
    const at = view.resolvedAt ?? view.issue.endsAt;
    line = `${EMOJI.resolved} *Resolved*${after ? ` after ${after}` : ''}${at ? ` at ${formatTime(at)}` : ''}`;
  } else {
    line = `${EMOJI[view.issue.severity]} *Firing again*${view.firingCount > 1 ? ` (firing #${view.firingCount})` : ''} since ${formatTime(view.firingSince)}`;
  }
  return { text: line.replace(/\*/g, ''), blocks: [section(line)] };
}
