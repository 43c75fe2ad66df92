// The agent's functions: one Knative Service, one bundle and one process each.
export const FUNCTIONS = [
  'alert-ingest',
  'k8s-event-ingest',
  'enrich-pod',
  'enrich-node',
  'enrich-metrics',
  'run-workflows',
  'dispatch-slack',
  'dispatch-webhook',
  'dispatch-pagerduty',
  'dispatch-teams',
  'dispatch-jira',
] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/**
 * The incident destination functions and the destination type each serves: `npm start` runs one
 * only when the config file names a destination of its type (scripts/start.ts).
 */
export const DESTINATION_FUNCTIONS: Partial<Record<FunctionName, string>> = {
  'dispatch-webhook': 'webhook',
  'dispatch-pagerduty': 'pagerduty',
  'dispatch-teams': 'teams',
  'dispatch-jira': 'jira',
};
