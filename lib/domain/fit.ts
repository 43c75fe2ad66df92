// Cutting what an ingest function or an enricher produces to the Issue's caps (ISSUE_LIMITS in
// lib/domain/issue.ts), so no later stage refuses an issue an earlier one acknowledged. A cut keeps
// the head of the text and says so at its end; the full text travels with the issue as a file
// (uploaded into the Slack thread) as far as the issue's size allows.
import { BadRequestError } from '../platform/errors.ts';
import { type Enrichment, type FileBlock, ISSUE_LIMITS, type Issue } from './issue.ts';

/** One field that was cut: where it was, how long it was, and its whole text. */
export interface Cut {
  field: string;
  length: number;
  full: string;
}

export const CUT_FILE = 'cut-values.txt';
/** The enrichment source of the cut report, so a later pass finds its file. */
export const CUT_SOURCE = 'ingest';

/** The first `n` UTF-16 units of `s`, never ending in half a surrogate pair. */
function head(s: string, n: number): string {
  if (s.length <= n) return s;
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/**
 * `value`, or its head and a visible marker within `max` characters. With `cuts`, the cut and
 * the full text are recorded there (for the file); without, the full text is elsewhere on the
 * issue already (a title cut from its summary annotation).
 */
export function cutText(value: string, max: number, field: string, cuts?: Cut[]): string {
  if (value.length <= max) return value;
  cuts?.push({ field, length: value.length, full: value });
  const marker = cuts
    ? ` … [cut: ${value.length} characters; the full text is in ${CUT_FILE}]`
    : ` … [cut: ${value.length} characters]`;
  return head(value, Math.max(0, max - marker.length)) + marker;
}

/**
 * Labels or annotations within the caps: a value over ISSUE_LIMITS.value is cut, an entry whose
 * name is over ISSUE_LIMITS.key is left out (a cut name could collide with another); both are
 * recorded in `cuts`. The same object comes back when nothing was over.
 */
export function cutMap(map: Record<string, string>, field: string, cuts: Cut[]): Record<string, string> {
  let over = false;
  for (const k in map) {
    if (k.length > ISSUE_LIMITS.key || (map[k] as string).length > ISSUE_LIMITS.value) over = true;
  }
  if (!over) return map;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) {
    if (k.length > ISSUE_LIMITS.key) {
      cuts.push({
        field: `${field} entry "${head(k, 60)}…" (name of ${k.length} characters)`,
        length: v.length,
        full: `${k}=${v}`,
      });
    } else out[k] = cutText(v, ISSUE_LIMITS.value, `${field}.${k}`, cuts);
  }
  return out;
}

/** What was cut, said once on the issue (its verdict shows on the root), with the full texts as a file. */
export function cutReport(cuts: readonly Cut[]): Enrichment | undefined {
  if (cuts.length === 0) return undefined;
  const file: FileBlock = {
    type: 'file',
    filename: CUT_FILE,
    title: 'Full text of the values cut to fit',
    contentType: 'text/plain',
    content: cuts.map((c) => `--- ${c.field} (${c.length} characters) ---\n${c.full}\n`).join('\n'),
  };
  return {
    source: CUT_SOURCE,
    title: 'Cut to fit',
    verdict: `${cuts.length} value${cuts.length === 1 ? ' was' : 's were'} too long and cut; the full text is in ${CUT_FILE}`,
    blocks: [
      {
        type: 'list',
        title: 'Cut',
        items: cuts.map((c) => `${c.field}: ${c.length} characters`).slice(0, 50),
      },
      file,
    ],
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** `n` characters of `content`, its head or its tail (logs, whose end matters), and a line saying so. */
function keepPart(content: string, n: number, keep: 'head' | 'tail'): string {
  const note = `\n… [cut here: ${content.length - n} more characters did not fit the event size limit]\n`;
  if (keep === 'head') return head(content, n) + note;
  const start = content.length - n;
  const code = content.charCodeAt(start);
  return note + content.slice(code >= 0xdc00 && code <= 0xdfff ? start + 1 : start);
}

/**
 * Cuts the largest file blocks until `size()` is at most `max`, or no file has anything left to
 * give. Each pass takes what is still over from one file, converted from bytes of JSON to
 * characters by what that file's characters cost there (up to 6 for escaped ones), so a few
 * passes settle it. Returns whether it fits.
 */
function shrinkFiles(files: FileBlock[], size: () => number, max: number, keep: 'head' | 'tail'): boolean {
  const originals = new Map(files.map((f) => [f, { text: f.content, kept: f.content.length }]));
  for (let pass = 0; pass < 16; pass++) {
    const over = size() - max;
    if (over <= 0) return true;
    let largest: { file: FileBlock; text: string; kept: number } | undefined;
    for (const [file, o] of originals) if (o.kept > (largest?.kept ?? 0)) largest = { file, ...o };
    if (!largest) return false;
    const perChar =
      (Buffer.byteLength(JSON.stringify(largest.file.content)) - 2) /
      Math.max(1, largest.file.content.length);
    const kept = Math.max(0, largest.kept - Math.ceil((over + 16) / Math.max(1, perChar)));
    (originals.get(largest.file) as { kept: number }).kept = kept;
    largest.file.content = keepPart(largest.text, kept, keep);
    largest.file.truncated = true;
  }
  return size() <= max;
}

/**
 * The issue as it may leave ingest: labels and annotations within the caps (cut as cutMap does,
 * for producers that did not cut them while mapping), and its JSON at most
 * ISSUE_LIMITS.ingestBytes, the cut report's file shortened (its head kept) when the full texts
 * do not all fit. An issue still over the limit (thousands of labels) is refused with a 400
 * naming `where`: no later stage could take it.
 */
export function fitIssue(issue: Issue, where: string): Issue {
  const cuts: Cut[] = [];
  const labels = cutMap(issue.labels, 'labels', cuts);
  const annotations = cutMap(issue.annotations, 'annotations', cuts);
  const report = cutReport(cuts);
  const capped = report
    ? { ...issue, labels, annotations, enrichments: [...issue.enrichments, report] }
    : issue;
  if (bytes(capped) <= ISSUE_LIMITS.ingestBytes) return capped;
  const enrichments = capped.enrichments.map((e) =>
    e.source === CUT_SOURCE ? { ...e, blocks: e.blocks.map((b) => ({ ...b })) } : e,
  );
  const fitted = { ...capped, enrichments };
  const files = enrichments
    .filter((e) => e.source === CUT_SOURCE)
    .flatMap((e) => e.blocks.filter((b): b is FileBlock => b.type === 'file'));
  if (!shrinkFiles(files, () => bytes(fitted), ISSUE_LIMITS.ingestBytes, 'head')) {
    throw new BadRequestError(
      `${where}: its labels and annotations take ${bytes(fitted)} bytes as an issue, more than ${ISSUE_LIMITS.ingestBytes} even with every value cut to ${ISSUE_LIMITS.value} characters`,
    );
  }
  return fitted;
}

/**
 * An enrichment within ISSUE_LIMITS.enrichmentBytes: its largest files are cut, keeping their
 * end (the last log lines hold the crash), then its last blocks give way to a note.
 */
export function fitEnrichment(
  enrichment: Enrichment,
  max: number = ISSUE_LIMITS.enrichmentBytes,
): Enrichment {
  if (bytes(enrichment) <= max) return enrichment;
  const fitted: Enrichment = { ...enrichment, blocks: enrichment.blocks.map((b) => ({ ...b })) };
  const files = fitted.blocks.filter((b): b is FileBlock => b.type === 'file');
  if (shrinkFiles(files, () => bytes(fitted), max, 'tail')) return fitted;
  const left = fitted.blocks.length;
  while (fitted.blocks.length > 0 && bytes(fitted) > max - 200) fitted.blocks.pop();
  fitted.blocks.push({
    type: 'markdown',
    text: `${left - fitted.blocks.length} more block(s) left out: the event size limit was reached.`,
  });
  return fitted;
}
