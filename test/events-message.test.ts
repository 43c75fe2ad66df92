// issueEventMessage() writes the binary-mode message of a new Issue's CloudEvent directly; it must
// equal what the cloudevents SDK gives for issueEvent() (HTTP.binary), for any alert.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { HTTP } from 'cloudevents';
import fc from 'fast-check';
import { alertToIssue, parseWebhook } from '../lib/alertmanager.ts';
import { issueEvent, issueEventMessage } from '../lib/events.ts';
import { hostileAlert, hostileText, NUM_RUNS } from './support/arbitraries.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function both(payload: unknown, source: string) {
  const webhook = parseWebhook(payload);
  return webhook.alerts.map((a) => {
    const issue = alertToIssue(a, webhook, { cluster: 'prod' });
    const sdk = HTTP.binary(issueEvent(issue, source, TRACEPARENT));
    const direct = issueEventMessage(issue, source, TRACEPARENT);
    // The event time is "now" in both; it is the only attribute allowed to differ.
    const headers = (h: Record<string, unknown>) => {
      const { 'ce-time': time, ...rest } = h;
      return { time: typeof time === 'string' && !Number.isNaN(Date.parse(time)), rest };
    };
    return {
      sdk: { headers: headers(sdk.headers as Record<string, unknown>), body: sdk.body },
      direct: { headers: headers(direct.headers), body: direct.body },
    };
  });
}

test('issueEventMessage equals HTTP.binary(issueEvent()) for the kube-prometheus fixture', (t) => {
  const payload = JSON.parse(
    readFileSync(new URL('./fixtures/alertmanager/crashlooping-firing.json', import.meta.url), 'utf8'),
  );
  for (const { sdk, direct } of both(payload, '/kubeincident/prod/alert-ingest')) {
    t.deepEqual(direct, sdk);
    t.true(direct.headers.time);
  }
});

test('issueEventMessage equals HTTP.binary(issueEvent()) for hostile alerts', (t) => {
  fc.assert(
    fc.property(
      fc.record({
        externalURL: fc.oneof(fc.webUrl(), hostileText),
        alerts: fc.array(hostileAlert, { maxLength: 3 }),
      }),
      (payload) => {
        for (const { sdk, direct } of both(payload, '/kubeincident/alert-ingest')) t.deepEqual(direct, sdk);
      },
    ),
    { numRuns: NUM_RUNS },
  );
});
