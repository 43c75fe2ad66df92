// The details reply: every enrichment's title, verdict and blocks, packed under Slack's
// limits. Anything cut is kept as an overflow file that uploadFiles puts in the thread.
// The reply is one attachment: Slack takes its one table block per message only there.
import type { Block, Enrichment, FileBlock, Issue } from '../../domain/issue.ts';
import {
  blocksSize,
  context,
  divider,
  header,
  type SlackAttachment,
  type SlackBlock,
  section,
} from './blocks.ts';
import { detailsAsText } from './plain.ts';
import { nativeTable, type TableContext, textTable, wantsNativeTable } from './render-table.ts';
import {
  BUDGET,
  clip,
  codeText,
  describedFilename,
  escapeMrkdwn,
  Overflow,
  oneLine,
  SLACK_LIMITS,
  slackLink,
  truncatedMarker,
  truncateEscaped,
} from './text.ts';

export interface DetailsRender {
  text: string;
  /** One attachment holding every block, in order, the table block among them. */
  attachments: [SlackAttachment];
  /** Full texts of whatever was cut; uploaded into the thread next to the issue's own files. */
  overflowFiles: FileBlock[];
}

/** Room left in a section after the marker line a cut adds. */
const SECTION = BUDGET.sectionText - 120;

/** What one enrichment's blocks are rendered with. */
interface Ctx extends TableContext {
  /** Shared by the whole reply: whether its one table block is still free. */
  native: { free: boolean };
}

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

/** The first table too wide for text gets Slack's table block; every other one is text. */
function tableBlocks(b: Extract<Block, { type: 'table' }>, ctx: Ctx): SlackBlock[] {
  if (ctx.native.free && wantsNativeTable(b)) {
    const native = nativeTable(b, ctx);
    if (native) {
      ctx.native.free = false;
      return native;
    }
  }
  return textTable(b, ctx);
}

function listSection(b: Extract<Block, { type: 'list' }>, ctx: Ctx): SlackBlock {
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
    const file = describedFilename(ctx.about, b.title, 'list');
    const name = ctx.overflow.add(file, b.items.join('\n'), b.title ?? 'List');
    lines.push(truncatedMarker(name));
  }
  return section(head + (lines.join('\n') || '(empty)'));
}

function jsonSection(b: Extract<Block, { type: 'json' }>, ctx: Ctx): SlackBlock {
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
  const name = ctx.overflow.add(
    describedFilename(ctx.about, b.title, 'data', 'json'),
    json,
    b.title ?? 'JSON',
    'application/json',
  );
  return section(`${head}\`\`\`\n${truncateEscaped(body, room)}\n\`\`\`\n${truncatedMarker(name)}`);
}

function linksSection(b: Extract<Block, { type: 'links' }>, ctx: Ctx): SlackBlock | undefined {
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
    const name = ctx.overflow.add(
      describedFilename(ctx.about, undefined, 'links'),
      b.links.map((l) => `${l.title}: ${l.url}`).join('\n'),
      'Links',
    );
    shown.push(truncatedMarker(name));
  }
  return shown.length ? section(shown.join('\n')) : undefined;
}

function blockToSlack(b: Block, ctx: Ctx): SlackBlock[] {
  const one = (block: SlackBlock | undefined) => (block ? [block] : []);
  switch (b.type) {
    case 'header':
      return [titleBlock(b.text, ctx.overflow, describedFilename(ctx.about, undefined, 'heading'))];
    case 'markdown':
      return b.text.trim()
        ? [section(ctx.overflow.fit(b.text, SECTION, describedFilename(ctx.about, undefined, 'notes')))]
        : [];
    case 'table':
      return tableBlocks(b, ctx);
    case 'list':
      return [listSection(b, ctx)];
    case 'json':
      return [jsonSection(b, ctx)];
    case 'links':
      return one(linksSection(b, ctx));
    case 'divider':
      return [divider()];
    case 'image':
      // The picture itself is uploaded into the thread, where Slack shows it inline.
      return [
        context(
          `:chart_with_upwards_trend: ${clip(oneLine(b.title ?? b.filename), 200)} (graph in this thread)`,
        ),
      ];
    case 'file': {
      const title = b.title ? ` — ${clip(oneLine(b.title), 200)}` : '';
      return [context(`:paperclip: ${clip(b.filename, 255)}${title} (attached in this thread)`)];
    }
  }
}

/** What an enrichment's files are named after: its object (a pod, a node), else its title. */
function aboutOf(e: Enrichment, index: number): string {
  return oneLine(e.about?.trim() || e.title?.trim() || e.source).trim() || `enrichment ${index + 1}`;
}

function enrichmentBlocks(e: Enrichment, ctx: Ctx): SlackBlock[] {
  const title = e.title?.trim() || e.source;
  const out: SlackBlock[] = [
    titleBlock(title, ctx.overflow, describedFilename(ctx.about, undefined, 'title')),
  ];
  if (e.verdict?.trim()) {
    const file = describedFilename(ctx.about, undefined, 'verdict');
    out.push(section(`*Verdict:* ${ctx.overflow.fit(e.verdict, SECTION - 20, file, 'Verdict')}`));
  }
  for (const b of e.blocks) out.push(...blockToSlack(b, ctx));
  return out;
}

/**
 * The details reply for the thread. Blocks are packed in order until the block count or the
 * aggregate size would pass Slack's limits; from there on, the whole details text is a file.
 */
export function renderDetails(issue: Issue): DetailsRender {
  const overflow = new Overflow();
  const native = { free: true };
  const all: SlackBlock[] = [];
  issue.enrichments.forEach((e, i) => {
    if (i > 0) all.push(divider());
    all.push(...enrichmentBlocks(e, { overflow, native, about: aboutOf(e, i) }));
  });
  const blocks: SlackBlock[] = [];
  let size = 2;
  // Room for the closing marker block, so adding it never crosses a limit.
  const reserve = 400;
  for (const b of all) {
    const s = blocksSize([b]) + 1;
    if (blocks.length + 1 >= BUDGET.blocks || size + s > BUDGET.aggregate - reserve) {
      const about = oneLine(issue.subject.name ?? '').trim() || issue.subject.kind;
      const name = overflow.add(
        describedFilename(about, undefined, 'details'),
        detailsAsText(issue),
        'All details',
      );
      blocks.push(context(`${truncatedMarker(name)} (${all.length - blocks.length} more blocks)`));
      break;
    }
    blocks.push(b);
    size += s;
  }
  const verdicts = issue.enrichments.map((e) => e.verdict).filter((v): v is string => !!v?.trim());
  const summary = verdicts.length ? verdicts.join('; ') : `${issue.enrichments.length} enrichment(s)`;
  const text = truncateEscaped(escapeMrkdwn(oneLine(`Details: ${summary}`)), 500);
  return { text, attachments: [{ fallback: text, blocks }], overflowFiles: overflow.files };
}
