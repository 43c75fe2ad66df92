// A summary root (a storm of one group, or a channel's digest of alerts held back while the
// channel was far behind): counts by object and severity, first and last seen, edited as it
// goes on and turning green when all of it resolved. Its alerts go into its thread, as a
// message or as a file when the batch is long. A summary of one alert shows that alert.
import type { SummaryLine, SummaryView } from '../../domain/destination.ts';
import { context, fields, type SlackBlock, type SlackMessage, section } from './blocks.ts';
import { COLORS, EMOJI } from './render-root.ts';
import { layoutTable } from './table.ts';
import { codeText, escapeMrkdwn, formatTime, oneLine, truncateEscaped } from './text.ts';

/** Objects listed in the summary table; the rest are counted below it. */
export const SUMMARY_ROWS = 15;

/** "1 alert", "2 alerts". */
export const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

const groupName = (v: SummaryView): string =>
  Object.entries(v.labels)
    .map(([k, val]) => `${k}=${val}`)
    .join(', ');

type Rendered = SlackMessage & { attachments: NonNullable<SlackMessage['attachments']> };

export function renderSummary(v: SummaryView): Rendered {
  if (v.single) return renderSingle(v, v.single);
  return v.kind === 'digest' ? renderDigest(v) : renderStorm(v);
}

function renderStorm(v: SummaryView): Rendered {
  const name = escapeMrkdwn(oneLine(groupName(v)));
  const folded = v.total - v.own;
  const state =
    v.status === 'resolved'
      ? `${EMOJI.resolved} *RESOLVED* storm: all ${count(folded, 'folded alert')} resolved`
      : `:rotating_light: *Storm*: ${count(v.total, 'alert')}`;
  const headline = `${state}: ${truncateEscaped(name, 500)}`;
  const tally = [`*Folded here*\n${v.firing} firing, ${v.resolved} resolved`];
  if (v.own > 0) tally.push(`*Own threads*\n${v.own}`);
  const blocks: SlackBlock[] = [section(headline), countFields(v, tally)];
  if (v.title) blocks.push(section(truncateEscaped(escapeMrkdwn(oneLine(v.title)), 500)));
  blocks.push(objectTable(v));
  const more = v.byObject.length - Math.min(v.byObject.length, SUMMARY_ROWS);
  const own =
    v.own > 0
      ? `The first ${count(v.own, 'alert')} of the storm ${v.own === 1 ? 'has its' : 'have their'} own thread; the ${count(folded, 'other')} are folded here. `
      : '';
  blocks.push(
    context(
      `${more > 0 ? `${more} more objects. ` : ''}${own}Folded to keep the channel readable: every folded alert is listed in the thread.`,
    ),
  );
  const text = `${v.status === 'resolved' ? 'RESOLVED storm' : 'Storm'}: ${count(v.total, 'alert')} (${name})`;
  return wrap(v, text, blocks);
}

function renderDigest(v: SummaryView): Rendered {
  const since = formatTime(v.firstSeen);
  const state =
    v.status === 'resolved'
      ? `${EMOJI.resolved} *RESOLVED*: all ${count(v.total, 'alert')} held back since ${since} resolved`
      : `:inbox_tray: *${count(v.total, 'alert')} held back* since ${since}: ${v.firing} firing, ${v.resolved} resolved`;
  const blocks: SlackBlock[] = [section(state), countFields(v)];
  const listed = v.sample.map((l) => `• ${digestLine(l)}`);
  if (listed.length > 0) blocks.push(section(listed.join('\n')));
  blocks.push(
    context(
      'The channel was further behind than new alerts may wait, so these are gathered here instead of each in its own thread. Every one is listed in the thread, with its verdict.',
    ),
  );
  const text = `${count(v.total, 'alert')} held back since ${since}`;
  return wrap(v, text, blocks);
}

/** One folded alert on its own: what it is, where, and its verdict, not "1 alerts". */
function renderSingle(v: SummaryView, l: SummaryLine): Rendered {
  const status = l.status === 'resolved' ? `${EMOJI.resolved} *RESOLVED*` : `${EMOJI[l.severity]} *FIRING*`;
  const title = truncateEscaped(escapeMrkdwn(oneLine(l.title)), 500);
  const blocks: SlackBlock[] = [
    section(`${status} ${title}`),
    fields([
      `*Object*\n${truncateEscaped(escapeMrkdwn(oneLine(l.object)), 200)}`,
      `*Since*\n${formatTime(l.since)}`,
    ]),
  ];
  if (l.verdict) blocks.push(section(truncateEscaped(escapeMrkdwn(l.verdict), 1000)));
  const why =
    v.kind === 'digest'
      ? 'Held back while the channel was far behind; alerts held back with it are added here.'
      : 'First alert of a storm; the alerts folded with it are added here.';
  blocks.push(context(why));
  return wrap(v, `${l.status === 'resolved' ? 'RESOLVED: ' : ''}${title}`, blocks);
}

function countFields(v: SummaryView, more: string[] = []): SlackBlock {
  return fields([
    `*First seen*\n${formatTime(v.firstSeen)}`,
    `*Last seen*\n${formatTime(v.lastSeen)}`,
    `*Objects*\n${v.byObject.length}`,
    `*By severity*\n${v.bySeverity.map(([s, n]) => `${s} ${n}`).join(', ')}`,
    ...more,
  ]);
}

function objectTable(v: SummaryView): SlackBlock {
  const rows = v.byObject.slice(0, SUMMARY_ROWS).map(([o, f, r]) => [o, String(f), String(r)]);
  const table = layoutTable(['object', 'firing', 'resolved'], rows, {
    maxColWidth: 60,
    maxRows: SUMMARY_ROWS,
    maxLineWidth: 90,
  }).text;
  return section(`\`\`\`${codeText(table)}\`\`\``);
}

function wrap(v: SummaryView, text: string, blocks: SlackBlock[]): Rendered {
  const color = v.status === 'resolved' ? COLORS.resolved : COLORS[v.severity];
  return { text, attachments: [{ color, fallback: text, blocks }] };
}

/** A digest entry in the root: severity, object, title and verdict, escaped and cut. */
function digestLine(l: SummaryLine): string {
  const head = truncateEscaped(escapeMrkdwn(`${l.severity} ${oneLine(l.object)}: ${oneLine(l.title)}`), 140);
  return l.verdict ? `${head}\n   _${truncateEscaped(escapeMrkdwn(oneLine(l.verdict)), 160)}_` : head;
}

export const lineText = (l: SummaryLine): string =>
  `${l.status === 'resolved' ? 'resolved' : 'firing'} ${l.severity} ${oneLine(l.object)} since ${formatTime(l.since)}: ${oneLine(l.title)}${l.verdict ? ` (${oneLine(l.verdict)})` : ''} [${l.fingerprint}]`;

/** Alerts per section: each takes up to ~300 characters with its verdict; a section holds 3000. */
const LINES_PER_SECTION = 9;

/** A short batch as one thread reply. */
export function renderSummaryLines(lines: SummaryLine[], view?: Pick<SummaryView, 'kind'>): SlackMessage {
  const body = lines.map((l) => {
    const { verdict, ...rest } = l;
    const head = `• ${truncateEscaped(escapeMrkdwn(lineText(rest)), 140)}`;
    return verdict ? `${head}\n   _${truncateEscaped(escapeMrkdwn(oneLine(verdict)), 140)}_` : head;
  });
  const blocks: SlackBlock[] = [];
  for (let i = 0; i < body.length; i += LINES_PER_SECTION)
    blocks.push(section(body.slice(i, i + LINES_PER_SECTION).join('\n')));
  const where = view?.kind === 'digest' ? 'held back' : 'in this storm';
  return { text: `${count(lines.length, 'alert')} ${where}`, blocks };
}

/** A long batch as a file: one line per alert, nothing cut. */
export function summaryLinesFile(
  lines: SummaryLine[],
  view: SummaryView,
): { filename: string; content: string; title: string } {
  const digest = view.kind === 'digest';
  return {
    filename: digest
      ? `held back ${count(view.total, 'alert')}.txt`
      : `storm ${count(view.total, 'alert')}.txt`,
    title: digest
      ? `${count(lines.length, 'alert')} held back`
      : `${count(lines.length, 'alert')} of this storm`,
    content: `${lines.map(lineText).join('\n')}\n`,
  };
}
