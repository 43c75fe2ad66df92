// Knative Trigger filter semantics, as a table: each row is one rule from the Knative docs.
import test from 'ava';
import { CloudEvent } from 'cloudevents';
import {
  type EventAttributes,
  eventAttributes,
  InvalidFilterError,
  type SubscriptionsApiFilter,
  type TriggerFilterSpec,
  triggerFilterAccepts,
  validateFilters,
} from '../scripts/broker/filter.ts';

const event: EventAttributes = {
  specversion: '1.0',
  id: 'a1',
  source: '/kubeincident/alert-ingest',
  type: 'dev.kubeincident.issue.created.v1',
  nextstage: 'enrichpod',
  severity: 'high',
  subjectkind: '',
};

const rows: [string, TriggerFilterSpec, boolean][] = [
  ['no filter at all matches everything', {}, true],
  ['attributes: exact equality matches', { filter: { attributes: { nextstage: 'enrichpod' } } }, true],
  ['attributes: comparison is case-sensitive', { filter: { attributes: { nextstage: 'EnrichPod' } } }, false],
  [
    'attributes: all keys are ANDed',
    { filter: { attributes: { nextstage: 'enrichpod', severity: 'low' } } },
    false,
  ],
  [
    'attributes: "" matches a present, non-empty attribute',
    { filter: { attributes: { severity: '' } } },
    true,
  ],
  [
    'attributes: "" does not match an empty attribute',
    { filter: { attributes: { subjectkind: '' } } },
    false,
  ],
  [
    'attributes: "" does not match a missing extension',
    { filter: { attributes: { partitionkey: '' } } },
    false,
  ],
  ['attributes: a missing extension never matches', { filter: { attributes: { partitionkey: 'x' } } }, false],
  [
    'exact matches the whole value',
    { filters: [{ exact: { type: 'dev.kubeincident.issue.created.v1' } }] },
    true,
  ],
  ['exact does not match a part', { filters: [{ exact: { type: 'dev.kubeincident' } }] }, false],
  ['exact on a missing extension never matches', { filters: [{ exact: { partitionkey: 'x' } }] }, false],
  ['prefix', { filters: [{ prefix: { type: 'dev.kubeincident.' } }] }, true],
  ['prefix on a missing attribute', { filters: [{ prefix: { subject: '' } }] }, false],
  ['suffix', { filters: [{ suffix: { type: '.v1' } }] }, true],
  ['suffix mismatch', { filters: [{ suffix: { type: '.v2' } }] }, false],
  [
    'filters[] items are ANDed',
    { filters: [{ prefix: { type: 'dev.kubeincident.' } }, { exact: { nextstage: 'dispatch' } }] },
    false,
  ],
  [
    'all: every nested filter must match',
    { filters: [{ all: [{ exact: { nextstage: 'enrichpod' } }, { exact: { severity: 'high' } }] }] },
    true,
  ],
  [
    'any: one nested filter is enough',
    { filters: [{ any: [{ exact: { nextstage: 'dispatch' } }, { exact: { severity: 'high' } }] }] },
    true,
  ],
  [
    'any: none matching fails',
    { filters: [{ any: [{ exact: { nextstage: 'dispatch' } }, { exact: { severity: 'low' } }] }] },
    false,
  ],
  ['not inverts', { filters: [{ not: { exact: { nextstage: 'dispatch' } } }] }, true],
  ['not of a match fails', { filters: [{ not: { exact: { nextstage: 'enrichpod' } } }] }, false],
  [
    'filters wins over filter when both are set',
    { filter: { attributes: { nextstage: 'dispatch' } }, filters: [{ exact: { nextstage: 'enrichpod' } }] },
    true,
  ],
  [
    'filters wins over filter: a filters mismatch is not rescued by a matching filter',
    { filter: { attributes: { nextstage: 'enrichpod' } }, filters: [{ exact: { nextstage: 'dispatch' } }] },
    false,
  ],
  [
    'an empty filters list falls back to filter',
    { filter: { attributes: { nextstage: 'dispatch' } }, filters: [] },
    false,
  ],
];

for (const [name, spec, expected] of rows) {
  test(`filter: ${name}`, (t) => {
    if (spec.filters) validateFilters(spec.filters);
    t.is(triggerFilterAccepts(spec, event), expected);
  });
}

const invalid: [string, SubscriptionsApiFilter[], RegExp][] = [
  [
    'two dialects in one item',
    [{ exact: { type: 'a' }, prefix: { source: 'b' } }],
    /filters\[0\]: multiple dialects found \(exact, prefix\)/,
  ],
  [
    'two dialects nested inside all',
    [{ all: [{ exact: { type: 'a' } }, { suffix: { type: 'x' }, not: { exact: { id: '1' } } }] }],
    /filters\[0\]\.all\[1\]: multiple dialects/,
  ],
  ['exact with two keys', [{ exact: { type: 'a', source: 'b' } }], /exact: multiple items found/],
  ['cesql', [{ cesql: "type = 'x'" }], /cesql: CESQL filters are not supported by the local broker/],
  ['cesql nested in not', [{ not: { cesql: "type = 'x'" } }], /filters\[0\]\.not\.cesql/],
];

for (const [name, filters, message] of invalid) {
  test(`filter: ${name} is rejected at validation`, (t) => {
    const err = t.throws(() => validateFilters(filters), { instanceOf: InvalidFilterError });
    t.regex(err?.message ?? '', message);
  });
}

test('filter: event attributes are the context attributes and extensions as strings, never data', (t) => {
  const ce = new CloudEvent({
    id: 'x1',
    source: '/s',
    type: 't',
    time: '2025-01-01T00:00:00.000Z',
    data: { secret: 'no' },
    nextstage: 'dispatch',
    knativebrokerttl: 7,
  });
  const attrs = eventAttributes(ce);
  t.like(attrs, {
    id: 'x1',
    source: '/s',
    type: 't',
    nextstage: 'dispatch',
    knativebrokerttl: '7',
    specversion: '1.0',
  });
  t.false('data' in attrs);
  t.true(triggerFilterAccepts({ filters: [{ exact: { knativebrokerttl: '7' } }] }, attrs));
});
