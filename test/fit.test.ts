// Cutting issues and enrichments to the Issue's caps (lib/domain/fit.ts): what ingest emits passes the
// schema and size every later stage enforces, and what an enricher adds stays within its share.
import test from 'ava';
import fc from 'fast-check';
import { alertToIssue, parseWebhook } from '../lib/domain/alertmanager.ts';
import { DEFAULT_CONFIG } from '../lib/domain/config/load.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { ingestEventMessage } from '../lib/domain/events.ts';
import { CUT_FILE, fitEnrichment } from '../lib/domain/fit.ts';
import { type Enrichment, ISSUE_LIMITS, Issue } from '../lib/domain/issue.ts';
import { BadRequestError } from '../lib/platform/errors.ts';
import { MAX_ATTRIBUTE_HEADER_BYTES } from '../lib/platform/limits.ts';
import { hostileAlert, NUM_RUNS } from './support/arbitraries.ts';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('fitEnrichment: a log file too large for an event keeps its end and says it was cut', (t) => {
  const log = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(30)}`).join('\n');
  const enrichment: Enrichment = {
    source: 'enrich-pod',
    verdict: 'CrashLoopBackOff',
    blocks: [
      { type: 'markdown', text: 'status' },
      { type: 'file', filename: 'app.log', contentType: 'text/plain', content: log },
    ],
  };
  const fitted = fitEnrichment(enrichment);
  t.true(bytes(fitted) <= ISSUE_LIMITS.enrichmentBytes);
  const file = fitted.blocks[1];
  if (file?.type !== 'file') return t.fail('the file block is gone');
  t.true(file.truncated);
  t.true(file.content.endsWith('line 39999 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'), 'the last lines are kept');
  t.regex(file.content.slice(0, 100), /cut here: \d+ more characters did not fit/);
  t.is(
    enrichment.blocks[1]?.type === 'file' && enrichment.blocks[1].content,
    log,
    'the input is left as it was',
  );
  t.is(fitEnrichment(fitted), fitted, 'what fits comes back as is');
});

test('fitEnrichment: blocks past the share give way to a note when no file can absorb them', (t) => {
  const rows = Array.from({ length: 5000 }, (_, i) => [`pod-${i}`, 'y'.repeat(60)]);
  const fitted = fitEnrichment({
    source: 'enrich-node',
    blocks: [
      { type: 'table', headers: ['pod', 'why'], rows: rows.slice(0, 2000) },
      { type: 'table', headers: ['pod', 'why'], rows: rows.slice(2000) },
      { type: 'table', headers: ['pod', 'why'], rows },
    ],
  });
  t.true(bytes(fitted) <= ISSUE_LIMITS.enrichmentBytes);
  t.regex(JSON.stringify(fitted.blocks.at(-1)), /more block\(s\) left out/);
});

test('ingest: the widest subject and fingerprint an alert can give still fit the broker header limit', (t) => {
  const body = parseWebhook({
    alerts: [
      {
        status: 'firing',
        labels: {
          alertname: 'X',
          namespace: '名'.repeat(100),
          pod: '😀'.repeat(300),
          node: '節'.repeat(300),
        },
        startsAt: '2026-03-01T10:00:00Z',
        fingerprint: '指'.repeat(200),
      },
    ],
  });
  const issue = alertToIssue(body.alerts[0] as never, body);
  const { headers } = ingestEventMessage(
    issue,
    'alerts[0]',
    `/kubeincident/${'c'.repeat(60)}/alert-ingest`,
    TRACEPARENT,
  );
  let total = 0;
  for (const [k, v] of Object.entries(headers)) if (k.startsWith('ce-')) total += k.length + 4 + v.length;
  t.true(total <= MAX_ATTRIBUTE_HEADER_BYTES, `${total} bytes of ce-* headers`);
});

test('ingest: any alert, planned with the defaults and fitted, is an Issue every stage accepts, or a 400', (t) => {
  const huge = fc.oneof(
    hostileAlert,
    hostileAlert.map((a) => ({
      ...a,
      annotations: { ...a.annotations, description: 'd'.repeat(30_000), notes: 'n'.repeat(600_000) },
      labels: { ...a.labels, ['k'.repeat(300)]: 'long name', team: 'é'.repeat(5000) },
    })),
  );
  let cut = 0;
  fc.assert(
    fc.property(fc.array(huge, { minLength: 1, maxLength: 3 }), (alerts) => {
      const webhook = parseWebhook({ alerts });
      for (const [i, a] of webhook.alerts.entries()) {
        const planned = planIssue(alertToIssue(a, webhook), DEFAULT_CONFIG).issue;
        if (!planned) continue;
        let msg: ReturnType<typeof ingestEventMessage>;
        try {
          msg = ingestEventMessage(planned, `alerts[${i}]`, '/src', TRACEPARENT);
        } catch (err) {
          if (err instanceof BadRequestError) continue;
          throw err;
        }
        if (msg.body.length > ISSUE_LIMITS.ingestBytes) throw new Error(`${msg.body.length} bytes`);
        const sent = JSON.parse(msg.body.toString());
        const check = Issue.safeParse(sent);
        if (!check.success) throw new Error(check.error.message.slice(0, 500));
        if (
          sent.enrichments.some((e: Enrichment) =>
            e.blocks.some((b) => b.type === 'file' && b.filename === CUT_FILE),
          )
        )
          cut++;
      }
    }),
    { numRuns: NUM_RUNS / 4 },
  );
  t.true(cut > 0, 'the oversized alerts were cut, with their full values attached');
});
