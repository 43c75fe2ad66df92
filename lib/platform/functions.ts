// The agent's functions: one Knative Service, one bundle and one process each.
export const FUNCTIONS = [
  'alert-ingest',
  'k8s-event-ingest',
  'enrich-pod',
  'enrich-node',
  'dispatch-slack',
  'run-workflows',
] as const;
export type FunctionName = (typeof FUNCTIONS)[number];
