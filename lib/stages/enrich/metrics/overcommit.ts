// KubeCPUOvercommit and KubeMemoryOvercommit: the pods' requests against the nodes' allocatable,
// in total and by namespace (the largest first), so the message says who asks for what.

import { PrometheusError } from '../../../adapters/prometheus/errors.ts';
import { formatValue } from '../../../adapters/prometheus/format.ts';
import { type MetricsCtx, type PartResult, stepFor } from './part.ts';

export async function overcommitPart(ctx: MetricsCtx, resource: 'cpu' | 'memory'): Promise<PartResult> {
  const { window, topNamespaces } = ctx.config.overcommit;
  const end = ctx.now;
  const start = end - window;
  const unit = resource === 'cpu' ? 'cores' : 'bytes';
  const requests = `kube_pod_container_resource_requests{resource="${resource}"}`;
  const [byNamespace, total, allocatable] = await Promise.all([
    ctx.prom.queryRange(
      { query: `sum by (namespace) (${requests})`, start, end, stepSeconds: stepFor(window) },
      ctx.signal,
    ),
    ctx.prom.queryRange({ query: `sum(${requests})`, start, end, stepSeconds: stepFor(window) }, ctx.signal),
    ctx.prom.query(`sum(kube_node_status_allocatable{resource="${resource}"})`, end, ctx.signal),
  ]);
  const cap = allocatable[0]?.points.at(-1)?.[1];
  const asked = total[0]?.points.at(-1)?.[1];
  if (asked === undefined)
    throw new PrometheusError(
      'empty',
      'No kube_pod_container_resource_requests series (kube-state-metrics missing?): no overcommit graph.',
    );
  const now = (s: (typeof byNamespace)[number]) => s.points.at(-1)?.[1] ?? 0;
  const top = [...byNamespace].sort((a, b) => now(b) - now(a)).slice(0, topNamespaces);
  const fmt = (v: number) => formatValue(v, unit);
  const what = resource === 'cpu' ? 'CPU' : 'memory';
  const share = cap ? ` (${formatValue(asked / cap, 'ratio')})` : '';
  const most = top.slice(0, 3).map((s) => `${s.labels.namespace ?? '?'} ${fmt(now(s))}`);
  const verdict = `${what} requests ${fmt(asked)} of ${cap === undefined ? 'unknown' : fmt(cap)} allocatable${share}; most: ${most.join(', ')}`;
  return {
    verdict,
    notes: cap === undefined ? ['No kube_node_status_allocatable series: no allocatable line.'] : [],
    charts: [
      {
        filename: `${resource}-overcommit.png`,
        alt: verdict,
        spec: {
          title: `${what} requests by namespace against allocatable`,
          unit,
          start,
          end,
          series: [
            { name: 'all namespaces', points: total[0]?.points ?? [] },
            ...top.map((s) => ({ name: s.labels.namespace ?? '?', points: s.points })),
          ],
          lines: cap === undefined ? [] : [{ name: 'allocatable', value: cap, color: '#c0392b' }],
        },
      },
    ],
  };
}
