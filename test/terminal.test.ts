import { Writable } from 'node:stream';
import test from 'ava';
import { TerminalDestination } from '../lib/adapters/terminal.ts';
import type { RootView } from '../lib/domain/destination.ts';
import { Issue } from '../lib/domain/issue.ts';

/** A stream that keeps what was written, optionally claiming to be a TTY. */
function capture(isTTY = false): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return Object.assign(stream, { isTTY, text: () => chunks.join('') });
}

// A Kubernetes Warning Event turned into an issue, after enrich-pod ran.
const issue = Issue.parse({
  id: 'a1b2c3',
  fingerprint: 'k8s-event-shop-checkout-7d9f8b6c5-x2x9q-BackOff',
  type: 'event',
  source: 'kubernetes',
  title: 'BackOff: Back-off restarting failed container api in pod checkout-7d9f8b6c5-x2x9q',
  description:
    'Back-off restarting failed container api in pod checkout-7d9f8b6c5-x2x9q_shop(0d3c1a56)\x1b[2J',
  severity: 'LOW',
  status: 'firing',
  cluster: 'prod-eu-1',
  subject: {
    kind: 'Pod',
    name: 'checkout-7d9f8b6c5-x2x9q',
    namespace: 'shop',
    node: 'ip-10-0-3-17',
    container: 'api',
  },
  labels: { reason: 'BackOff', type: 'Warning' },
  annotations: {},
  links: [{ type: 'other', title: 'Dashboard', url: 'https://grafana.example/d/pods?var-pod=checkout' }],
  startsAt: '2024-11-22T03:58:07Z',
  enrichments: [
    {
      source: 'enrich-pod',
      title: 'Container api',
      verdict: 'OOMKilled: limit 256Mi reached 3 times',
      blocks: [
        {
          type: 'table',
          headers: ['container', 'state', 'restarts'],
          rows: [
            ['api', 'CrashLoopBackOff', '5'],
            ['istio-proxy', 'Running', '0'],
          ],
        },
        {
          type: 'file',
          filename: 'api-previous.log',
          content: Array.from(
            { length: 400 },
            (_, i) => `2024-11-22T03:57:${String(i % 60).padStart(2, '0')}Z line ${i}`,
          ).join('\n'),
        },
      ],
    },
  ],
  plan: [],
});

const firing: RootView = {
  issue,
  status: 'firing',
  firingSince: issue.startsAt,
  firingCount: 1,
  verdicts: ['OOMKilled: limit 256Mi reached 3 times'],
};

test('terminal: a thread is printed as a root box, indented details with an aligned table, and a capped file', async (t) => {
  const out = capture();
  const dest = new TerminalDestination({ stream: out, fileChars: 500 });
  t.is(dest.id, 'terminal');
  const ref = await dest.postRoot(firing);
  await dest.postDetails(ref, issue);
  await dest.uploadFiles(ref, issue);
  const text = out.text();
  t.regex(ref.ts, /^\d{10}\.\d{6}$/);
  t.false(text.includes('\x1b'), 'no ANSI codes and no escape sequences from the workload on a non-TTY');
  t.true(text.includes('│ FIRING · LOW'));
  t.true(text.includes('│ BackOff: Back-off restarting failed container api'));
  t.true(
    text.includes(
      'cluster prod-eu-1 · namespace shop · Pod checkout-7d9f8b6c5-x2x9q · node ip-10-0-3-17 · container api',
    ),
  );
  t.true(text.includes('│ • OOMKilled: limit 256Mi reached 3 times'));
  t.true(text.includes('│ Dashboard: https://grafana.example/d/pods?var-pod=checkout'));
  t.true(text.includes(`posted terminal ts=${ref.ts}`));
  t.true(text.includes(`↳ reply in thread ${ref.ts}`));
  t.true(text.includes('    ┆ container    state             restarts\n'));
  t.true(text.includes('    ┆ api          CrashLoopBackOff  5\n'));
  t.true(text.includes('    ┆ istio-proxy  Running           0\n'));
  t.true(text.includes('📎 api-previous.log'));
  t.true(text.includes('line 0\n'));
  t.false(text.includes('line 399'));
  t.regex(text, /… showing \d+ of \d+ bytes/);
});

test('terminal: a resolution reprints the root in green on a TTY and replies in the thread', async (t) => {
  const out = capture(true);
  const dest = new TerminalDestination({ stream: out });
  const ref = await dest.postRoot(firing);
  const resolved: RootView = {
    ...firing,
    issue: { ...issue, status: 'resolved' },
    status: 'resolved',
    resolvedAt: '2024-11-22T04:12:07Z',
  };
  await dest.updateRoot(ref, resolved);
  await dest.postStatusReply(ref, resolved, 'resolved');
  const second = await dest.postRoot(firing);
  const text = out.text();
  t.true(text.includes('\x1b[33m'), 'firing LOW is yellow');
  t.true(text.includes('\x1b[32m\x1b[1mRESOLVED after 14m'));
  t.true(text.includes(`updated terminal ts=${ref.ts}`));
  t.true(text.includes('\x1b[32mResolved after 14m'));
  t.false(text.includes('\x1b[2J'), 'escape sequences from the workload are stripped');
  t.not(second.ts, ref.ts);
});

test('terminal: details lay tables out as in Slack: aligned columns, a column too wide below its row, no cell cut', async (t) => {
  const out = capture();
  const dest = new TerminalDestination({ stream: out });
  const message =
    'Back-off restarting failed container api in pod checkout-7d9f8b6c5-x2x9q_shop(0d3c1a56-8e1f-4d0c-9a51-2b7e4f0c9d11)';
  const rows = Array.from({ length: 120 }, (_, i) => [`pod-${i}`, 'Running', '0']);
  await dest.postDetails(
    { channel: 'terminal', ts: '1.000001' },
    {
      ...issue,
      enrichments: [
        {
          source: 'enrich-pod',
          title: 'Pod shop/checkout-7d9f8b6c5-x2x9q',
          blocks: [
            {
              type: 'table',
              title: 'Recent events',
              headers: ['Type', 'Reason', 'Last seen', 'Count', 'Message'],
              rows: [['Warning', 'BackOff', '1m ago', '23', message]],
            },
            { type: 'table', title: 'Pods', headers: ['Pod', 'Phase', 'Restarts'], rows },
          ],
        },
      ],
    },
  );
  const text = out.text();
  t.true(
    text.includes(
      [
        '    ┆ Type     Reason   Last seen  Count',
        '    ┆ -------  -------  ---------  -----',
        '    ┆ Warning  BackOff  1m ago     23',
        `    ┆   Message: ${message}`,
      ].join('\n'),
    ),
    text,
  );
  t.false(text.includes('…'), 'no cell cut');
  // As many rows as Slack's table block holds, the rest counted.
  t.true(text.includes('    ┆ pod-98   Running  0\n'));
  t.false(text.includes('pod-99 '));
  t.true(text.includes('    ┆ (+21 more rows)'));
});
