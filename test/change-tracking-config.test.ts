// The `changeTracking:` section: off by default, rules that match by kind, namespace and the
// workload's labels, documented errors, and the change issue routed only to its rule's destination.
import test from 'ava';
import { changeRuleFor } from '../lib/domain/config/change-rules.ts';
import { ConfigFileError, DEFAULT_CONFIG } from '../lib/domain/config/load.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { routeIssue } from '../lib/domain/config/route.ts';
import { Config, type DestinationConfig } from '../lib/domain/config/schema.ts';
import { makeIssue } from './support/issue-factory.ts';

const fallback: DestinationConfig = { name: 'default', type: 'terminal' };
const CONFIG = `
destinations:
  - { name: deploys, type: terminal }
  - { name: oncall, type: terminal }
routes:
  - { match: { namespace: shop }, destinations: [oncall] }
changeTracking:
  rules:
    - name: shop-frontends
      kinds: Deployment
      namespace: [shop, { regex: "shop-.*" }]
      matchers: ['tier=~"web|api"', 'team!="legacy"']
      destination: deploys
      window: 45m
    - name: everything-else
      destination: oncall
`;

test('change tracking: off by default, and the written-out defaults say so', (t) => {
  t.deepEqual(Config.parse({}).changeTracking, { rules: [] });
  t.deepEqual(DEFAULT_CONFIG.changeTracking, { rules: [] });
  t.is(changeRuleFor(DEFAULT_CONFIG.changeTracking, { kind: 'Deployment', namespace: 'shop' }), undefined);
});

test('change tracking: the first rule matching kind, namespace and labels wins; window defaults to 30m', (t) => {
  const ct = parseConfig(CONFIG, {}).changeTracking;
  t.is(ct.rules[0]?.window, 45 * 60);
  t.is(ct.rules[1]?.window, 30 * 60);
  const rule = (kind: string, namespace: string, labels: Record<string, string>) =>
    changeRuleFor(ct, { kind, namespace, labels })?.name;
  t.is(rule('Deployment', 'shop', { tier: 'api' }), 'shop-frontends');
  t.is(rule('Deployment', 'shop-eu', { tier: 'web' }), 'shop-frontends');
  t.is(rule('Deployment', 'shop', { tier: 'api', team: 'legacy' }), 'everything-else');
  t.is(rule('Deployment', 'shopping', { tier: 'api' }), 'everything-else');
  t.is(rule('StatefulSet', 'shop', { tier: 'api' }), 'everything-else');
  t.is(rule('DaemonSet', 'kube-system', {}), 'everything-else');
  // Only workload kinds are tracked, whatever the rules say.
  t.is(rule('Job', 'shop', { tier: 'api' }), undefined);
});

test('change tracking: unknown destinations, duplicate names, bad kinds, windows and regexes are named', (t) => {
  const text = `
changeTracking:
  rules:
    - { name: a, destination: nowhere }
    - { name: a, destination: default, kinds: [CronJob] }
    - { name: b, destination: default, window: 30 }
    - { name: c, destination: default, namespace: { regex: "(" }, matchers: ['x=~"("'] }
`;
  const err = t.throws(() => parseConfig(text, {}), { instanceOf: ConfigFileError });
  t.regex(err.message, /changeTracking\.rules\[1\]\.kinds\[0\]/);
  t.regex(err.message, /changeTracking\.rules\[2\]\.window/);
  const cross = t.throws(
    () =>
      parseConfig(
        `changeTracking:
  rules:
    - { name: a, destination: nowhere }
    - { name: a, destination: default, namespace: { regex: "(" }, matchers: ['x=~"("'] }
`,
        {},
      ),
    { instanceOf: ConfigFileError },
  );
  t.regex(cross.message, /changeTracking\.rules\[0\]\.destination: unknown destination "nowhere"/);
  t.regex(cross.message, /changeTracking\.rules\[1\]\.name: duplicate rule "a"/);
  t.regex(cross.message, /changeTracking\.rules\[1\]\.namespace: invalid regex/);
  t.regex(cross.message, /changeTracking\.rules\[1\]\.matchers: invalid regex/);
});

test('change tracking: a change issue goes only to its rule destination, never through routes', (t) => {
  const config = parseConfig(CONFIG, {});
  const change = makeIssue({
    type: 'change',
    source: 'kubernetes',
    subject: { kind: 'Deployment', name: 'api', namespace: 'shop' },
    labels: { namespace: 'shop', changedestination: 'deploys' },
  });
  t.deepEqual(
    routeIssue(change, config, fallback).map((r) => r.destination.name),
    ['deploys'],
  );
  // The same labels on an incident change nothing: routes decide.
  const incident = { ...change, type: 'event' as const };
  t.deepEqual(
    routeIssue(incident, config, fallback).map((r) => r.destination.name),
    ['oncall'],
  );
  // A destination removed from the configuration since: the change goes nowhere.
  t.deepEqual(routeIssue({ ...change, labels: { changedestination: 'gone' } }, config, fallback), []);
});
