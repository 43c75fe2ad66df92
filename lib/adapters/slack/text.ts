// Text primitives for Slack mrkdwn: the one escape function, entity-safe truncation, links
// built only from http(s) URLs, and the overflow collector that keeps cut text as a file.

import type { FileBlock, Link } from '../../domain/issue.ts';
import { formatDuration } from '../../platform/duration.ts';

/** Slack's documented limits; a message over any of them is rejected, not trimmed. */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  blockId: 255,
  messageText: 40_000,
  /** Undocumented aggregate behind `msg_blocks_too_long`, measured here as JSON length. */
  aggregateBlocks: 13_000,
} as const;

/** What the renderers aim for: below the limits, so a rounding on Slack's side never bites. */
export const BUDGET = {
  blocks: 48,
  aggregate: 11_500,
  sectionText: 2900,
  messageText: 3000,
} as const;

// Control characters are dropped: they have no place in a chat line and JSON-encode to six
// characters each, which would wreck the aggregate budget.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** The only escape for untrusted text in mrkdwn and plain_text: neutralises mentions and links. */
export function escapeMrkdwn(text: string): string {
  return text.replace(CONTROL, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One line of text: newlines and tabs become spaces (titles, table cells, field values). */
export function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

/**
 * Untrusted text for a place Slack shows literally (a table's raw_text cell): one line, control
 * characters dropped, and nothing escaped. Slack does not parse plain text for mentions or
 * links, and would show an escape such as `&amp;` as typed.
 */
export function plainText(raw: string): string {
  return oneLine(raw).replace(CONTROL, '');
}

/**
 * Cuts already-escaped text to `max` characters including `marker`, never inside an
 * entity (`&amp;`) or a surrogate pair, so Slack never shows half an escape.
 */
export function truncateEscaped(escaped: string, max: number, marker = '…'): string {
  if (escaped.length <= max) return escaped;
  let cut = Math.max(0, max - marker.length);
  const amp = escaped.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp >= cut - 4) {
    const semi = escaped.indexOf(';', amp);
    if (semi === -1 || semi >= cut) cut = amp;
  }
  const code = escaped.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return escaped.slice(0, cut) + marker;
}

/** Escapes and cuts untrusted text with a plain ellipsis (for places a marker cannot fit). */
export function clip(raw: string, max: number): string {
  return truncateEscaped(escapeMrkdwn(raw), max);
}

/** Text inside a ``` block: escaped, and a ``` in the content cannot close the block early. */
export function codeText(raw: string): string {
  return escapeMrkdwn(raw).replace(/```/g, '`\u200b`\u200b`');
}

/**
 * A Slack link `<url|title>`, or undefined for anything that is not an http(s) URL.
 * `|` in the URL is percent-encoded and in the title replaced, so neither can start a second
 * link part; `>` is escaped in both.
 */
export function slackLink(link: Pick<Link, 'url' | 'title'>): string | undefined {
  const url = link.url.trim();
  if (!/^https?:\/\/[^\s]+$/i.test(url)) return undefined;
  const safeUrl = escapeMrkdwn(url).replace(/\|/g, '%7C');
  const title = clip(oneLine(link.title).replace(/\|/g, '¦').trim() || url, 200);
  return `<${safeUrl}|${title}>`;
}

/**
 * A file name safe for Slack and a filesystem: letters, digits, single spaces, dot, dash,
 * underscore and parentheses, so a person can read it (`api-0 recent events.txt`). No path
 * separator, no leading dot or dash; at most 120 characters, its extension kept.
 */
/** The longest file name we give Slack (its own limit is far higher; a name is read, not parsed). */
export const MAX_FILENAME = 120;

export function safeFilename(name: string, fallback = 'file.txt'): string {
  const clean = (s: string) =>
    s
      .replace(/[^A-Za-z0-9 ._()-]+/g, '-')
      .replace(/ +/g, ' ')
      .replace(/^[-. ]+/, '');
  const ext = /\.[A-Za-z0-9]{1,10}$/.exec(name)?.[0] ?? '';
  const stem = clean(name.slice(0, name.length - ext.length))
    .slice(0, MAX_FILENAME - ext.length)
    .trimEnd();
  return stem ? `${stem}${ext}` : fallback;
}

/**
 * The file name of something an enrichment shows: what it is about, then what it is
 * (`worker-1 conditions.txt`), `kind` when its title names nothing. A title's note in
 * parentheses ("newest 10 of 37") is left out, and a capital that only starts the sentence is
 * lowered ("CPU" keeps its own).
 */
export function describedFilename(
  about: string,
  title: string | undefined,
  kind: string,
  ext = 'txt',
): string {
  const bare = oneLine(title ?? '')
    .replace(/\s*\(.*$/, '')
    .trim();
  const what = /[A-Za-z0-9]/.test(bare) ? bare : kind;
  const noun = /^[A-Z][a-z]/.test(what) ? `${what[0]?.toLowerCase()}${what.slice(1)}` : what;
  const stem = `${about} ${noun}`.trim().slice(0, 200);
  return safeFilename(`${stem}.${ext}`, `${kind}.${ext}`);
}

/**
 * Collects full texts that did not fit in a message; the destination uploads them into the
 * thread, so truncation never loses content.
 */
export class Overflow {
  readonly files: FileBlock[] = [];
  readonly #names = new Set<string>();

  /** Registers a file under a unique name and returns that name (for the marker). */
  add(filename: string, content: string, title?: string, contentType = 'text/plain'): string {
    const base = safeFilename(filename);
    let name = base;
    for (let n = 2; this.#names.has(name); n++) {
      // The number goes before the extension, and the name stays within safeFilename's length.
      const dot = base.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
      const tag = ` (${n})`;
      name = `${stem.slice(0, MAX_FILENAME - tag.length - ext.length).trimEnd()}${tag}${ext}`;
    }
    this.#names.add(name);
    const file: FileBlock = { type: 'file', filename: name, contentType, content };
    if (title !== undefined) file.title = title;
    this.files.push(file);
    return name;
  }

  /**
   * Escaped text cut to `max`; when cut, the raw text becomes a file and the visible
   * marker names it.
   */
  fit(raw: string, max: number, filename: string, title?: string): string {
    const escaped = escapeMrkdwn(raw);
    if (escaped.length <= max) return escaped;
    const name = this.add(filename, raw, title);
    return truncateEscaped(escaped, max, `\n… truncated, full text in ${name}`);
  }
}

/** Marker line for content that was moved to a file. */
export function truncatedMarker(filename: string): string {
  return `… truncated, full text in ${escapeMrkdwn(filename)}`;
}

export { formatDuration };

/** "2024-11-22 03:58 UTC": unambiguous for people in different time zones. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
