// Monospace table layouts on raw text; callers escape the result for their medium.
// tableText keeps every cell whole (the details reply, the terminal, overflow files);
// layoutTable cuts cells to fixed limits (the storm summary's short object table).
import { oneLine, plainText } from './text.ts';

export interface TableLimits {
  /** Widest a column may be; longer cells end in "…". */
  maxColWidth: number;
  /** Rows shown; the rest are counted in a note. */
  maxRows: number;
  /** Widest a line may be; columns that do not fit are counted in a note. */
  maxLineWidth: number;
}

export interface TableLayout {
  text: string;
  /** True when rows, columns or cells were cut: the caller keeps the full table elsewhere. */
  truncated: boolean;
}

const UNLIMITED: TableLimits = {
  maxColWidth: Number.POSITIVE_INFINITY,
  maxRows: Number.POSITIVE_INFINITY,
  maxLineWidth: Number.POSITIVE_INFINITY,
};

const GAP = '  ';

function cell(value: string | undefined, width: number): { text: string; cut: boolean } {
  const flat = oneLine(value ?? '');
  const chars = Array.from(flat);
  if (chars.length <= width) return { text: flat + ' '.repeat(width - chars.length), cut: false };
  return { text: `${chars.slice(0, Math.max(0, width - 1)).join('')}…`, cut: true };
}

/** Aligns a table in columns; with no limits given it keeps everything (for files). */
export function layoutTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  limits: TableLimits = UNLIMITED,
): TableLayout {
  const columnCount = Math.max(headers.length, ...rows.map((r) => r.length), 0);
  const shownRows = rows.slice(0, limits.maxRows);
  const widths: number[] = [];
  for (let c = 0; c < columnCount; c++) {
    let w = Array.from(oneLine(headers[c] ?? '')).length;
    for (const r of shownRows) w = Math.max(w, Array.from(oneLine(r[c] ?? '')).length);
    widths.push(Math.min(Math.max(w, 1), limits.maxColWidth));
  }
  // Keep whole columns from the left while they fit the line; the first is always kept.
  let shownCols = 0;
  let lineWidth = 0;
  for (const w of widths) {
    const next = lineWidth + (shownCols ? GAP.length : 0) + w;
    if (shownCols > 0 && next > limits.maxLineWidth) break;
    lineWidth = next;
    shownCols++;
  }
  if (shownCols === 1 && (widths[0] ?? 0) > limits.maxLineWidth) widths[0] = limits.maxLineWidth;
  let truncated = shownRows.length < rows.length || shownCols < columnCount;
  const line = (values: readonly string[]): string => {
    const parts: string[] = [];
    for (let c = 0; c < shownCols; c++) {
      const { text, cut } = cell(values[c], widths[c] ?? 1);
      if (cut) truncated = true;
      parts.push(text);
    }
    return parts.join(GAP).trimEnd();
  };
  const out: string[] = [];
  if (headers.length > 0) {
    out.push(line(headers));
    out.push(
      widths
        .slice(0, shownCols)
        .map((w) => '-'.repeat(w))
        .join(GAP),
    );
  }
  for (const r of shownRows) out.push(line(r));
  const notes: string[] = [];
  if (shownRows.length < rows.length) notes.push(`+${rows.length - shownRows.length} more rows`);
  if (shownCols < columnCount) notes.push(`+${columnCount - shownCols} more columns`);
  if (notes.length) out.push(`(${notes.join(', ')})`);
  return { text: out.join('\n'), truncated };
}

/** A table laid out line by line, each row kept whole so a caller can pack rows where they fit. */
export interface TableText {
  /** The header line and its rule; empty for a table without headers. */
  head: string[];
  /** Each row's lines: its aligned columns, then one `  Header: value` line per moved column. */
  rows: string[][];
  /** Columns (by index) shown below their row because the line would be too wide otherwise. */
  moved: number[];
}

/** Characters as a person counts them: code points, so an emoji is one. */
function width(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * Aligns a table in columns without cutting a cell. When the line would be wider than
 * `maxLineWidth`, the widest columns move below their row, one `Header: value` line each, the
 * way a person would write it by hand; the first column names the row and stays, and at least
 * two columns stay aligned, since a key/value table reads better wrapped than split.
 */
export function tableText(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  maxLineWidth = Number.POSITIVE_INFINITY,
): TableText {
  const columnCount = Math.max(headers.length, ...rows.map((r) => r.length), 0);
  const cells = (r: readonly string[]) =>
    Array.from({ length: columnCount }, (_, c) => {
      const text = plainText(r[c] ?? '');
      return { text, width: width(text) };
    });
  const head = cells(headers);
  const body = rows.map(cells);
  const widths = head.map((h, c) =>
    body.reduce((w, r) => Math.max(w, r[c]?.width ?? 0), Math.max(1, h.width)),
  );
  const inline = widths.map((_, c) => c);
  const lineWidth = () => inline.reduce((n, c) => n + (widths[c] ?? 0), 0) + 2 * (inline.length - 1);
  while (inline.length > 2 && lineWidth() > maxLineWidth) {
    let widest = 1;
    for (let i = 1; i < inline.length; i++) {
      if ((widths[inline[i] ?? 0] ?? 0) >= (widths[inline[widest] ?? 0] ?? 0)) widest = i;
    }
    inline.splice(widest, 1);
  }
  const moved = widths.map((_, c) => c).filter((c) => !inline.includes(c));
  const last = inline.at(-1);
  // The last column is not padded: nothing follows it on the line.
  const line = (row: ReadonlyArray<{ text: string; width: number }>) =>
    inline
      .map((c) => {
        const cell = row[c] ?? { text: '', width: 0 };
        return c === last ? cell.text : cell.text + ' '.repeat((widths[c] ?? 0) - cell.width);
      })
      .join(GAP)
      .trimEnd();
  const lines: TableText['head'] =
    headers.length > 0 ? [line(head), inline.map((c) => '-'.repeat(widths[c] ?? 1)).join(GAP)] : [];
  return {
    head: lines,
    rows: body.map((r) => [
      line(r),
      ...moved
        .filter((c) => (r[c]?.text ?? '') !== '')
        .map((c) => `  ${head[c]?.text ? `${head[c]?.text}: ` : ''}${r[c]?.text}`),
    ]),
    moved,
  };
}

/** The whole table as aligned text, nothing moved or cut: the content of a table's file. */
export function tableAsText(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const t = tableText(headers, rows);
  return [...t.head, ...t.rows.flat()].join('\n');
}
