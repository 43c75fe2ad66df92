// fast-check arbitraries for untrusted input: strings full of mentions, link syntax, entities,
// control characters and lone surrogates, and the checks the property tests share.
import fc from 'fast-check';

export const NUM_RUNS = 200;

/** Pieces an attacker (or an unlucky label value) puts in text that reaches Slack. */
const FRAGMENTS = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U123ABC>',
  '<#C0ALERTS>',
  '<!subteam^S123>',
  '<https://evil.example|click>',
  '<http://evil.example>',
  '<mailto:a@b.c|mail>',
  '&',
  '&amp;',
  '&lt;!channel&gt;',
  '<',
  '>',
  '|',
  '{',
  '}',
  '```',
  '*bold*',
  '\n',
  '\t',
  '\u0000',
  '\u001b[31m',
  '\ud83d\ude80',
  '\ud800',
  '\u200b',
  ' ',
  'https://ok.example/path?q=1',
];

export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 8 }).map((a) => a.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 20 }), fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 20 }))
      .map((p) => p.join('')),
  },
  // Long values, to push renderers into their truncation and overflow paths.
  { weight: 1, arbitrary: fc.constantFrom(...FRAGMENTS).chain((f) => fc.nat(3000).map((n) => f.repeat(n))) },
);

/** Label and annotation maps: well-known keys (which drive the mapping) plus arbitrary ones. */
export const hostileLabels: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'alertname',
      'severity',
      'namespace',
      'pod',
      'container',
      'node',
      'instance',
      'deployment',
      'cluster',
      'summary',
      'description',
      'message',
      'runbook_url',
    ),
    hostileText,
  ),
  hostileText,
  { maxKeys: 8 },
);

// Years 1970-2100: Alertmanager's and Kubernetes' timestamps are RFC 3339 in that range.
export const isoTime: fc.Arbitrary<string> = fc
  .integer({ min: 0, max: 4_102_444_800_000 })
  .map((ms) => new Date(ms).toISOString());

/** One Alertmanager webhook alert with hostile labels, annotations, URL and fingerprint. */
export const hostileAlert = fc.record(
  {
    status: fc.constantFrom('firing', 'resolved'),
    labels: hostileLabels,
    annotations: hostileLabels,
    startsAt: isoTime,
    endsAt: fc.oneof(isoTime, fc.constant('0001-01-01T00:00:00Z')),
    generatorURL: fc.oneof(fc.webUrl(), hostileText),
    fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), hostileText),
  },
  { requiredKeys: ['status', 'labels', 'startsAt'] },
);

/** Every string value anywhere in `v` (block texts, fields, attachments). */
export function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

/**
 * A message's strings split by how Slack reads them: `raw`, the texts of raw_text table cells,
 * which Slack shows as typed and never parses (a table needs rich_text cells for a mention or
 * a link); `parsed`, every other string, read as mrkdwn or with entities decoded.
 */
export function splitShown(v: unknown, out = { raw: [] as string[], parsed: [] as string[] }) {
  const block = v as { type?: unknown; rows?: Array<Array<{ type?: unknown; text?: unknown }>> };
  if (block && typeof block === 'object' && block.type === 'table' && Array.isArray(block.rows)) {
    for (const cell of block.rows.flat()) {
      if (cell.type === 'raw_text' && typeof cell.text === 'string') out.raw.push(cell.text);
      else splitShown(cell, out);
    }
  } else if (v && typeof v === 'object') for (const x of Object.values(v)) splitShown(x, out);
  else out.parsed.push(...strings(v));
  return out;
}

/**
 * The first mention or link in `text` that Slack would act on and that is not one of
 * `allowedLinks` (the `<url|title>` links the renderer builds from the issue's own links).
 */
export function unescapedControl(text: string, allowedUrls: ReadonlySet<string>): string | undefined {
  for (const m of text.matchAll(/<([^<>]*)>/g)) {
    const inner = m[1] ?? '';
    const url = inner.split('|')[0] ?? '';
    if (/^https?:\/\//i.test(url) && allowedUrls.has(url)) continue;
    return m[0];
  }
  return undefined;
}

/** Runs `fn` and returns what it threw, or undefined. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}
