// A KubePodCrashLooping webhook as Alertmanager posts it from kube-prometheus, mapped to an
// Issue; tests override what they care about.
import {
  type AlertmanagerAlert,
  type AlertmanagerWebhook,
  alertToIssue,
} from '../../lib/domain/alertmanager.ts';
import type { Issue } from '../../lib/domain/issue.ts';

export function crashLoopWebhook(alert: Partial<AlertmanagerAlert> = {}): AlertmanagerWebhook {
  return {
    version: '4',
    groupKey: '{}:{alertname="KubePodCrashLooping"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'kube-incident-agent',
    groupLabels: { alertname: 'KubePodCrashLooping' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.monitoring.svc:9093',
    alerts: [
      {
        status: 'firing',
        labels: {
          alertname: 'KubePodCrashLooping',
          container: 'api',
          endpoint: 'http',
          job: 'kube-state-metrics',
          namespace: 'shop',
          pod: 'checkout-7d9f8b6c5-x2x9q',
          severity: 'warning',
          uid: '0d3c1a56-7d1e-4a1f-9a2b-2f0f3c4b5d6e',
        },
        annotations: {
          description:
            'Pod shop/checkout-7d9f8b6c5-x2x9q (api) is in waiting state (reason: "CrashLoopBackOff").',
          runbook_url: 'https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping',
          summary: 'Pod is crash looping.',
        },
        startsAt: '2024-11-22T03:58:07.123Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL:
          'http://prometheus.monitoring.svc:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29+%3E%3D+1',
        fingerprint: '4f8a1c2b3d4e5f60',
        ...alert,
      },
    ],
  };
}

export function crashLoopIssue(alert: Partial<AlertmanagerAlert> = {}): Issue {
  const payload = crashLoopWebhook(alert);
  const first = payload.alerts[0];
  if (!first) throw new Error('fixture has no alert');
  return alertToIssue(first, payload, { cluster: 'prod-eu-1' });
}
