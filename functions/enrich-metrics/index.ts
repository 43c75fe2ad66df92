// enrich-metrics: graphs and numbers from the cluster's own Prometheus (memory around an OOM
// kill, the alert's own expression). The renderer loads on the first chart only.
import { createMetricsFunction } from '../../lib/stages/enrich/metrics/function.ts';

export const create = createMetricsFunction;

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
