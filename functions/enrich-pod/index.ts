// enrich-pod: pod status, restarts and exit reasons, resources, owner, events and the
// (previous) container's logs for issues about a pod.

import { enrichPod } from '../../lib/enrich/pod.ts';
import { createEnricherFunction } from '../../lib/enricher-function.ts';

export function create(env: NodeJS.ProcessEnv = process.env) {
  return createEnricherFunction(
    {
      name: 'enrich-pod',
      stage: 'enrichpod',
      enrich: (issue, kube, s) =>
        enrichPod(issue, kube, {
          logTailLines: s.logTailLines,
          logLimitBytes: s.logLimitBytes,
          timeBudgetMs: s.timeBudgetMs,
        }),
    },
    env,
  );
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
