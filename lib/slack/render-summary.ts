// A storm's summary root (counts by object and severity, first and last seen, edited as the
// storm goes on and turning green when all of it resolved) and the batches of its alerts that
// go into the thread, as a message or as a file when the batch is long.
import type { SummaryLine, SummaryView } from '../dispatch/storm.ts';
import { context, fields, type SlackBlock, type SlackMessage, section } from './blocks.ts';
import { COLORS } from './render-root.ts';
import { layoutTable } from './table.ts';
import { codeText, escapeMrkdwn, formatTime, oneLine, truncateEscaped } from './text.ts';

/** Objects listed in the summary table; the rest are counted below it. */
export const SUMMARY_ROWS = 15;

const groupName = (v: SummaryView): string =>
  Object.entries(v.labels)
    .map(([k, val]) => `${k}=${val}`)
    .join(', ');

export function renderSummary(
  v: SummaryView,
): SlackMessage & { attachments: NonNullable<SlackMessage['attachments']> } {
  const name = escapeMrkdwn(oneLine(groupName(v)));
  const state =
    v.status === 'resolved'
      ? `:large_green_circle: *RESOLVED* storm: all ${v.total} alerts resolved`
      : `:rotating_light: *Storm*: ${v.total} alerts, ${v.firing} firing, ${v.resolved} resolved`;
  const headline = `${state}: ${truncateEscaped(name, 500)}`;
  const rows = v.byObject.slice(0, SUMMARY_ROWS).map(([o, f, r]) => [o, String(f), String(r)]);
  const table = layoutTable(['object', 'firing', 'resolved'], rows, {
    maxColWidth: 60,
    maxRows: SUMMARY_ROWS,
    maxLineWidth: 90,
  }).text;
  const more = v.byObject.length - rows.length;
  const blocks: SlackBlock[] = [
    section(headline),
    fields([
      `*First seen*\n${formatTime(v.firstSeen)}`,
      `*Last seen*\n${formatTime(v.lastSeen)}`,
      `*Objects*\n${v.byObject.length}`,
      `*By severity*\n${v.bySeverity.map(([s, n]) => `${s} ${n}`).join(', ')}`,
    ]),
  ];
  if (v.title) blocks.push(section(truncateEscaped(escapeMrkdwn(oneLine(v.title)), 500)));
  blocks.push(section(`\`\`\`${codeText(table)}\`\`\``));
  blocks.push(
    context(
      `${more > 0 ? `${more} more objects. ` : ''}Folded to keep the channel readable: every alert is listed in the thread.`,
    ),
  );
  const color = v.status === 'resolved' ? COLORS.resolved : COLORS[v.severity];
  const text = `${v.status === 'resolved' ? 'RESOLVED storm' : 'Storm'}: ${v.total} alerts (${name})`;
  return { text, attachments: [{ color, fallback: text, blocks }] };
}

export const lineText = (l: SummaryLine): string =>
  `${l.status === 'resolved' ? 'resolved' : 'firing'} ${l.severity} ${oneLine(l.object)} since ${formatTime(l.since)}: ${oneLine(l.title)} [${l.fingerprint}]`;

/** A short batch as one thread reply. */
export function renderSummaryLines(lines: SummaryLine[]): SlackMessage {
  const body = lines.map((l) => `• ${truncateEscaped(escapeMrkdwn(lineText(l)), 140)}`);
  const blocks: SlackBlock[] = [];
  // Sections hold 3000 characters: 20 lines of 140 fit in one, longer batches take several.
  for (let i = 0; i < body.length; i += 20) blocks.push(section(body.slice(i, i + 20).join('\n')));
  return { text: `${lines.length} alert${lines.length === 1 ? '' : 's'} in this storm`, blocks };
}

/** A long batch as a file: one line per alert, nothing cut. */
export function summaryLinesFile(
  lines: SummaryLine[],
  view: SummaryView,
): { filename: string; content: string; title: string } {
  return {
    filename: `storm-${view.total}-alerts.txt`,
    title: `${lines.length} alerts of this storm`,
    content: `${lines.map(lineText).join('\n')}\n`,
  };
}
