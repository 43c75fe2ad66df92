// The details reply: every enrichment's title, verdict and blocks, packed under Slack's
// limits. Anything cut is kept as an overflow file that uploadFiles puts in the thread.
import type { Block, Enrichment, FileBlock, Issue } from '../issue.ts';
import { blocksSize, context, divider, header, type SlackBlock, section } from './blocks.ts';
import { detailsAsText } from './plain.ts';
import { layoutTable, type TableLimits, tableAsText } from './table.ts';
import {
  BUDGET,
  clip,
  codeText,
  escapeMrkdwn,
  Overflow,
  oneLine,
  SLACK_LIMITS,
  safeFilename,
  slackLink,
  truncatedMarker,
  truncateEscaped,
} from './text.ts';

export interface DetailsRender {
  text: string;
  blocks: SlackBlock[];
  /** Full texts of whatever was cut; uploaded into the thread next to the issue's own files. */
  overflowFiles: FileBlock[];
}

export const TABLE_LIMITS: TableLimits = { maxColWidth: 32, maxRows: 25, maxLineWidth: 100 };

/** Room left in a section after the marker line a cut adds. */
const SECTION = BUDGET.sectionText - 120;

function titleBlock(raw: string, overflow: Overflow, filename: string): SlackBlock {
  // Slack rejects an empty header, and a blank title says nothing anyway.
  const flat = oneLine(raw).trim() || '(untitled)';
  if (escapeMrkdwn(flat).length <= SLACK_LIMITS.headerText) return header(escapeMrkdwn(flat));
  // Too long for a header: a bold section holds up to 3000 characters, the rest goes to a file.
  return section(`*${overflow.fit(flat, SECTION, filename, 'Title')}*`);
}

/** A block's bold title line (empty without a title): its length comes off the section's room. */
function titleLine(title: string | undefined): string {
  return title ? `*${clip(oneLine(title), 200)}*\n` : '';
}

function tableSection(b: Extract<Block, { type: 'table' }>, overflow: Overflow, slug: string): SlackBlock {
  const head = titleLine(b.title);
  const room = SECTION - head.length;
  let limits = TABLE_LIMITS;
  let layout = layoutTable(b.headers, b.rows, limits);
  let body = codeText(layout.text);
  // Wide unicode or many escapes can still overflow the section: show fewer rows.
  while (body.length > room && limits.maxRows > 1) {
    limits = { ...limits, maxRows: Math.floor(limits.maxRows / 2) };
    layout = layoutTable(b.headers, b.rows, limits);
    body = codeText(layout.text);
  }
  if (body.length > room) {
    layout = { text: layout.text, truncated: true };
    body = truncateEscaped(body, room);
  }
  let text = `\`\`\`\n${body}\n\`\`\``;
  if (layout.truncated) {
    const name = overflow.add(`${slug}-table.txt`, tableAsText(b.headers, b.rows), b.title ?? 'Table');
    text += `\n${truncatedMarker(name)}`;
  }
  return section(head + text);
}

function listSection(b: Extract<Block, { type: 'list' }>, overflow: Overflow, slug: string): SlackBlock {
  const head = titleLine(b.title);
  const room = SECTION - head.length;
  const lines: string[] = [];
  let length = 0;
  for (const item of b.items) {
    const line = `• ${clip(item, 1000)}`;
    if (length + line.length + 1 > room) break;
    lines.push(line);
    length += line.length + 1;
  }
  const cut = lines.length < b.items.length || b.items.some((i) => escapeMrkdwn(i).length > 1000);
  if (cut) {
    const name = overflow.add(`${slug}-list.txt`, b.items.join('\n'), b.title ?? 'List');
    lines.push(truncatedMarker(name));
  }
  return section(head + (lines.join('\n') || '(empty)'));
}

function jsonSection(b: Extract<Block, { type: 'json' }>, overflow: Overflow, slug: string): SlackBlock {
  let json: string;
  try {
    json = JSON.stringify(b.data, null, 2) ?? 'null';
  } catch {
    json = String(b.data);
  }
  const body = codeText(json);
  const head = titleLine(b.title);
  const room = SECTION - head.length;
  if (body.length <= room) return section(`${head}\`\`\`\n${body}\n\`\`\``);
  const name = overflow.add(`${slug}.json`, json, b.title ?? 'JSON', 'application/json');
  return section(`${head}\`\`\`\n${truncateEscaped(body, room)}\n\`\`\`\n${truncatedMarker(name)}`);
}

function linksSection(
  b: Extract<Block, { type: 'links' }>,
  overflow: Overflow,
  slug: string,
): SlackBlock | undefined {
  const shown: string[] = [];
  let length = 0;
  let cut = false;
  for (const l of b.links) {
    const s = slackLink(l);
    if (s === undefined) continue;
    if (cut || length + s.length + 1 > SECTION) {
      cut = true;
      continue;
    }
    shown.push(s);
    length += s.length + 1;
  }
  if (cut) {
    const name = overflow.add(
      `${slug}-links.txt`,
      b.links.map((l) => `${l.title}: ${l.url}`).join('\n'),
      'Links',
    );
    shown.push(truncatedMarker(name));
  }
  return shown.length ? section(shown.join('\n')) : undefined;
}

function blockToSlack(b: Block, overflow: Overflow, slug: string): SlackBlock | undefined {
  switch (b.type) {
    case 'header':
      return titleBlock(b.text, overflow, `${slug}-header.txt`);
    case 'markdown':
      return b.text.trim() ? section(overflow.fit(b.text, SECTION, `${slug}.txt`)) : undefined;
    case 'table':
      return tableSection(b, overflow, slug);
    case 'list':
      return listSection(b, overflow, slug);
    case 'json':
      return jsonSection(b, overflow, slug);
    case 'links':
      return linksSection(b, overflow, slug);
    case 'divider':
      return divider();
    case 'file': {
      const title = b.title ? ` — ${clip(oneLine(b.title), 200)}` : '';
      return context(`:paperclip: ${clip(b.filename, 255)}${title} (attached in this thread)`);
    }
  }
}

function enrichmentBlocks(e: Enrichment, index: number, overflow: Overflow): SlackBlock[] {
  const slug = safeFilename(`${index + 1}-${e.source}`, `enrichment-${index + 1}`);
  const out: SlackBlock[] = [titleBlock(e.title?.trim() || e.source, overflow, `${slug}-title.txt`)];
  if (e.verdict?.trim()) {
    out.push(
      section(`*Verdict:* ${overflow.fit(e.verdict, SECTION - 20, `${slug}-verdict.txt`, 'Verdict')}`),
    );
  }
  for (const b of e.blocks) {
    const block = blockToSlack(b, overflow, slug);
    if (block) out.push(block);
  }
  return out;
}

/**
 * The details reply for the thread. Blocks are packed in order until the block count or the
 * aggregate size would pass Slack's limits; from there on, the whole details text is a file.
 */
export function renderDetails(issue: Issue): DetailsRender {
  const overflow = new Overflow();
  const all: SlackBlock[] = [];
  issue.enrichments.forEach((e, i) => {
    if (i > 0) all.push(divider());
    all.push(...enrichmentBlocks(e, i, overflow));
  });
  const blocks: SlackBlock[] = [];
  let size = 2;
  // Room for the closing marker block, so adding it never crosses a limit.
  const reserve = 400;
  for (const b of all) {
    const s = blocksSize([b]) + 1;
    if (blocks.length + 1 >= BUDGET.blocks || size + s > BUDGET.aggregate - reserve) {
      const name = overflow.add('details.txt', detailsAsText(issue), 'All details');
      blocks.push(context(`${truncatedMarker(name)} (${all.length - blocks.length} more blocks)`));
      break;
    }
    blocks.push(b);
    size += s;
  }
  const verdicts = issue.enrichments.map((e) => e.verdict).filter((v): v is string => !!v?.trim());
  const summary = verdicts.length ? verdicts.join('; ') : `${issue.enrichments.length} enrichment(s)`;
  return {
    text: truncateEscaped(escapeMrkdwn(oneLine(`Details: ${summary}`)), 500),
    blocks,
    overflowFiles: overflow.files,
  };
}
