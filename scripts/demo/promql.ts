// The PromQL the demo's Prometheus stand-in evaluates: the subset enrich-metrics' built-in parts
// and graph actions send (selectors, sum/max/min/avg/count by, rate, increase, deriv,
// *_over_time, arithmetic and comparisons), with Prometheus' semantics over recorded samples.
// A query outside the subset throws Unsupported; the server then answers an empty result.

/** One recorded series; a `null` value is a staleness marker (the target stopped answering). */
export interface StoredSeries {
  labels: Record<string, string>;
  samples: Array<[number, number | null]>;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}
type Value = { kind: 'scalar'; value: number } | { kind: 'vector'; samples: Sample[] };

export class Unsupported extends Error {}

const LOOKBACK = 300;
const TOKEN =
  /\s*(?:(\d+(?:\.\d+)?(?:[smhd])(?:\d+[smhd])*)(?![\w.])|(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|("(?:[^"\\]|\\.)*")|([a-zA-Z_:][\w:]*)|(==|!=|>=|<=|=~|!~|[-+*/(){}[\],=<>]))/y;
const AGGREGATIONS = new Set(['sum', 'max', 'min', 'avg', 'count']);
const RANGE_FUNCTIONS = new Set([
  'rate',
  'increase',
  'deriv',
  'max_over_time',
  'min_over_time',
  'avg_over_time',
]);
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A parsed query. */
export type Expr = Node;
type Node =
  | { t: 'num'; value: number }
  | { t: 'sel'; matchers: Matcher[] }
  | { t: 'range'; fn: string; sel: Matcher[]; seconds: number }
  | { t: 'agg'; op: string; by: string[]; arg: Node }
  | { t: 'bin'; op: string; lhs: Node; rhs: Node };
interface Matcher {
  name: string;
  op: string;
  value: string;
}

function tokenize(query: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < query.length) {
    if (/^\s*$/.test(query.slice(TOKEN.lastIndex))) break;
    const m = TOKEN.exec(query);
    if (!m) throw new Unsupported(`cannot read ${query.slice(TOKEN.lastIndex, TOKEN.lastIndex + 20)}`);
    out.push((m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]) as string);
  }
  return out;
}

/** Parses the subset; anything else is Unsupported. */
export function parse(query: string): Node {
  const tokens = tokenize(query);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++] ?? '';
  const expect = (tok: string) => {
    if (next() !== tok) throw new Unsupported(`expected ${tok}`);
  };
  const binary = (ops: string[], operand: () => Node) => (): Node => {
    let lhs = operand();
    while (ops.includes(peek() ?? '')) lhs = { t: 'bin', op: next(), lhs, rhs: operand() };
    return lhs;
  };
  /** `by (a, b)`, when the next token is `by`. */
  const byLabels = (): string[] | undefined => {
    if (peek() !== 'by') return undefined;
    next();
    return labels();
  };
  const labels = (): string[] => {
    expect('(');
    const names: string[] = [];
    while (peek() !== ')') {
      names.push(next());
      if (peek() === ',') next();
    }
    expect(')');
    return names;
  };
  const matchers = (name: string | undefined): Matcher[] => {
    const ms: Matcher[] = name ? [{ name: '__name__', op: '=', value: name }] : [];
    if (peek() !== '{') return ms;
    next();
    while (peek() !== '}') {
      const label = next();
      const op = next();
      const value = JSON.parse(next()) as string;
      ms.push({ name: label, op, value });
      if (peek() === ',') next();
    }
    expect('}');
    return ms;
  };
  const unary = (): Node => {
    const tok = next();
    if (tok === '(') {
      const inner = expr();
      expect(')');
      return inner;
    }
    if (/^\d/.test(tok)) return { t: 'num', value: Number(tok) };
    if (tok === '{') {
      i--;
      return { t: 'sel', matchers: matchers(undefined) };
    }
    if (AGGREGATIONS.has(tok)) {
      const before = byLabels();
      expect('(');
      const arg = expr();
      expect(')');
      return { t: 'agg', op: tok, by: before ?? byLabels() ?? [], arg };
    }
    if (RANGE_FUNCTIONS.has(tok)) {
      expect('(');
      const sel = matchers(next());
      expect('[');
      const seconds = [...next().matchAll(/(\d+)([smhd])/g)].reduce(
        (s, [, n, u]) => s + Number(n) * (UNITS[u as string] ?? 0),
        0,
      );
      expect(']');
      expect(')');
      return { t: 'range', fn: tok, sel, seconds };
    }
    if (/^[a-zA-Z_:]/.test(tok) && peek() !== '(') return { t: 'sel', matchers: matchers(tok) };
    throw new Unsupported(`${tok} is outside the demo's PromQL`);
  };
  const product = binary(['*', '/'], unary);
  const sum = binary(['+', '-'], product);
  const expr = binary(['==', '!=', '>', '<', '>=', '<='], sum);
  const tree = expr();
  if (i !== tokens.length) throw new Unsupported(`unexpected ${peek()}`);
  return tree;
}

function matches(labels: Record<string, string>, ms: Matcher[]): boolean {
  return ms.every(({ name, op, value }) => {
    const v = labels[name] ?? '';
    if (op === '=') return v === value;
    if (op === '!=') return v !== value;
    const re = new RegExp(`^(?:${value})$`);
    return op === '=~' ? re.test(v) : !re.test(v);
  });
}

function withoutName(labels: Record<string, string>): Record<string, string> {
  const { __name__: _, ...rest } = labels;
  return rest;
}

/** The index of the first sample at or after `from` (after it, when `strict`); samples are in time order. */
function firstAt(s: StoredSeries, from: number, strict = false): number {
  let lo = 0;
  let hi = s.samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = (s.samples[mid] as [number, number | null])[0];
    if (t < from || (strict && t === from)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The samples in [from, to], both ends included as in Prometheus 2 (Debian's, which the contract
 * test compares with); a range vector skips staleness markers, as Prometheus does.
 */
function window(s: StoredSeries, from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = firstAt(s, from); i < s.samples.length; i++) {
    const [t, v] = s.samples[i] as [number, number | null];
    if (t > to) break;
    if (v !== null) out.push([t, v]);
  }
  return out;
}

/** An instant selector's value: the latest sample in the lookback, unless a marker follows it. */
function latest(s: StoredSeries, t: number): number | undefined {
  const i = firstAt(s, t, true) - 1;
  const sample = s.samples[i];
  return sample && sample[0] >= t - LOOKBACK && sample[1] !== null ? sample[1] : undefined;
}

/** The series a selector can match: those of its metric name, looked up once per store. */
const byName = new WeakMap<StoredSeries[], Map<string, StoredSeries[]>>();
function candidates(store: StoredSeries[], ms: Matcher[]): StoredSeries[] {
  const name = ms.find((m) => m.name === '__name__' && m.op === '=')?.value;
  if (name === undefined) return store;
  let index = byName.get(store);
  if (!index) {
    index = new Map();
    for (const s of store) {
      const n = s.labels.__name__ ?? '';
      index.set(n, [...(index.get(n) ?? []), s]);
    }
    byName.set(store, index);
  }
  return index.get(name) ?? [];
}

/** Prometheus' extrapolated increase of a counter over the window (resets counted). */
function increase(points: Array<[number, number]>, from: number, to: number): number | undefined {
  if (points.length < 2) return undefined;
  let delta = 0;
  for (let k = 1; k < points.length; k++) {
    const [, prev] = points[k - 1] as [number, number];
    const [, cur] = points[k] as [number, number];
    delta += cur >= prev ? cur - prev : cur;
  }
  const first = (points[0] as [number, number])[0];
  const last = (points.at(-1) as [number, number])[0];
  const sampled = last - first;
  const avg = sampled / (points.length - 1);
  const edge = (gap: number) => (gap < avg * 1.1 ? gap : avg / 2);
  return (delta * (sampled + edge(first - from) + edge(to - last))) / sampled;
}

function slope(points: Array<[number, number]>): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p[0], 0) / n;
  const mv = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) ** 2;
  }
  return num / den;
}

function rangeFn(fn: string, points: Array<[number, number]>, from: number, to: number) {
  const values = points.map((p) => p[1]);
  if (values.length === 0) return undefined;
  switch (fn) {
    case 'rate': {
      const inc = increase(points, from, to);
      return inc === undefined ? undefined : inc / (to - from);
    }
    case 'increase':
      return increase(points, from, to);
    case 'deriv':
      return slope(points);
    case 'max_over_time':
      return Math.max(...values);
    case 'min_over_time':
      return Math.min(...values);
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

function aggregate(op: string, values: number[]): number {
  if (op === 'sum') return values.reduce((a, b) => a + b, 0);
  if (op === 'max') return Math.max(...values);
  if (op === 'min') return Math.min(...values);
  if (op === 'count') return values.length;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const ARITHMETIC: Partial<Record<string, (a: number, b: number) => number>> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};
const COMPARISON: Partial<Record<string, (a: number, b: number) => boolean>> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};

function binaryOp(op: string, l: Value, r: Value): Value {
  const arith = ARITHMETIC[op];
  const cmp = COMPARISON[op];
  const apply = (a: number, b: number) => (arith ? arith(a, b) : cmp?.(a, b) ? a : undefined);
  if (l.kind === 'scalar' && r.kind === 'scalar') {
    if (!arith) throw new Unsupported('a comparison of two scalars needs bool');
    return { kind: 'scalar', value: arith(l.value, r.value) };
  }
  // Arithmetic drops the metric name; a filtering comparison keeps the left-hand side's labels.
  const out = (labels: Record<string, string>, v: number | undefined): Sample[] =>
    v === undefined ? [] : [{ labels: arith ? withoutName(labels) : labels, value: v }];
  if (l.kind === 'vector' && r.kind === 'scalar')
    return { kind: 'vector', samples: l.samples.flatMap((s) => out(s.labels, apply(s.value, r.value))) };
  if (l.kind === 'scalar' && r.kind === 'vector')
    return { kind: 'vector', samples: r.samples.flatMap((s) => out(s.labels, apply(l.value, s.value))) };
  if (l.kind !== 'vector' || r.kind !== 'vector') throw new Unsupported('unreachable');
  // One-to-one matching on all labels but the metric name.
  const key = (s: Sample) => JSON.stringify(Object.entries(withoutName(s.labels)).sort());
  const right = new Map(r.samples.map((s) => [key(s), s.value]));
  return {
    kind: 'vector',
    samples: l.samples.flatMap((s) => {
      const rv = right.get(key(s));
      return rv === undefined ? [] : out(s.labels, apply(s.value, rv));
    }),
  };
}

/** The value of `node` at unix time `t` over the stored series. */
export function evaluate(node: Node, t: number, store: StoredSeries[]): Value {
  switch (node.t) {
    case 'num':
      return { kind: 'scalar', value: node.value };
    case 'sel':
      return {
        kind: 'vector',
        samples: candidates(store, node.matchers).flatMap((s) => {
          if (!matches(s.labels, node.matchers)) return [];
          const value = latest(s, t);
          return value === undefined ? [] : [{ labels: s.labels, value }];
        }),
      };
    case 'range':
      return {
        kind: 'vector',
        samples: candidates(store, node.sel).flatMap((s) => {
          if (!matches(s.labels, node.sel)) return [];
          const v = rangeFn(node.fn, window(s, t - node.seconds, t), t - node.seconds, t);
          return v === undefined ? [] : [{ labels: withoutName(s.labels), value: v }];
        }),
      };
    case 'agg': {
      const arg = evaluate(node.arg, t, store);
      if (arg.kind !== 'vector') throw new Unsupported('aggregation over a scalar');
      const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
      for (const s of arg.samples) {
        const labels = Object.fromEntries(
          node.by.flatMap((k) => (s.labels[k] === undefined ? [] : [[k, s.labels[k]]])),
        );
        const k = JSON.stringify(Object.entries(labels).sort());
        const g = groups.get(k) ?? { labels, values: [] };
        g.values.push(s.value);
        groups.set(k, g);
      }
      return {
        kind: 'vector',
        samples: [...groups.values()].map((g) => ({ labels: g.labels, value: aggregate(node.op, g.values) })),
      };
    }
    case 'bin':
      return binaryOp(node.op, evaluate(node.lhs, t, store), evaluate(node.rhs, t, store));
  }
}
