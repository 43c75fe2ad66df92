// The label matchers added to every selector by parsing PromQL, and the prometheus: config
// section's validation. Pure: no Prometheus needed.
import test from 'ava';
import { PrometheusError } from '../lib/adapters/prometheus/errors.ts';
import { injectMatchers } from '../lib/adapters/prometheus/matchers.ts';
import { ConfigFileError } from '../lib/domain/config/load.ts';
import { parseConfig } from '../lib/domain/config/parse.ts';
import { legendNames } from '../lib/stages/enrich/metrics/alert-graph.ts';

const M = ['cluster="prod-eu"'];

test('matchers: every selector gets them, with or without braces, inside functions, aggregations and binary operations', (t) => {
  t.is(injectMatchers('up', M), 'up{cluster="prod-eu"}');
  t.is(injectMatchers('up{}', M), 'up{cluster="prod-eu"}');
  t.is(injectMatchers('up{job="api"}', M), 'up{cluster="prod-eu",job="api"}');
  t.is(
    injectMatchers(
      'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m])) / on(pod) kube_pod_info',
      M,
    ),
    'sum by (pod) (rate(container_cpu_usage_seconds_total{cluster="prod-eu",namespace="shop"}[5m])) / on(pod) kube_pod_info{cluster="prod-eu"}',
  );
  t.is(injectMatchers('{__name__="up"}', M), '{cluster="prod-eu",__name__="up"}');
  t.is(
    injectMatchers('max_over_time(x[1h:5m]) offset 1h', M),
    'max_over_time(x{cluster="prod-eu"}[1h:5m]) offset 1h',
  );
  t.is(injectMatchers('up @ 1700000000', ['a="1"', 'b=~"x|y"']), 'up{a="1",b=~"x|y"} @ 1700000000');
});

test('matchers: string literals and label names that look like selectors are left alone', (t) => {
  t.is(
    injectMatchers('label_replace(up, "dst", "up{x}", "src", "(.*)")', M),
    'label_replace(up{cluster="prod-eu"}, "dst", "up{x}", "src", "(.*)")',
  );
  t.is(injectMatchers('vector(1)', M), 'vector(1)');
  t.is(injectMatchers('sum by (up) (foo)', M), 'sum by (up) (foo{cluster="prod-eu"})');
});

test('matchers: none configured leaves the expression as written; a broken one is a query error', (t) => {
  t.is(injectMatchers('rate(x[5m]', []), 'rate(x[5m]');
  const err = t.throws(() => injectMatchers('rate(x[5m]', M));
  t.true(err instanceof PrometheusError && err.kind === 'query', String(err));
});

test('alert graph legend: only the labels that tell the series apart, cut to a readable length', (t) => {
  const names = legendNames([
    { labels: { job: 'api', instance: '10.0.0.1:8080', cluster: 'a' }, points: [] },
    { labels: { job: 'api', instance: '10.0.0.2:8080', cluster: 'a' }, points: [] },
  ]);
  t.deepEqual(names, ['instance=10.0.0.1:8080', 'instance=10.0.0.2:8080']);
  const long = legendNames([{ labels: { path: 'x'.repeat(100) }, points: [] }]);
  t.is(long[0]?.length, 60);
});

test('config: the prometheus section validates durations, matchers and header names with clear errors', (t) => {
  const ok = parseConfig(
    'prometheus:\n  url: http://prometheus:9090\n  timeout: 1m30s\n  memory: { before: 6h }\n',
    {},
  );
  t.is(ok.prometheus.enabled, true, 'a URL turns the stage on');
  t.is(ok.prometheus.timeout, 90);
  t.is(ok.prometheus.memory.before, 6 * 3600);
  t.is(parseConfig('prometheus: { enabled: true }\n', {}).prometheus.url, undefined);
  t.is(parseConfig('routes: []\n', {}).prometheus.enabled, false, 'no URL, no stage');
  const bad = (yaml: string, message: RegExp) => {
    const err = t.throws(() => parseConfig(yaml, {}));
    t.true(err instanceof ConfigFileError, String(err));
    t.regex(String(err?.message), message);
  };
  bad('prometheus: { timeout: 5 }\n', /prometheus\.timeout/);
  bad('prometheus: { timeout: 10x }\n', /expected a duration such as 15m/);
  bad('prometheus: { matchers: [cluster=prod] }\n', /expected a matcher like cluster="prod-eu"/);
  bad('prometheus: { headers: { "X Scope": a } }\n', /expected an HTTP header name/);
  bad('prometheus: { url: not-a-url }\n', /prometheus\.url/);
});
