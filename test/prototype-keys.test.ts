// Tables looked up by untrusted text (Event reasons, severity labels, alert names) answer only
// for their own entries: a key like "constructor" or "valueOf" is unknown, not a function.
// fast-check found the first one (an Event with reason "valueOf" made an invalid Issue).
import test from 'ava';
import { DEFAULT_CONFIG } from '../lib/domain/config/defaults.ts';
import { planIssue } from '../lib/domain/config/plan.ts';
import { Issue, severityFromLabel } from '../lib/domain/issue.ts';
import { kubeEventToIssue, parseKubeEvent, severityForReason } from '../lib/domain/kube-events.ts';
import { makeIssue } from './support/issue-factory.ts';

const KEYS = ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__', '__defineGetter__'];

test('an Event reason named like an Object.prototype member is an ordinary unknown reason', (t) => {
  for (const reason of KEYS) {
    t.is(severityForReason(reason), 'LOW', reason);
    const event = parseKubeEvent({ kind: 'Event', metadata: { name: 'e' }, reason, type: 'Warning' });
    const issue = kubeEventToIssue(event, { now: new Date('2026-03-01T10:00:00Z') });
    t.true(Issue.safeParse(issue).success, reason);
  }
});

test('a severity label named like an Object.prototype member is unknown (INFO)', (t) => {
  for (const label of [...KEYS, ...KEYS.map((k) => k.toLowerCase())])
    t.is(severityFromLabel(label), 'INFO', label);
});

test('an alert named like an Object.prototype member gets no built-in explanation', (t) => {
  for (const alertname of KEYS) {
    const planned = planIssue(makeIssue({ labels: { alertname } }), DEFAULT_CONFIG).issue;
    t.deepEqual(
      planned?.enrichments.filter((e) => e.source === 'explanation'),
      [],
      alertname,
    );
    t.true(Issue.safeParse(planned).success, alertname);
  }
});
