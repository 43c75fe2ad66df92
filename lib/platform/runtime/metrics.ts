// A small Prometheus text-format registry: counters, gauges and histograms with labels.
// prom-client would add ~40 ms and several MB to every cold start for the same few series.

type Labels = Record<string, string>;

const escapeValue = (v: string) =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;

// Runs several times per request (the runtime's counters and histogram): unlabelled series and
// values with nothing to escape take the short way.
function labelKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  return `{${keys.map((k) => `${k}="${escapeValue(String(labels[k]))}"`).join(',')}}`;
}

interface Series {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Counter implements Series {
  readonly type = 'counter';
  readonly name: string;
  readonly help: string;
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k} ${v}`);
  }
}

export class Gauge implements Series {
  readonly type = 'gauge';
  readonly name: string;
  readonly help: string;
  private readonly values = new Map<string, number | (() => number)>();
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  set(value: number | (() => number), labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    const cur = this.values.get(k);
    this.values.set(k, (typeof cur === 'function' ? cur() : (cur ?? 0)) + by);
  }
  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }
  render(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k} ${typeof v === 'function' ? v() : v}`);
  }
}

export class Histogram implements Series {
  readonly type = 'histogram';
  readonly name: string;
  readonly help: string;
  private readonly buckets: number[];
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    name: string,
    help: string,
    buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
  }
  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += value;
    s.count += 1;
  }
  render(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: String(b) })} ${s.counts[i]}`);
      });
      out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${labelKey(s.labels)} ${s.sum}`);
      out.push(`${this.name}_count${labelKey(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly all = new Map<string, Series>();
  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
  private register<T extends Series>(s: T): T {
    const existing = this.all.get(s.name);
    if (existing) return existing as T;
    this.all.set(s.name, s);
    return s;
  }
  render(): string {
    const lines: string[] = [];
    for (const s of this.all.values()) {
      lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`, ...s.render());
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The process's registry: the runtime's request metrics and the functions' own counters. */
export const defaultRegistry = new Registry();
