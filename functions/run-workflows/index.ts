// run-workflows: the operator's TypeScript workflows (a ConfigMap of `.ts` files), each run in a
// QuickJS sandbox with time, memory and size limits, after the enrichers and before dispatch.
import { createWorkflowsFunction } from '../../lib/stages/workflows/function.ts';

export function create(env: NodeJS.ProcessEnv = process.env) {
  return createWorkflowsFunction(env);
}

const fn = create();
export const init = fn.init;
export const handle = fn.handle;
export const shutdown = fn.shutdown;
