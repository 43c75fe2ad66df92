// enrich-node: node conditions, capacity, taints and kubelet facts for issues about a node, and a
// short section on the node of a pod issue that enrich-pod found unhealthy.

import { nodeSectionsFor } from '../../lib/stages/enrich/actions.ts';
import { createEnricherFunction } from '../../lib/stages/enrich/function.ts';
import { enrichNode } from '../../lib/stages/enrich/node.ts';

export function create(env: NodeJS.ProcessEnv = process.env) {
  return createEnricherFunction(
    {
      name: 'enrich-node',
      stage: 'enrichnode',
      enrich: (issue, kube, s) => {
        const sections = nodeSectionsFor(issue);
        return enrichNode(issue, kube, {
          timeBudgetMs: s.timeBudgetMs,
          eventLimit: s.eventLimit,
          podLimit: s.podLimit,
          ...(sections ? { sections } : {}),
        });
      },
    },
    env,
  );
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
