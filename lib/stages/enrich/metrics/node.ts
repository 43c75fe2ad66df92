// A node's memory and CPU use over the window (node-exporter), and, when the alert names a
// filesystem (NodeFilesystemSpaceFillingUp), how full it is and days until full. The node's
// exporter instance comes from the alert or from node_uname_info's nodename.
import type { Series } from '../../../adapters/prometheus/client.ts';
import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import type { MetricsParts } from '../../../domain/metrics.ts';
import { formatDuration } from '../../../platform/duration.ts';
import { type MetricsCtx, type PartResult, q, stepFor } from './part.ts';
import { fillClause } from './volume.ts';

export async function nodePart(ctx: MetricsCtx, n: NonNullable<MetricsParts['node']>): Promise<PartResult> {
  const { window, trend } = ctx.config.nodes;
  const end = ctx.now;
  const start = end - window;
  const label = n.name ?? n.instance ?? '';
  const instance = n.instance ?? (await instanceOf(ctx, n.name ?? '', end, window));
  if (!instance)
    throw new PrometheusError(
      'empty',
      `No node_uname_info series for node ${label} (node-exporter missing?): no node graph.`,
    );
  const sel = `instance=${q(instance)}`;
  const step = stepFor(window);
  const fs = n.mountpoint ? `${sel},mountpoint=${q(n.mountpoint)}` : undefined;
  const [memory, cpu, avail, size, slope] = await Promise.all([
    ctx.prom.queryRange(
      {
        query: `1 - node_memory_MemAvailable_bytes{${sel}} / node_memory_MemTotal_bytes{${sel}}`,
        start,
        end,
        stepSeconds: step,
      },
      ctx.signal,
    ),
    ctx.prom.queryRange(
      {
        query: `1 - avg(rate(node_cpu_seconds_total{${sel},mode="idle"}[5m]))`,
        start,
        end,
        stepSeconds: step,
      },
      ctx.signal,
    ),
    fs ? ctx.prom.query(`max(node_filesystem_avail_bytes{${fs}})`, end, ctx.signal) : [],
    fs ? ctx.prom.query(`max(node_filesystem_size_bytes{${fs}})`, end, ctx.signal) : [],
    fs ? ctx.prom.query(`max(deriv(node_filesystem_avail_bytes{${fs}}[${trend}s]))`, end, ctx.signal) : [],
  ]);
  const notes: string[] = [];
  if (memory.length === 0)
    notes.push(`No node_memory_MemAvailable_bytes series for ${instance}: no memory line.`);
  if (cpu.length === 0) notes.push(`No node_cpu_seconds_total series for ${instance}: no CPU line.`);
  const clauses: string[] = [];
  // A node that went down took its exporter with it: the memory gauge's last point is its last
  // scrape, and the numbers are that moment's (a rate runs on past it over a thinning window).
  const lastAt = (memory[0] ?? cpu[0])?.points.at(-1)?.[0] ?? end;
  const mem = valueAt(memory, lastAt);
  const used = valueAt(cpu, lastAt);
  if (mem !== undefined) clauses.push(`memory ${formatValue(mem, 'ratio')} used`);
  if (used !== undefined) clauses.push(`CPU ${formatValue(used, 'ratio')} busy`);
  if (clauses.length && end - lastAt > 2 * step)
    clauses[clauses.length - 1] += ` at its last scrape ${formatDuration((end - lastAt) * 1000)} ago`;
  const free = last(avail);
  const total = last(size);
  if (n.mountpoint && free !== undefined && total !== undefined)
    clauses.push(
      `${n.mountpoint} ${formatValue(1 - free / total, 'ratio')} full, ${fillClause(free, last(slope), trend)}`,
    );
  else if (n.mountpoint)
    notes.push(`No node_filesystem_avail_bytes series for ${n.mountpoint} on ${instance}.`);
  const series = [
    ...(memory[0] ? [{ name: 'memory used', points: memory[0].points }] : []),
    ...(cpu[0] ? [{ name: 'CPU busy', points: cpu[0].points }] : []),
  ];
  return {
    ...(clauses.length ? { verdict: `node ${label} ${clauses.join(', ')}` } : {}),
    notes,
    charts: series.length
      ? [
          {
            filename: `${label.replace(/[^A-Za-z0-9_.-]+/g, '-')}-node.png`,
            alt: `Memory and CPU of node ${label}${clauses.length ? `: ${clauses.join(', ')}` : ''}`,
            spec: { title: `Node ${label}: memory and CPU`, unit: 'ratio', start, end, series },
          },
        ]
      : [],
  };
}

/** The exporter's instance; looked up over the window, since a node that is down is silent now. */
async function instanceOf(
  ctx: MetricsCtx,
  node: string,
  at: number,
  window: number,
): Promise<string | undefined> {
  const info = await ctx.prom.query(
    `max by (instance) (max_over_time(node_uname_info{nodename=${q(node)}}[${window}s]))`,
    at,
    ctx.signal,
  );
  return info[0]?.labels.instance;
}

/** The first series' value at its last point no later than `t`. */
function valueAt(s: Series[], t: number): number | undefined {
  const v = s[0]?.points.filter(([at]) => at <= t).at(-1)?.[1];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

function last(s: Series[]): number | undefined {
  const v = s[0]?.points.at(-1)?.[1];
  return v === undefined || Number.isNaN(v) ? undefined : v;
}
