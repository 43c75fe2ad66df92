// enrich-pod: why a pod — or the unhealthy pods of a workload — is failing: a one-line verdict,
// then status, exit codes, resources, events and the (previous) container's redacted logs.
// Sends the issue on to enrich-node when the pod's node is unhealthy.

import { nextStagesAfterPod } from '../../lib/domain/routing.ts';
import { podOptionsFor } from '../../lib/stages/enrich/actions.ts';
import { createEnricherFunction } from '../../lib/stages/enrich/function.ts';
import { enrichPod } from '../../lib/stages/enrich/pod.ts';

export function create(env: NodeJS.ProcessEnv = process.env) {
  return createEnricherFunction(
    {
      name: 'enrich-pod',
      stage: 'enrichpod',
      enrich: (issue, kube, s) => {
        // Per-issue choices from the configuration (Issue.actions) refine the function's settings.
        const planned = podOptionsFor(issue, {
          logTailLines: s.logTailLines,
          logLimitBytes: s.logLimitBytes,
          timeBudgetMs: s.timeBudgetMs,
          eventLimit: s.eventLimit,
          podLimit: s.podLimit,
          rolloutWindowMs: s.rolloutWindowMs,
          redactPatterns: s.redactPatterns,
        });
        return enrichPod(planned.issue, kube, planned.opts);
      },
      nextStages: (issue, result) => nextStagesAfterPod(issue, result),
    },
    env,
  );
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
