// Adds a link to the service's Grafana dashboard, chosen by the alert's `service` label (or the
// pod's `app.kubernetes.io/name` label when the alert has none), with the namespace filled in.
import type { Issue, Workflow } from '../../../sdk/workflow';

const GRAFANA = 'https://grafana.example.com';

/** Dashboard UIDs by service; anything else gets the namespace overview. */
const DASHBOARDS: Record<string, { uid: string; title: string }> = {
  ledger: { uid: 'ledger-slo', title: 'Ledger SLOs' },
  checkout: { uid: 'checkout-red', title: 'Checkout RED metrics' },
  api: { uid: 'api-overview', title: 'API overview' },
};

function serviceOf(issue: Issue): string | undefined {
  return issue.labels.service ?? issue.labels['app.kubernetes.io/name'] ?? issue.labels.app;
}

const dashboardLink: Workflow = {
  name: 'dashboard-link',
  triggers: [{ on: 'alert', status: 'firing' }],
  run(issue) {
    const service = serviceOf(issue);
    const namespace = issue.subject.namespace ?? issue.labels.namespace ?? 'default';
    const board = service === undefined ? undefined : DASHBOARDS[service];
    const url = board
      ? `${GRAFANA}/d/${board.uid}?var-namespace=${encodeURIComponent(namespace)}`
      : `${GRAFANA}/d/namespace-overview?var-namespace=${encodeURIComponent(namespace)}`;
    return {
      title: 'Dashboard',
      blocks: [
        { type: 'links', links: [{ type: 'graph', title: board?.title ?? `Namespace ${namespace}`, url }] },
      ],
    };
  },
};

export default dashboardLink;
