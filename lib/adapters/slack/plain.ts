// Plain-text rendering of an issue's enrichments: the content of the overflow file when a
// details reply is cut, and the body the terminal destination prints.
import type { Block, Enrichment, Issue } from '../../domain/issue.ts';
import { tableText } from './table.ts';

export interface PlainOptions {
  /** Widest table line before the widest columns move below each row; none keeps one line a row. */
  tableWidth?: number;
  /** Rows shown of each table, the rest counted; none shows every row (for files). */
  tableRows?: number;
  /** Characters of a file's content to show inline; 0 shows only its name and size. */
  fileChars?: number;
}

function jsonText(data: unknown): string {
  try {
    return JSON.stringify(data, null, 2) ?? 'null';
  } catch {
    return String(data);
  }
}

export function blockAsText(block: Block, opts: PlainOptions = {}): string {
  switch (block.type) {
    case 'header':
      return `== ${block.text} ==`;
    case 'markdown':
      return block.text;
    case 'table': {
      const t = tableText(block.headers, block.rows, opts.tableWidth);
      const shown = t.rows.slice(0, opts.tableRows);
      const more = t.rows.length - shown.length;
      const lines = [...t.head, ...shown.flat(), ...(more > 0 ? [`(+${more} more rows)`] : [])];
      return block.title ? `${block.title}\n${lines.join('\n')}` : lines.join('\n');
    }
    case 'list': {
      const items = block.items.map((i) => `  • ${i}`).join('\n');
      return block.title ? `${block.title}\n${items}` : items;
    }
    case 'json': {
      const body = jsonText(block.data);
      return block.title ? `${block.title}\n${body}` : body;
    }
    case 'links':
      return block.links.map((l) => `${l.title}: ${l.url}`).join('\n');
    case 'divider':
      return '----';
    case 'image':
      return `[image ${block.filename}${block.title ? ` "${block.title}"` : ''}: ${block.alt}]`;
    case 'file': {
      const size = Buffer.byteLength(block.content, 'utf8');
      const head = `[file ${block.filename}${block.title ? ` "${block.title}"` : ''}, ${size} bytes${block.truncated ? ', truncated at the source' : ''}]`;
      const max = opts.fileChars ?? 0;
      if (max <= 0) return head;
      const shown =
        block.content.length > max
          ? `${block.content.slice(0, max)}\n… (${size} bytes in all)`
          : block.content;
      return `${head}\n${shown}`;
    }
  }
}

export function enrichmentAsText(e: Enrichment, opts: PlainOptions = {}): string {
  const lines = [`### ${e.title ?? e.source}`];
  if (e.verdict) lines.push(`Verdict: ${e.verdict}`);
  for (const b of e.blocks) lines.push(blockAsText(b, opts));
  return lines.join('\n\n');
}

/** Every enrichment of the issue in full, as text a person reads top to bottom. */
export function detailsAsText(issue: Pick<Issue, 'title' | 'enrichments'>, opts: PlainOptions = {}): string {
  return [`Details: ${issue.title}`, ...issue.enrichments.map((e) => enrichmentAsText(e, opts))].join('\n\n');
}
