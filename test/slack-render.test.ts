import test from 'ava';
import { renderDetails } from '../lib/adapters/slack/render-details.ts';
import { COLORS, renderRoot, renderStatusReply } from '../lib/adapters/slack/render-root.ts';
import { MAX_FILENAME, Overflow, slackLink, truncateEscaped } from '../lib/adapters/slack/text.ts';
import type { RootView } from '../lib/domain/destination.ts';
import type { Issue } from '../lib/domain/issue.ts';
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
  const all = strings([root, details.text, details.attachments, reply]);
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

test('slack render: a cut list or JSON block keeps its long title and marker within one section; a long table goes on in a second one', (t) => {
  // A 200-character title whose every character escapes to four: its line takes room the body
  // must give up (fast-check found a list one character over Slack's 3000).
  const title = '<'.repeat(200);
  const issue = baseIssue();
  issue.enrichments = [
    {
      source: 'enrich-pod',
      blocks: [
        { type: 'list', title, items: Array.from({ length: 40 }, () => '{'.repeat(90)) },
        {
          type: 'table',
          title,
          headers: ['a'],
          rows: Array.from({ length: 40 }, (_, i) => [`${i}${'{'.repeat(88)}`]),
        },
        { type: 'json', title, data: { x: '{'.repeat(4000) } },
      ],
    },
  ];
  const { overflowFiles, ...message } = renderDetails(issue);
  t.is(messageError(message), undefined);
  const sections = message.attachments[0].blocks.filter((b) => b.type === 'section') as Array<{
    text: { text: string };
  }>;
  t.is(sections.length, 4);
  for (const s of sections) t.true(s.text.text.length <= 3000, `${s.text.text.length}`);
  const [list, table, more, json] = sections.map((s) => s.text.text);
  for (const cut of [list, json]) {
    t.true(cut?.startsWith(`*${'&lt;'.repeat(40)}`), 'the title line comes first');
    t.regex(cut ?? '', /truncated, full text in /);
  }
  // The table is 40 short rows: no cell cut, no file, its rows go on in a second code block.
  t.true(table?.startsWith(`*${'&lt;'.repeat(40)}`));
  t.true(table?.includes(`0${'{'.repeat(88)}\n`));
  t.true(more?.startsWith('```'));
  t.true(more?.includes(`39${'{'.repeat(88)}\n\`\`\``));
  t.deepEqual(
    overflowFiles.map((f) => f.filename),
    ['enrich-pod list.txt', 'enrich-pod data.json'],
  );
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
  const blocks = details.attachments[0].blocks;
  t.is(messageError({ text: details.text, attachments: details.attachments }), undefined);
  t.true(blocks.length <= 50);
  const files = new Map(details.overflowFiles.map((f) => [f.filename, f.content]));
  // Each file is named after what its enrichment is about and what it holds.
  const table = files.get('Container api resources.txt');
  t.truthy(table);
  t.true(table?.includes('column_99'));
  t.true(table?.includes('r1999c99<&>'));
  t.is(files.get('Container api notes.txt'), big);
  t.true(files.get('Container api pod status.json')?.includes('"r199c99<&>"'));
  t.true(files.get('Container api events.txt')?.endsWith('BackOff 2999'));
  const all = files.get('checkout-7d9f8b6c5-x2x9q details.txt');
  t.true(all?.includes('finding 59'));
  const text = strings(blocks).join('\n');
  t.regex(text, /… \d+ more rows: the whole table is in Container api resources\.txt/);
  t.true(text.includes('… truncated, full text in checkout-7d9f8b6c5-x2x9q details.txt'));
  t.true(all?.includes('h'.repeat(400)));
  // A header too long for a header block is shown whole as a bold section instead.
  const alone = renderDetails({
    ...issue,
    enrichments: [{ source: 'x', blocks: [{ type: 'header', text: 'h'.repeat(400) }] }],
  });
  t.true(strings(alone.attachments).includes(`*${'h'.repeat(400)}*`));
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
  const text = strings(details.attachments).join('\n');
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
  t.is(messageError({ text: details.text, attachments: details.attachments }), undefined);
  t.true(strings(details.attachments).includes('enrich-node'));
});

/** A crash-looping pod on a node, as enrich-pod and enrich-node describe them (fixture values). */
function crashLoopDetails(): Issue {
  const issue = baseIssue();
  issue.enrichments = [
    {
      source: 'enrich-pod',
      title: 'Pod payments/api-7d9f8b6c5d-x2x4q',
      about: 'api-7d9f8b6c5d-x2x4q',
      verdict: 'CrashLoopBackOff: container app exited 1 (application error) 5 times, last 2m ago',
      blocks: [
        {
          type: 'table',
          title: 'Probe failures',
          headers: ['Container', 'Probe', 'Failures', 'Last seen', 'Last message'],
          rows: [
            [
              'app',
              'Readiness',
              '11',
              '2m ago',
              'Get "http://10.244.1.37:8080/healthz": dial tcp 10.244.1.37:8080: connect: connection refused',
            ],
          ],
        },
        {
          type: 'table',
          title: 'Pod',
          headers: ['Field', 'Value'],
          rows: [
            ['Phase', 'Running'],
            ['Owner', 'ReplicaSet api-7d9f8b6c5d (Deployment api)'],
          ],
        },
        {
          type: 'table',
          title: 'Containers',
          headers: ['Container', 'Ready', 'Restarts', 'State', 'Reason', 'Exit code', 'Last termination'],
          rows: [
            [
              'app',
              'no',
              '5',
              'Waiting',
              'CrashLoopBackOff',
              '1 (application error)',
              'Error 2026-03-10T11:57:58Z (2m ago)',
            ],
          ],
        },
        {
          type: 'table',
          title: 'Recent events',
          headers: ['Type', 'Reason', 'Last seen', 'Count', 'From', 'Message'],
          rows: [
            [
              'Warning',
              'BackOff',
              '1m ago',
              '23',
              'kubelet',
              'Back-off restarting failed container app in pod api-7d9f8b6c5d-x2x4q_payments(3f6c2a8e-9b1d-4c57-a0e2-7d5b9f14c6a3)',
            ],
            [
              'Normal',
              'Pulled',
              '2m ago',
              '6',
              'kubelet',
              'Container image "registry.example.com/payments/api:1.14.2" already present on machine',
            ],
          ],
        },
      ],
    },
    {
      source: 'enrich-node',
      title: 'Node worker-1 (where it runs)',
      about: 'worker-1',
      verdict: 'Healthy: node worker-1 is Ready with no pressure conditions; 3 OOM kills on the node',
      blocks: [
        {
          type: 'table',
          title: 'Conditions',
          headers: ['Condition', 'Status', 'Reason', 'Message', 'Last transition'],
          rows: [
            ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', '57d ago'],
            [
              'MemoryPressure',
              'False',
              'KubeletHasSufficientMemory',
              'kubelet has sufficient memory available',
              '57d ago',
            ],
          ],
        },
      ],
    },
  ];
  return issue;
}

type AnyBlock = {
  type: string;
  rows?: Array<Array<{ type: string; text: string }>>;
  text?: { text: string };
};
const blocksOf = (d: ReturnType<typeof renderDetails>) => d.attachments[0].blocks as AnyBlock[];
const tablesOf = (d: ReturnType<typeof renderDetails>) => blocksOf(d).filter((b) => b.type === 'table');
const sectionTexts = (d: ReturnType<typeof renderDetails>) =>
  blocksOf(d).flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));

test('slack render: a diagnosis reads in the reply: one native table, the other tables aligned whole, no file attached', (t) => {
  const issue = crashLoopDetails();
  const details = renderDetails(issue);
  t.is(messageError({ text: details.text, attachments: details.attachments }), undefined);
  t.deepEqual(details.overflowFiles, [], 'nothing cut, so nothing attached');
  // The first table too wide for a text line is Slack's one table block, cells whole.
  const tables = tablesOf(details);
  t.is(tables.length, 1);
  t.deepEqual(
    tables[0]?.rows?.map((r) => r.map((c) => c.text)),
    [
      ['Container', 'Probe', 'Failures', 'Last seen', 'Last message'],
      [
        'app',
        'Readiness',
        '11',
        '2m ago',
        issue.enrichments[0]?.blocks[0]?.type === 'table'
          ? (issue.enrichments[0].blocks[0].rows[0]?.[4] ?? '')
          : '',
      ],
    ],
  );
  t.deepEqual((tables[0] as { column_settings?: unknown }).column_settings, [
    null,
    null,
    { align: 'right' },
    null,
    { is_wrapped: true },
  ]);
  const texts = sectionTexts(details);
  t.true(texts.includes('*Probe failures*'), 'the native table keeps its title above it');
  // The others are aligned text; a column too wide for the line goes below its row, whole.
  const containers = texts.find((s) => s.startsWith('*Containers*'));
  t.is(
    containers,
    [
      '*Containers*',
      '```',
      'Container  Ready  Restarts  State    Reason            Exit code',
      '---------  -----  --------  -------  ----------------  ---------------------',
      'app        no     5         Waiting  CrashLoopBackOff  1 (application error)',
      '  Last termination: Error 2026-03-10T11:57:58Z (2m ago)',
      '```',
    ].join('\n'),
  );
  const events = texts.find((s) => s.startsWith('*Recent events*')) ?? '';
  t.true(
    events.includes(
      '  Message: Back-off restarting failed container app in pod api-7d9f8b6c5d-x2x4q_payments(3f6c2a8e-9b1d-4c57-a0e2-7d5b9f14c6a3)\n',
    ),
  );
  t.true(events.includes('Warning  BackOff  1m ago     23     kubelet\n'));
  const conditions = texts.find((s) => s.startsWith('*Conditions*')) ?? '';
  t.true(
    conditions.includes(
      'MemoryPressure  False   KubeletHasSufficientMemory  57d ago\n  Message: kubelet has sufficient memory available',
    ),
  );
  t.true(
    texts.includes(
      '*Pod*\n```\nField  Value\n-----  ------------------------------------------\nPhase  Running\nOwner  ReplicaSet api-7d9f8b6c5d (Deployment api)\n```',
    ),
  );
  t.false(texts.join('\n').includes('…'), 'no cell cut');
});

test('slack render: table cells are raw_text, shown as typed: no escape, no control character, a blank cell a dash', (t) => {
  const issue = baseIssue();
  const wide = `${INJ} ${'x'.repeat(80)}`;
  issue.enrichments = [
    {
      source: 'enrich-pod',
      about: 'api-0',
      blocks: [
        {
          type: 'table',
          title: `Events ${INJ}`,
          headers: ['Reason', 'Count', 'Message'],
          rows: [
            [`Back<Off>\u0007\r\n&amp;`, '', wide],
            ['```', '3', `line\none\ttwo`],
          ],
        },
      ],
    },
  ];
  const details = renderDetails(issue);
  t.is(messageError({ text: details.text, attachments: details.attachments }), undefined);
  const [table] = tablesOf(details);
  t.deepEqual(
    table?.rows?.map((r) => r.map((c) => [c.type, c.text])),
    [
      [
        ['raw_text', 'Reason'],
        ['raw_text', 'Count'],
        ['raw_text', 'Message'],
      ],
      [
        ['raw_text', 'Back<Off> &amp;'],
        ['raw_text', '–'],
        ['raw_text', wide],
      ],
      [
        ['raw_text', '```'],
        ['raw_text', '3'],
        ['raw_text', 'line one two'],
      ],
    ],
  );
  // The title is mrkdwn, so it is escaped like every other text.
  t.true(
    sectionTexts(details).includes(
      '*Events &lt;!channel&gt; &amp; &lt;!here&gt; &amp; &lt;@U123&gt; &amp; &lt;https://evil.example|click&gt;*',
    ),
  );
});

test('slack render: a second wide table is text, and a table of hundreds of rows shows what fits and attaches the whole, named for it', (t) => {
  const issue = baseIssue();
  const rows = Array.from({ length: 300 }, (_, i) => [
    `pod-${i}`,
    'CrashLoopBackOff',
    `message ${i} `.repeat(8),
  ]);
  issue.enrichments = [
    {
      source: 'enrich-pod',
      about: 'indexer',
      blocks: [
        { type: 'table', title: 'Pods not ready (300 of 300)', headers: ['Pod', 'Problem', 'Detail'], rows },
        { type: 'table', title: 'Recent events', headers: ['Pod', 'Problem', 'Detail'], rows },
      ],
    },
  ];
  const details = renderDetails(issue);
  t.is(messageError({ text: details.text, attachments: details.attachments }), undefined);
  const [native, ...others] = tablesOf(details);
  t.is(others.length, 0, 'one table block');
  const shown = (native?.rows?.length ?? 0) - 1;
  t.true(shown > 5 && shown < 99, `${shown} rows`);
  const markers = blocksOf(details)
    .filter((b) => b.type === 'context')
    .map((b) => JSON.stringify(b));
  t.true(
    markers[0]?.includes(`… ${300 - shown} more rows: the whole table is in indexer pods not ready.txt`),
  );
  t.regex(markers[1] ?? '', /… \d+ more rows: the whole table is in indexer recent events\.txt/);
  const files = new Map(details.overflowFiles.map((f) => [f.filename, f]));
  t.deepEqual([...files.keys()], ['indexer pods not ready.txt', 'indexer recent events.txt']);
  t.is(files.get('indexer pods not ready.txt')?.title, 'indexer: Pods not ready (300 of 300)');
  t.true(
    files
      .get('indexer recent events.txt')
      ?.content.includes(`pod-299  CrashLoopBackOff  ${'message 299 '.repeat(8).trim()}`),
  );
});

test('overflow files: a name taken twice is numbered within the name length limit', (t) => {
  const overflow = new Overflow();
  const long = `${'indexer -amp'.repeat(20)}.txt`;
  const first = overflow.add(long, 'a');
  const second = overflow.add(long, 'b');
  t.true(first.length <= MAX_FILENAME);
  t.true(second.length <= MAX_FILENAME, second);
  t.regex(second, / \(2\)\.txt$/);
  t.not(first, second);
});
