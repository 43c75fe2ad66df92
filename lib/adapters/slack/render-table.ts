// One table of an enrichment in the details reply: as Slack's native table block (only one is
// allowed per message: the renderer gives it to the first table too wide for text) or as aligned
// text in code blocks. No cell is cut to make a layout fit; only what is genuinely long (rows
// past a budget, a cell of thousands of characters) goes whole into a file named for it.
import type { TableBlock } from '../../domain/issue.ts';
import {
  context,
  type RawTextCell,
  type SlackBlock,
  section,
  type TableColumnSetting,
  table as tableBlock,
} from './blocks.ts';
import { tableAsText, tableText } from './table.ts';
import {
  BUDGET,
  clip,
  codeText,
  describedFilename,
  escapeMrkdwn,
  type Overflow,
  oneLine,
  plainText,
  truncateEscaped,
} from './text.ts';

/** Widest line of a text table before its widest columns move below each row. */
export const TABLE_LINE_WIDTH = 80;

/** Slack's documented limits on a table block, and the budgets kept under them. */
export const NATIVE_TABLE = {
  /** Rows, the header row included (Slack: at most 100). */
  rows: 100,
  /** Cells in a row and items of column_settings (Slack: at most 20). */
  columns: 20,
  /** Characters across every cell of the message (reported for table blocks; documented for data tables). */
  cellChars: 10_000,
  /** Characters one cell shows; past it the cell ends in "…" and the table goes to a file too. */
  cell: 1_000,
  /** JSON size of the block, so the rest of the reply keeps room under the ~13k aggregate. */
  json: 5_000,
} as const;

/** Characters of escaped text one text table may take, over as many sections as it needs. */
const TEXT_TABLE_CHARS = 4_000;
/** Room in one section for a code block (three backticks and a newline each side). */
const SECTION_ROOM = BUDGET.sectionText - 8;
/** Past this many characters a native column wraps instead of widening the table. */
const WRAP_AT = 24;
/** Slack refuses an empty cell; a blank value shows as a dash. */
const BLANK = '–';

/** Where the table sits: the object its enrichment is about names its file. */
export interface TableContext {
  overflow: Overflow;
  about: string;
}

/** Whether Slack's table block is worth its one place in the message for this table. */
export function wantsNativeTable(b: TableBlock): boolean {
  const columns = Math.max(b.headers.length, ...b.rows.map((r) => r.length), 0);
  if (b.rows.length === 0 || columns > NATIVE_TABLE.columns) return false;
  return tableText(b.headers, b.rows, TABLE_LINE_WIDTH).moved.length > 0;
}

/** Keeps the whole table as a file, named for what it is, and says so under the table. */
function keepWhole(b: TableBlock, ctx: TableContext, what: string): SlackBlock {
  const title = oneLine(b.title ?? '').trim() || 'Table';
  const name = ctx.overflow.add(
    describedFilename(ctx.about, b.title, 'table'),
    tableAsText(b.headers, b.rows),
    `${ctx.about}: ${title}`,
  );
  return context(`… ${what}: the whole table is in ${escapeMrkdwn(name)}`);
}

const titleSection = (title: string | undefined): SlackBlock[] =>
  title?.trim() ? [section(`*${clip(oneLine(title), 200)}*`)] : [];

function cellOf(raw: string): { cell: RawTextCell; cut: boolean } {
  const chars = Array.from(plainText(raw).trim());
  const cut = chars.length > NATIVE_TABLE.cell;
  const text = cut ? `${chars.slice(0, NATIVE_TABLE.cell - 1).join('')}…` : chars.join('');
  return { cell: { type: 'raw_text', text: text || BLANK }, cut };
}

/** Long columns wrap; columns of whole numbers (counts, restarts) align right. */
function columnSettings(rows: readonly (readonly string[])[], columns: number): TableColumnSetting[] {
  return Array.from({ length: columns }, (_, c) => {
    const values = rows.map((r) => plainText(r[c] ?? '').trim());
    if (values.some((v) => Array.from(v).length > WRAP_AT)) return { is_wrapped: true };
    const filled = values.filter((v) => v !== '');
    return filled.length > 0 && filled.every((v) => /^-?\d+$/.test(v)) ? { align: 'right' } : null;
  });
}

/**
 * The table as Slack's table block: raw_text cells, which Slack shows as typed (no mention,
 * link or escape is ever read in them), the header as the first row. Rows past Slack's limits or
 * this reply's budget, and cells past NATIVE_TABLE.cell, leave the whole table in a file.
 * Undefined when not even the header and one row fit: the table is then laid out as text.
 */
export function nativeTable(b: TableBlock, ctx: TableContext): SlackBlock[] | undefined {
  const columns = Math.max(b.headers.length, ...b.rows.map((r) => r.length), 1);
  const toRow = (values: readonly string[]) =>
    Array.from({ length: columns }, (_, c) => cellOf(values[c] ?? ''));
  const source = b.headers.length > 0 ? [b.headers, ...b.rows] : [...b.rows];
  const rows: RawTextCell[][] = [];
  let chars = 0;
  let json = 0;
  let cut = false;
  for (const values of source) {
    const row = toRow(values);
    const rowChars = row.reduce((n, x) => n + x.cell.text.length, 0);
    const rowJson = JSON.stringify(row.map((x) => x.cell)).length + 1;
    const full =
      rows.length >= NATIVE_TABLE.rows ||
      chars + rowChars > NATIVE_TABLE.cellChars ||
      json + rowJson > NATIVE_TABLE.json;
    if (full) break;
    rows.push(row.map((x) => x.cell));
    cut ||= row.some((x) => x.cut);
    chars += rowChars;
    json += rowJson;
  }
  if (rows.length < (b.headers.length > 0 ? 2 : 1)) return undefined;
  const settings = columnSettings(b.rows, columns);
  const out = [
    ...titleSection(b.title),
    tableBlock(rows, settings.some((s) => s !== null) ? settings : undefined),
  ];
  const hidden = source.length - rows.length;
  if (hidden > 0) out.push(keepWhole(b, ctx, `${hidden} more ${hidden === 1 ? 'row' : 'rows'}`));
  else if (cut) out.push(keepWhole(b, ctx, 'long cells cut'));
  return out;
}

/**
 * The table as aligned text in code blocks, as many sections as it needs up to
 * TEXT_TABLE_CHARS; the title is the first section's first line. A row too long for a section
 * of its own is cut there (and the whole table kept in a file), never dropped silently.
 */
export function textTable(b: TableBlock, ctx: TableContext): SlackBlock[] {
  const t = tableText(b.headers, b.rows, TABLE_LINE_WIDTH);
  const title = b.title?.trim() ? `*${clip(oneLine(b.title), 200)}*\n` : '';
  let room = SECTION_ROOM - title.length;
  let head = codeText(t.head.join('\n'));
  // Headers of thousands of characters: the header is cut, the table kept whole in a file.
  let cut = head.length > room;
  if (cut) head = truncateEscaped(head, room);
  const chunks: string[][] = [head ? [head] : []];
  let used = head.length;
  let total = used;
  let shown = 0;
  for (const row of t.rows) {
    let text = codeText(row.join('\n'));
    if (used + text.length + 1 > room && used > 0) {
      chunks.push([]);
      room = SECTION_ROOM;
      used = 0;
    }
    if (text.length > room) {
      text = truncateEscaped(text, room);
      cut = true;
    }
    if (total + text.length > TEXT_TABLE_CHARS && shown > 0) break;
    chunks.at(-1)?.push(text);
    used += text.length + 1;
    total += text.length + 1;
    shown++;
  }
  const bodies = chunks.filter((c) => c.length > 0).map((c) => `\`\`\`\n${c.join('\n')}\n\`\`\``);
  const out = (bodies.length ? bodies : ['```\n(no rows)\n```']).map((body, i) =>
    section(i === 0 ? title + body : body),
  );
  const hidden = t.rows.length - shown;
  if (hidden > 0) out.push(keepWhole(b, ctx, `${hidden} more ${hidden === 1 ? 'row' : 'rows'}`));
  else if (cut) out.push(keepWhole(b, ctx, 'long cells cut'));
  return out;
}
