// Property tests for the Alertmanager webhook parser and mapping: any input, however hostile,
// is either a valid payload or a BadRequestError, and every mapped Issue passes the Issue schema.
import test from 'ava';
import fc from 'fast-check';
import { alertToIssue, parseWebhook } from '../lib/domain/alertmanager.ts';
import { Issue } from '../lib/domain/issue.ts';
import { BadRequestError } from '../lib/platform/errors.ts';
import {
  hostileAlert as alert,
  hostileLabels,
  hostileText,
  NUM_RUNS,
  thrown,
} from './support/arbitraries.ts';

const payload = fc.record(
  {
    version: fc.constant('4'),
    groupKey: hostileText,
    truncatedAlerts: fc.nat(),
    status: fc.constantFrom('firing', 'resolved'),
    receiver: hostileText,
    groupLabels: hostileLabels,
    commonLabels: hostileLabels,
    commonAnnotations: hostileLabels,
    externalURL: fc.oneof(fc.webUrl(), hostileText, fc.constant('')),
    alerts: fc.array(alert, { maxLength: 4 }),
  },
  { requiredKeys: ['alerts'] },
);

test('parseWebhook: any JSON value either parses or is refused with a BadRequestError', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.anything(), payload), (body) => {
      const err = thrown(() => parseWebhook(body));
      return err === undefined || err instanceof BadRequestError;
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('parseWebhook: a valid payload with one field broken is refused with a BadRequestError, never a crash', (t) => {
  const breakOne = fc.record({
    body: payload,
    field: fc.constantFrom('alerts', 'version', 'truncatedAlerts', 'commonLabels'),
    value: fc.oneof(fc.anything(), fc.constant(null), fc.constant('5')),
  });
  fc.assert(
    fc.property(breakOne, ({ body, field, value }) => {
      const broken = { ...body, [field]: value };
      const err = thrown(() => parseWebhook(broken));
      return err === undefined || err instanceof BadRequestError;
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

test('alertToIssue: every alert of a well-formed payload with hostile strings maps to an Issue the schema accepts', (t) => {
  const opts = fc.record(
    {
      cluster: hostileText.map((c) => c.slice(0, 63).toWellFormed()),
      alertmanagerUrl: fc.oneof(fc.webUrl(), hostileText),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(payload, opts, (body, options) => {
      const parsed = parseWebhook(body);
      for (const a of parsed.alerts) {
        const issue = alertToIssue(a, parsed, options);
        const check = Issue.safeParse(issue);
        if (!check.success) throw new Error(`invalid Issue: ${check.error.message}`);
        // The same alert always keys the same thread.
        if (alertToIssue(a, parsed, options).fingerprint !== issue.fingerprint) return false;
      }
      return true;
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass();
});

// A lone surrogate is valid JSON ("\ud800") but not encodable in a URL: the mapping must not
// throw (a 500 would make Alertmanager retry a payload that can never succeed).
test('alertToIssue: a lone surrogate in a label value still maps to an Issue (silence link)', (t) => {
  const body = parseWebhook(
    JSON.parse(
      '{"externalURL":"http://am.example:9093","alerts":[{"status":"firing","labels":{"alertname":"X","pod":"a\\ud800"},"startsAt":"2026-03-01T10:00:00Z"}]}',
    ),
  );
  const [a] = body.alerts;
  if (!a) throw new Error('no alert');
  t.true(Issue.safeParse(alertToIssue(a, body)).success);
});

// Label values longer than the Issue's caps, an over-long fingerprint and a silence link past
// 4000 characters are cut or shortened at the boundary, never left to fail validation later.
test('alertToIssue: over-long cluster and pod labels, fingerprints and silence links are cut to the Issue caps', (t) => {
  const body = parseWebhook({
    externalURL: 'http://alertmanager.monitoring.svc:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'X', cluster: 'c'.repeat(300), pod: 'p'.repeat(300), image: 'i'.repeat(4000) },
        startsAt: '2026-03-01T10:00:00Z',
        fingerprint: 'f'.repeat(300),
      },
    ],
  });
  const [a] = body.alerts;
  if (!a) throw new Error('no alert');
  t.true(Issue.safeParse(alertToIssue(a, body)).success);
});
