// Property tests for the Slack renderers: for any valid Issue full of hostile text, the root,
// details and status replies pass Slack's checks (the stand-in's own) and carry no mention or
// link that Slack would act on, except links built from the issue's http(s) links.
import test from 'ava';
import fc from 'fast-check';
import type { RootView } from '../lib/destination.ts';
import { cutMap } from '../lib/fit.ts';
import { Issue } from '../lib/issue.ts';
import { renderDetails } from '../lib/slack/render-details.ts';
import { renderRoot, renderStatusReply } from '../lib/slack/render-root.ts';
import { escapeMrkdwn } from '../lib/slack/text.ts';
import {
  hostileText as anyText,
  hostileLabels,
  isoTime,
  NUM_RUNS,
  strings,
  unescapedControl,
} from './support/arbitraries.ts';
import { messageError } from './support/slack-standin.ts';

// Text made only of control characters renders as an empty header or section, which Slack
// rejects (known bug, see the last test): such text gets one visible character here.
const isControl = (c: string) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f;
const controlOnly = (s: string) =>
  [...s].some(isControl) && [...s].every((c) => isControl(c) || /\s/.test(c));
const visible = (s: string) => (controlOnly(s) ? `${s}x` : s);
const hostileText = anyText.map(visible);
const capped = (max: number) => anyText.map((s) => visible(s.slice(0, max - 1)));
const link = fc.record({
  type: fc.constantFrom('graph', 'runbook', 'silence', 'alertmanager', 'other'),
  title: capped(200),
  url: fc.oneof(
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    // An http(s) prefix and then anything: `|`, `>`, spaces and mentions inside the URL.
    hostileText.map((s) => `https://x.example/${s}`.slice(0, 4000)),
  ),
});
const block = fc.oneof(
  fc.record({ type: fc.constant('header'), text: hostileText }),
  fc.record({ type: fc.constant('markdown'), text: hostileText }),
  fc.record({
    type: fc.constant('table'),
    title: hostileText,
    headers: fc.array(hostileText, { maxLength: 6 }),
    rows: fc.array(fc.array(hostileText, { maxLength: 6 }), { maxLength: 40 }),
  }),
  fc.record({
    type: fc.constant('file'),
    filename: fc.string({ minLength: 1, maxLength: 255 }),
    title: hostileText,
    content: hostileText,
  }),
  fc.record({ type: fc.constant('json'), title: hostileText, data: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({
    type: fc.constant('list'),
    title: hostileText,
    items: fc.array(hostileText, { maxLength: 30 }),
  }),
  fc.record({ type: fc.constant('links'), links: fc.array(link, { maxLength: 5 }) }),
  fc.constant({ type: 'divider' }),
);
const enrichment = fc.record(
  {
    source: fc.constantFrom('enrich-pod', 'enrich-node'),
    title: hostileText,
    verdict: hostileText,
    blocks: fc.array(block, { maxLength: 12 }),
  },
  { requiredKeys: ['source', 'blocks'] },
);

const issue = fc
  .record(
    {
      id: fc.stringMatching(/^[a-z0-9]{8,40}$/),
      fingerprint: fc.stringMatching(/^[0-9a-f]{16}$/),
      type: fc.constantFrom('alert', 'event'),
      source: fc.constantFrom('prometheus', 'kubernetes'),
      title: capped(1000),
      description: capped(20000),
      severity: fc.constantFrom('HIGH', 'LOW', 'INFO', 'DEBUG'),
      status: fc.constantFrom('firing', 'resolved'),
      cluster: capped(200),
      subject: fc.record(
        {
          kind: capped(63).filter((k) => k.length > 0),
          name: capped(253),
          namespace: capped(63),
          node: capped(253),
          container: capped(253),
        },
        { requiredKeys: ['kind'] },
      ),
      // Within the Issue's caps, as every stage parses them (ingest cuts longer ones, lib/fit.ts).
      labels: hostileLabels.map((m) => cutMap(m, 'labels', [])),
      annotations: hostileLabels.map((m) => cutMap(m, 'annotations', [])),
      links: fc.array(link, { maxLength: 4 }),
      startsAt: isoTime,
      endsAt: isoTime,
      enrichments: fc.array(enrichment, { maxLength: 4 }),
      occurrences: fc.record(
        {
          count: fc.integer({ min: 1, max: 1_000_000 }),
          lastSeen: isoTime,
          objects: fc.nat(),
          sample: fc.array(capped(253), { maxLength: 20 }),
        },
        { requiredKeys: ['count', 'lastSeen'] },
      ),
      plan: fc.constant(['dispatch']),
    },
    {
      requiredKeys: [
        'id',
        'fingerprint',
        'type',
        'source',
        'title',
        'severity',
        'status',
        'subject',
        'labels',
        'annotations',
        'links',
        'startsAt',
        'enrichments',
        'plan',
      ],
    },
  )
  .map((i) => Issue.parse(i));

const view: fc.Arbitrary<RootView> = fc
  .record(
    {
      issue,
      status: fc.constantFrom('firing', 'resolved'),
      firingSince: isoTime,
      resolvedAt: isoTime,
      firingCount: fc.integer({ min: 1, max: 1000 }),
      verdicts: fc.array(hostileText, { maxLength: 6 }),
      continuesEarlier: fc.boolean(),
    },
    { requiredKeys: ['issue', 'status', 'firingSince', 'firingCount', 'verdicts'] },
  )
  .map((v) => (v.issue.occurrences ? { ...v, occurrences: v.issue.occurrences } : v));

/** The `<url|…>` prefixes the renderer may emit: the issue's own links, escaped as slackLink does. */
function allowedUrls(i: Issue): Set<string> {
  const links = [
    ...i.links,
    ...i.enrichments.flatMap((e) => e.blocks.flatMap((b) => (b.type === 'links' ? b.links : []))),
  ];
  return new Set(links.map((l) => escapeMrkdwn(l.url.trim()).replace(/\|/g, '%7C')));
}

/** Fails with the offending token when any text of `message` would ping or link from input. */
function assertNoControl(message: unknown, i: Issue): void {
  const allowed = allowedUrls(i);
  for (const s of strings(message)) {
    const bad = unescapedControl(s, allowed);
    if (bad)
      throw new Error(`unescaped ${JSON.stringify(bad.slice(0, 80))} in ${JSON.stringify(s.slice(0, 200))}`);
  }
}

function assertSlackAccepts(message: Record<string, unknown>): void {
  const err = messageError(message);
  if (err) throw new Error(`Slack would answer ${err}`);
}

test('renderRoot: any issue renders a root Slack accepts, with no mention or link from input text', (t) => {
  fc.assert(
    fc.property(view, (v) => {
      const { overflowFiles, ...message } = renderRoot(v);
      assertSlackAccepts(message);
      assertNoControl(message, v.issue);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('renderDetails: any enrichments render a details reply Slack accepts, with no mention or link from input text', (t) => {
  fc.assert(
    fc.property(issue, (i) => {
      const { overflowFiles, ...message } = renderDetails(i);
      assertSlackAccepts(message);
      assertNoControl(message, i);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('renderStatusReply: resolved and re-fired replies are accepted by Slack and carry no input mention', (t) => {
  fc.assert(
    fc.property(view, fc.constantFrom('resolved', 'refired'), (v, kind) => {
      const message = renderStatusReply(v, kind);
      assertSlackAccepts({ ...message });
      assertNoControl(message, v.issue);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('the escape check itself catches a raw mention and a spoofed link', (t) => {
  const i = Issue.parse({ ...fc.sample(issue, { numRuns: 1, seed: 1 })[0], links: [] });
  for (const raw of ['<!channel>', '<!here>', '<@U123>', '<#C0ALERTS>', '<https://evil|click>']) {
    t.throws(() => assertNoControl({ text: `hi ${raw}` }, i), { message: /unescaped/ });
  }
  t.notThrows(() => assertNoControl({ text: '&lt;!channel&gt; &lt;https://evil|click&gt;' }, i));
});

// Escaping drops control characters; text made only of them must still give blocks Slack
// accepts (an empty header or section is invalid_blocks, and the message would never post).
test('renderRoot and renderDetails: a title made only of control characters still renders blocks Slack accepts', (t) => {
  const i = Issue.parse({
    ...fc.sample(issue, { numRuns: 1, seed: 1 })[0],
    title: '\u0000',
    description: '\u0007',
    enrichments: [{ source: 'enrich-pod', title: '\u0000', blocks: [{ type: 'header', text: '\u0001' }] }],
  });
  const { overflowFiles: _r, ...root } = renderRoot({
    issue: i,
    status: 'firing',
    firingSince: i.startsAt,
    firingCount: 1,
    verdicts: [],
  });
  const { overflowFiles: _d, ...details } = renderDetails(i);
  t.is(messageError(root), undefined);
  t.is(messageError(details), undefined);
});
