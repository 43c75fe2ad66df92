// The terminal destination, used when no Slack token is configured: the same threads,
// printed as readable text (ANSI colors only on a TTY), with made-up Slack-style `ts` values.
// With a preview sink, each message also goes out as the Block Kit Slack would get.
import type { Destination, MessageRef, RootView, StatusReplyKind } from '../domain/destination.ts';
import type { FileBlock, ImageBlock, Issue, Severity } from '../domain/issue.ts';
import type { PreviewSink } from './preview.ts';
import type { SlackMessage } from './slack/blocks.ts';
import { filesToUpload, fileTitle } from './slack/destination.ts';
import { enrichmentAsText } from './slack/plain.ts';
import { renderDetails } from './slack/render-details.ts';
import { renderRoot, renderStatusReply, resolvedAfter } from './slack/render-root.ts';
import { NATIVE_TABLE, TABLE_LINE_WIDTH } from './slack/render-table.ts';
import { formatTime, oneLine } from './slack/text.ts';

export interface TerminalOptions {
  /** Where to write; process.stdout by default. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force ANSI colors on or off; by default on only when the stream is a TTY. */
  color?: boolean;
  /** Characters of each file printed before the rest is summarised. */
  fileChars?: number;
  /** Labels shown on the root before the rest are counted. */
  maxLabels?: number;
  /** Where the Slack rendering of every message also goes (the local preview page). */
  preview?: PreviewSink | undefined;
}

const ANSI: Record<Severity | 'resolved' | 'dim' | 'bold', string> = {
  HIGH: '\x1b[31m',
  LOW: '\x1b[33m',
  INFO: '\x1b[34m',
  DEBUG: '\x1b[90m',
  resolved: '\x1b[32m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
};
const RESET = '\x1b[0m';

// Workload output can carry escape sequences that would recolor or rewrite the operator's
// terminal; only newlines and tabs survive.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
export function sanitize(text: string): string {
  return text.replace(CONTROL, '');
}

export class TerminalDestination implements Destination {
  readonly id = 'terminal';
  readonly #stream: NodeJS.WritableStream;
  readonly #color: boolean;
  readonly #fileChars: number;
  readonly #maxLabels: number;
  readonly #preview: PreviewSink | undefined;
  #seq = 0;

  constructor(opts: TerminalOptions = {}) {
    const stream = opts.stream ?? process.stdout;
    this.#stream = stream;
    this.#color = opts.color ?? (stream as { isTTY?: boolean }).isTTY === true;
    this.#fileChars = opts.fileChars ?? 2000;
    this.#maxLabels = opts.maxLabels ?? 12;
    this.#preview = opts.preview;
  }

  /** The root as Slack gets it (chat.postMessage / chat.update take text and attachments). */
  static #root(view: RootView) {
    const { text, attachments } = renderRoot(view);
    return { text, attachments };
  }

  #paint(style: keyof typeof ANSI, text: string): string {
    return this.#color ? `${ANSI[style]}${text}${RESET}` : text;
  }

  #write(lines: string[]): void {
    this.#stream.write(`${lines.join('\n')}\n`);
  }

  /** Slack-shaped, increasing, unique within this process: the dispatcher treats it as a thread key. */
  #nextTs(): string {
    this.#seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#seq).padStart(6, '0')}`;
  }

  #box(view: RootView, ref: MessageRef, verb: string): string[] {
    const issue = view.issue;
    const style = view.status === 'resolved' ? 'resolved' : issue.severity;
    const status =
      view.status === 'resolved'
        ? `RESOLVED${resolvedAfter(view) ? ` after ${resolvedAfter(view)}` : ''}`
        : `${issue.type === 'change' ? 'CHANGED' : 'FIRING'} · ${issue.severity}${view.firingCount > 1 ? ` · fired ${view.firingCount} times` : ''}`;
    const bar = this.#paint(style, '│');
    const s = issue.subject;
    const facts = [
      issue.cluster && `cluster ${issue.cluster}`,
      s.namespace && `namespace ${s.namespace}`,
      s.name && `${s.kind} ${s.name}`,
      s.node && s.kind !== 'Node' && `node ${s.node}`,
      s.container && `container ${s.container}`,
      `started ${formatTime(view.firingSince)}`,
    ].filter((f): f is string => typeof f === 'string' && f !== '');
    const body: string[] = [
      this.#paint(style, this.#paint('bold', status)),
      this.#paint('bold', sanitize(oneLine(issue.title))),
    ];
    if (view.continuesEarlier) body.push('(continues an earlier thread whose state was lost)');
    const o = view.occurrences;
    if (o && (o.count > 1 || (o.objects ?? 0) > 1)) {
      const objects =
        o.objects && o.objects > 1
          ? ` · ${o.objects} objects affected${o.sample?.length ? `: ${o.sample.slice(0, 5).join(', ')}` : ''}`
          : '';
      body.push(sanitize(oneLine(`seen ${o.count} times, last ${formatTime(o.lastSeen)}${objects}`)));
    }
    body.push(sanitize(facts.map(oneLine).join(' · ')));
    if (issue.description?.trim()) body.push(...sanitize(issue.description.trim()).split('\n'));
    for (const v of view.verdicts) body.push(`• ${sanitize(oneLine(v))}`);
    const keys = Object.keys(issue.labels).sort();
    if (keys.length) {
      const shown = keys.slice(0, this.#maxLabels).map((k) => `${k}=${oneLine(issue.labels[k] ?? '')}`);
      if (keys.length > shown.length) shown.push(`(+${keys.length - shown.length} more)`);
      body.push(this.#paint('dim', sanitize(shown.join('  '))));
    }
    for (const l of issue.links) body.push(sanitize(`${oneLine(l.title)}: ${l.url}`));
    const rule = '─'.repeat(60);
    return [
      this.#paint(style, `┌${rule}`),
      ...body.map((line) => `${bar} ${line}`),
      this.#paint(style, `└${rule}`) + this.#paint('dim', ` ${verb} ${ref.channel} ts=${ref.ts}`),
    ];
  }

  /** Lines of a reply, indented under its root like a thread. */
  #thread(ref: MessageRef, lines: string[]): string[] {
    const bar = this.#paint('dim', '    ┆');
    return [
      this.#paint('dim', `    ↳ reply in thread ${ref.ts}`),
      ...lines.flatMap((l) => l.split('\n')).map((l) => (l ? `${bar} ${l}` : bar)),
    ];
  }

  async postLinked(thread: MessageRef, view: RootView): Promise<MessageRef> {
    const ref = { channel: 'terminal', ts: this.#nextTs(), threadTs: thread.ts };
    this.#write(this.#thread(thread, ['(same workload, another source)', ...this.#box(view, ref, 'posted')]));
    await this.#preview?.send({
      op: 'post',
      ts: ref.ts,
      threadTs: thread.ts,
      message: TerminalDestination.#root({ ...view, linked: true }),
    });
    return ref;
  }

  async postRoot(view: RootView): Promise<MessageRef> {
    const ref = { channel: 'terminal', ts: this.#nextTs() };
    this.#write(['', ...this.#box(view, ref, 'posted')]);
    await this.#preview?.send({ op: 'post', ts: ref.ts, message: TerminalDestination.#root(view) });
    return ref;
  }

  async updateRoot(ref: MessageRef, view: RootView): Promise<void> {
    this.#write(['', ...this.#box(view, ref, 'updated')]);
    await this.#preview?.send({ op: 'update', ts: ref.ts, message: TerminalDestination.#root(view) });
  }

  async postDetails(ref: MessageRef, issue: Issue): Promise<void> {
    if (issue.enrichments.length === 0) return;
    // Laid out as in Slack's text tables, every cell whole; as many rows as Slack's table shows.
    const layout = { tableWidth: TABLE_LINE_WIDTH, tableRows: NATIVE_TABLE.rows - 1 };
    const text = issue.enrichments.map((e) => enrichmentAsText(e, layout));
    this.#write(this.#thread(ref, [sanitize(text.join('\n\n'))]));
    if (this.#preview) {
      const { text: fallback, attachments } = renderDetails(issue);
      const threadTs = ref.threadTs ?? ref.ts;
      await this.#preview.send({
        op: 'post',
        ts: this.#nextTs(),
        threadTs,
        message: { text: fallback, attachments },
      });
    }
  }

  async uploadFiles(ref: MessageRef, issue: Issue): Promise<void> {
    const files = issue.enrichments.flatMap((e) => e.blocks.filter((b): b is FileBlock => b.type === 'file'));
    for (const f of files) this.#write(this.#thread(ref, this.#file(f)));
    // Slack gets the issue's own files and whatever the renderers cut.
    for (const f of this.#preview ? filesToUpload(issue) : []) {
      const threadTs = ref.threadTs ?? ref.ts;
      await this.#preview?.send(
        f.type === 'image'
          ? { op: 'post', ts: this.#nextTs(), threadTs, message: imageMessage(f) }
          : {
              op: 'file',
              ts: this.#nextTs(),
              threadTs,
              filename: f.filename,
              title: fileTitle(f),
              content: f.content,
            },
      );
    }
  }

  #file(f: FileBlock): string[] {
    const size = Buffer.byteLength(f.content, 'utf8');
    const title = f.title ? ` — ${oneLine(f.title)}` : '';
    const head = this.#paint('bold', sanitize(`📎 ${oneLine(f.filename)}${title} (${size} bytes)`));
    const content = sanitize(f.content);
    if (content.length <= this.#fileChars) return [head, ...content.replace(/\n$/, '').split('\n')];
    const shown = content.slice(0, this.#fileChars).replace(/\n[^\n]*$/, '');
    return [
      head,
      ...shown.split('\n'),
      this.#paint(
        'dim',
        `… showing ${Buffer.byteLength(shown, 'utf8')} of ${size} bytes${f.truncated ? ' (already cut at the source)' : ''}`,
      ),
    ];
  }

  async postStatusReply(ref: MessageRef, view: RootView, kind: StatusReplyKind): Promise<void> {
    const line =
      kind === 'resolved'
        ? this.#paint('resolved', `Resolved${resolvedAfter(view) ? ` after ${resolvedAfter(view)}` : ''}`)
        : this.#paint(
            view.issue.severity,
            `Firing again${view.firingCount > 1 ? ` (firing #${view.firingCount})` : ''} since ${formatTime(view.firingSince)}`,
          );
    this.#write(this.#thread(ref, [line]));
    const threadTs = ref.threadTs ?? ref.ts;
    await this.#preview?.send({
      op: 'post',
      ts: this.#nextTs(),
      threadTs,
      message: renderStatusReply(view, kind),
    });
  }
}

/**
 * An image Slack shows inline in the thread, as the preview page draws it: an image block whose
 * URL is the PNG itself (Slack would take the uploaded file; the page has no upload).
 */
function imageMessage(f: ImageBlock): SlackMessage {
  return {
    text: f.alt,
    blocks: [
      {
        type: 'image',
        image_url: `data:image/png;base64,${f.data}`,
        alt_text: f.alt.slice(0, 2000),
        ...(f.title ? { title: { type: 'plain_text' as const, text: f.title.slice(0, 2000) } } : {}),
      },
    ],
  };
}
