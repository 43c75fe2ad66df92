import test from 'ava';
import type { RootView } from '../lib/destination.ts';
import type { Issue } from '../lib/issue.ts';
import { renderDetails } from '../lib/slack/render-details.ts';
import { COLORS, renderRoot, renderStatusReply } from '../lib/slack/render-root.ts';
import { slackLink, truncateEscaped } from '../lib/slack/text.ts';
import { crashLoopIssue } from './support/crashloop-webhook.ts';
import { messageError } from './support/slack-standin.ts';

// A KubePodCrashLooping alert as Alertmanager 0.27 posts it from kube-prometheus.
function baseIssue(): Issue {
  return crashLoopIssue();
}

function view(issue: Issue, over: Partial<RootView> = {}): RootView {
  return { issue, status: 'firing', firingSince: issue.startsAt, firingCount: 1, verdicts: [], ...over };
}

const INJECTIONS = ['<!channel>', '<!here>', '<@U123>', '<https://evil.example|click>'];
const INJ = INJECTIONS.join(' & ');

/** An issue with the injection strings in every field a person, a workload or a log controls. */
function poisonedIssue(): Issue {
  const issue = baseIssue();
  issue.title = `Title ${INJ}`;
  issue.description = `Description ${INJ}`;
  issue.cluster = `cluster ${INJ}`;
  issue.subject = {
    kind: `Pod${INJ}`,
    name: `pod ${INJ}`,
    namespace: `ns ${INJ}`,
    node: `node ${INJ}`,
    container: `ctr ${INJ}`,
  };
  issue.labels = { ...issue.labels, [`key${INJ}`]: `value ${INJ}` };
  issue.annotations = { ...issue.annotations, note: INJ };
  issue.links = [{ type: 'runbook', title: `Runbook ${INJ}`, url: 'https://runbooks.example/a?b=1&c=<2>|x' }];
  issue.enrichments = [
    {
      source: 'enrich-pod',
      title: `Pod ${INJ}`,
      verdict: `Verdict ${INJ}`,
      blocks: [
        { type: 'header', text: `Header ${INJ}` },
        { type: 'markdown', text: `Markdown ${INJ}` },
        {
          type: 'table',
          title: `Table ${INJ}`,
          headers: ['name', `h ${INJ}`],
          rows: [[`cell ${INJ}`, '```x```']],
        },
        { type: 'list', title: `List ${INJ}`, items: [`item ${INJ}`] },
        { type: 'json', title: `JSON ${INJ}`, data: { message: INJ } },
        { type: 'links', links: [{ type: 'other', title: `Link ${INJ}`, url: 'https://ok.example/' }] },
        { type: 'file', filename: 'api.log', title: `Log ${INJ}`, contentType: 'text/plain', content: INJ },
      ],
    },
  ];
  return issue;
}

/** Every string the message would show, wherever it sits in the payload. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

/** Removes the links the renderer built from allowed URLs; any `<` left would be Slack markup. */
function withoutRendererLinks(text: string): string {
  return text.replace(/<https?:\/\/[^<>|\s]+\|[^<>]*>/g, '');
}

test('slack render: injection strings in every untrusted field arrive escaped in root, details and status reply', (t) => {
  const issue = poisonedIssue();
  const root = renderRoot(view(issue, { verdicts: [`root verdict ${INJ}`], firingCount: 2 }));
  const details = renderDetails(issue);
  const reply = renderStatusReply(
    view(issue, { status: 'resolved', resolvedAt: '2024-11-22T04:12:07Z' }),
    'resolved',
  );
  const all = strings([root, details.text, details.blocks, reply]);
  for (const s of all) {
    const rest = withoutRendererLinks(s);
    t.false(rest.includes('<'), `unescaped < in: ${s.slice(0, 200)}`);
    t.false(rest.includes('>'), `unescaped > in: ${s.slice(0, 200)}`);
    t.false(/&(?!amp;|lt;|gt;)/.test(s), `bare & in: ${s.slice(0, 200)}`);
  }
  const joined = all.join('\n');
  // The content is shown, not dropped: every field carries the escaped form.
  for (const needle of [
    'Title',
    'Description',
    'cluster',
    'pod',
    'ns',
    'ctr',
    'value',
    'Verdict',
    'Markdown',
    'cell',
  ]) {
    t.true(joined.includes(`${needle} &lt;!channel&gt; &amp; &lt;!here&gt;`), needle);
  }
  t.true(joined.includes('&lt;https://evil.example|click&gt;'));
  t.true(joined.includes('&lt;@U123&gt;'));
  t.true(joined.includes('<https://runbooks.example/a?b=1&amp;c=&lt;2&gt;%7Cx|Runbook &lt;!channel&gt;'));
  // The file block is announced by name, its content is not inlined.
  t.true(joined.includes(':paperclip: api.log — Log &lt;!channel&gt;'));
});

test('slack render: links are built only from http(s) URLs and a title cannot break out of the link', (t) => {
  t.is(slackLink({ url: 'javascript:alert(1)', title: 'x' }), undefined);
  t.is(slackLink({ url: 'https://a.example/ b', title: 'x' }), undefined);
  t.is(
    slackLink({ url: 'https://a.example/?q=1|2', title: 'a|b>c <!here>' }),
    '<https://a.example/?q=1%7C2|a¦b&gt;c &lt;!here&gt;>',
  );
});

test('slack render: truncation never cuts an escape entity in half', (t) => {
  for (let max = 1; max < 40; max++) {
    const cut = truncateEscaped('&amp;&lt;&gt;'.repeat(5), max);
    t.false(/&(?!amp;|lt;|gt;)/.test(cut), cut);
    t.true(cut.length <= max);
  }
  const issue = baseIssue();
  issue.title = '&<>'.repeat(300);
  const header = renderRoot(view(issue)).attachments[0].blocks[0] as { text: { text: string } };
  t.true(header.text.text.length <= 150);
  t.regex(header.text.text, /^(&amp;|&lt;|&gt;)+…$/);
});

test('slack render: a cut list, table or JSON block keeps its long title and marker within one section', (t) => {
  // A 200-character title whose every character escapes to four: its line takes room the body
  // must give up (fast-check found a list one character over Slack's 3000).
  const title = '<'.repeat(200);
  const issue = baseIssue();
  issue.enrichments = [
    {
      source: 'enrich-pod',
      blocks: [
        { type: 'list', title, items: Array.from({ length: 40 }, () => '{'.repeat(90)) },
        { type: 'table', title, headers: ['a'], rows: Array.from({ length: 40 }, () => ['{'.repeat(90)]) },
        { type: 'json', title, data: { x: '{'.repeat(4000) } },
      ],
    },
  ];
  const { overflowFiles, ...message } = renderDetails(issue);
  t.is(messageError(message), undefined);
  const sections = message.blocks.filter((b) => b.type === 'section') as Array<{ text: { text: string } }>;
  t.is(sections.length, 3);
  for (const s of sections) {
    t.true(s.text.text.length <= 3000, `${s.text.text.length}`);
    t.true(s.text.text.startsWith(`*${'&lt;'.repeat(40)}`), 'the title line comes first');
    t.regex(s.text.text, /truncated, full text in /);
  }
  t.is(overflowFiles.length, 3);
});

test('slack render: the root is colored by severity while firing and green once resolved', (t) => {
  const issue = baseIssue();
  const colors = (['HIGH', 'LOW', 'INFO', 'DEBUG'] as const).map(
    (severity) => renderRoot(view({ ...issue, severity })).attachments[0].color,
  );
  t.deepEqual(colors, [COLORS.HIGH, COLORS.LOW, COLORS.INFO, COLORS.DEBUG]);
  t.deepEqual(new Set(colors).size, 4);
  const resolved = renderRoot(
    view({ ...issue, status: 'resolved' }, { status: 'resolved', resolvedAt: '2024-11-22T04:12:07.123Z' }),
  );
  t.is(resolved.attachments[0].color, COLORS.resolved);
  t.true(strings(resolved).join('\n').includes('*RESOLVED* after 14m'));
  t.true(resolved.text.startsWith('RESOLVED: Pod is crash looping.'));
});

test('slack render: the root shows fields, firing count, verdicts, labels, links and the lost-state note', (t) => {
  const issue = baseIssue();
  const root = renderRoot(
    view(issue, {
      firingCount: 3,
      verdicts: ['CrashLoopBackOff: exit code 1, 5 restarts'],
      continuesEarlier: true,
    }),
  );
  const text = strings(root.attachments).join('\n');
  t.true(text.includes('*FIRING*'));
  t.true(text.includes('fired 3 times'));
  t.true(text.includes('*Cluster*\nprod-eu-1'));
  t.true(text.includes('*Namespace*\nshop'));
  t.true(text.includes('*Pod*\ncheckout-7d9f8b6c5-x2x9q'));
  t.true(text.includes('*Container*\napi'));
  t.true(text.includes('*Started*\n2024-11-22 03:58 UTC'));
  t.true(text.includes('• CrashLoopBackOff: exit code 1, 5 restarts'));
  t.true(text.includes('`alertname=KubePodCrashLooping`'));
  t.true(text.includes('|Runbook>'));
  t.true(text.includes('|Silence>'));
  t.true(text.includes('Continues an earlier thread'));
  t.is(renderRoot(view(issue)).attachments[0].blocks.length < root.attachments[0].blocks.length, true);
  t.is(messageError(root as unknown as Record<string, unknown>), undefined);
});

test('slack render: huge labels, description and title stay within Slack limits and overflow into files', (t) => {
  const issue = baseIssue();
  const labels: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) labels[`label_${String(i).padStart(4, '0')}`] = `"value" <${i}> & more`;
  issue.labels = labels;
  issue.description = `${'Lorem "ipsum" <dolor> & sit amet. '.repeat(30_000)}THE END`;
  issue.title = `${'<very long title> '.repeat(54)}TAIL`;
  issue.links = Array.from({ length: 40 }, (_, i) => ({
    type: 'other' as const,
    title: `link ${i}`,
    url: `https://grafana.example/d/abc?var=${'x'.repeat(300)}&n=${i}`,
  }));
  const root = renderRoot(
    view(issue, { verdicts: Array.from({ length: 200 }, (_, i) => `verdict ${i} `.repeat(50)) }),
  );
  t.is(messageError(root as unknown as Record<string, unknown>), undefined);
  t.true(JSON.stringify(root.attachments[0].blocks).length <= 13_000);
  const byName = new Map(root.overflowFiles.map((f) => [f.filename, f.content]));
  t.is(byName.get('description.txt'), issue.description);
  t.is(byName.get('title.txt'), issue.title);
  t.true(byName.get('labels.txt')?.includes('label_4999="value" <4999> & more'));
  t.true(byName.get('links.txt')?.includes('&n=39'));
  const text = strings(root).join('\n');
  t.true(text.includes('… truncated, full text in description.txt'));
  t.true(text.includes('full list in labels.txt'));
});

test('slack render: a 100-column table, a 1 MB text and 60 enrichments stay within limits and overflow into files', (t) => {
  const issue = baseIssue();
  const headers = Array.from({ length: 100 }, (_, c) => `column_${c}`);
  const rows = Array.from({ length: 2000 }, (_, r) => headers.map((_, c) => `r${r}c${c}<&>`));
  const big = `${'log line with "quotes" and <tags> & ampersands\n'.repeat(22_000)}LAST LINE`;
  issue.enrichments = [
    {
      source: 'enrich-pod',
      title: 'Container api',
      verdict: 'OOMKilled: limit 256Mi reached 3 times',
      blocks: [
        { type: 'table', title: 'Resources', headers, rows },
        { type: 'markdown', text: big },
        { type: 'json', title: 'Pod status', data: { rows: rows.slice(0, 200) } },
        { type: 'list', title: 'Events', items: Array.from({ length: 3000 }, (_, i) => `BackOff ${i}`) },
        { type: 'header', text: 'h'.repeat(400) },
      ],
    },
    ...Array.from({ length: 60 }, (_, i) => ({
      source: `enricher-${i}`,
      title: `Enricher ${i}`,
      verdict: `verdict ${i}`,
      blocks: [{ type: 'markdown' as const, text: `finding ${i}` }, { type: 'divider' as const }],
    })),
  ];
  const details = renderDetails(issue);
  t.is(messageError({ text: details.text, blocks: details.blocks }), undefined);
  t.true(details.blocks.length <= 50);
  const files = new Map(details.overflowFiles.map((f) => [f.filename, f.content]));
  const table = files.get('1-enrich-pod-table.txt');
  t.truthy(table);
  t.true(table?.includes('column_99'));
  t.true(table?.includes('r1999c99<&>'));
  t.is(files.get('1-enrich-pod.txt'), big);
  t.true(files.get('1-enrich-pod.json')?.includes('"r199c99<&>"'));
  t.true(files.get('1-enrich-pod-list.txt')?.endsWith('BackOff 2999'));
  const all = files.get('details.txt');
  t.true(all?.includes('finding 59'));
  const text = strings(details.blocks).join('\n');
  t.true(text.includes('… truncated, full text in 1-enrich-pod-table.txt'));
  t.true(text.includes('… truncated, full text in details.txt'));
  t.regex(text, /\(\+\d+ more rows, \+\d+ more columns\)/);
  t.true(all?.includes('h'.repeat(400)));
  // A header too long for a header block is shown whole as a bold section instead.
  const alone = renderDetails({
    ...issue,
    enrichments: [{ source: 'x', blocks: [{ type: 'header', text: 'h'.repeat(400) }] }],
  });
  t.true(strings(alone.blocks).includes(`*${'h'.repeat(400)}*`));
});

test('slack render: details show each enrichment with its verdict, an aligned table, bullets, JSON and links', (t) => {
  const issue = baseIssue();
  issue.enrichments = [
    {
      source: 'enrich-pod',
      title: 'Pod checkout-7d9f8b6c5-x2x9q',
      verdict: 'OOMKilled: limit 256Mi reached 3 times',
      blocks: [
        {
          type: 'table',
          title: 'Containers',
          headers: ['container', 'state', 'restarts', 'last exit'],
          rows: [
            ['api', 'CrashLoopBackOff', '5', '137 OOMKilled'],
            ['istio-proxy', 'Running', '0', ''],
          ],
        },
        { type: 'list', items: ['Back-off restarting failed container api'] },
        { type: 'json', data: { limits: { memory: '256Mi' } } },
        { type: 'links', links: [{ type: 'graph', title: 'Memory', url: 'https://grafana.example/d/mem' }] },
      ],
    },
  ];
  const details = renderDetails(issue);
  const text = strings(details.blocks).join('\n');
  t.is(details.text, 'Details: OOMKilled: limit 256Mi reached 3 times');
  t.true(text.includes('*Verdict:* OOMKilled: limit 256Mi reached 3 times'));
  t.true(
    text.includes(
      [
        'container    state             restarts  last exit',
        '-----------  ----------------  --------  -------------',
        'api          CrashLoopBackOff  5         137 OOMKilled',
        'istio-proxy  Running           0',
      ].join('\n'),
    ),
  );
  t.true(text.includes('• Back-off restarting failed container api'));
  t.true(text.includes('"memory": "256Mi"'));
  t.true(text.includes('<https://grafana.example/d/mem|Memory>'));
  t.deepEqual(details.overflowFiles, []);
});

test('slack render: status replies say how long it fired, or that it fires again', (t) => {
  const issue = baseIssue();
  const resolved = renderStatusReply(
    view(issue, { status: 'resolved', resolvedAt: '2024-11-22T06:03:07.123Z' }),
    'resolved',
  );
  t.is(resolved.text, ':large_green_circle: Resolved after 2h5m at 2024-11-22 06:03 UTC');
  const refired = renderStatusReply(
    view(issue, { firingCount: 2, firingSince: '2024-11-22T07:00:00Z' }),
    'refired',
  );
  t.is(refired.text, ':large_orange_circle: Firing again (firing #2) since 2024-11-22 07:00 UTC');
});

test('slack render: blank titles still give blocks Slack accepts', (t) => {
  const issue = { ...baseIssue(), title: '  ' };
  issue.enrichments = [
    {
      source: 'enrich-node',
      title: '',
      blocks: [
        { type: 'header', text: '' },
        { type: 'markdown', text: '' },
      ],
    },
  ];
  const root = renderRoot(view(issue));
  t.is(messageError(root as unknown as Record<string, unknown>), undefined);
  const details = renderDetails(issue);
  t.is(messageError({ text: details.text, blocks: details.blocks }), undefined);
  t.true(strings(details.blocks).includes('enrich-node'));
});
