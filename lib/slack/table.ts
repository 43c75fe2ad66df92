// Monospace table layout shared by the Slack details reply (inside a code block) and the
// terminal. Works on raw text; callers escape the result for their medium.
import { oneLine } from './text.ts';

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

/** The full table as aligned text, for the overflow file. */
export function tableAsText(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return layoutTable(headers, rows).text;
}
