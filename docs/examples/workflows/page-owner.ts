// Pages the team that owns the namespace: the team is named in the namespace's
// `kubeincident.dev/owner-team` annotation and mapped here to its Slack user group. Critical
// alerts are raised to HIGH; an alert in a namespace nobody owns says so instead of paging.
import type { Workflow } from '../../../sdk/workflow';

/** Slack user groups by team (each must also be listed in codeWorkflows.mentionIds). */
const ONCALL_GROUPS: Record<string, string> = {
  'payments-oncall': 'S0PAYONCALL',
  'storefront-oncall': 'S0SHOPONCALL',
};

const pageOwner: Workflow = {
  name: 'page-owner',
  triggers: [{ on: 'alert', status: 'firing', severity: ['HIGH', 'LOW'] }],
  async run(issue, ctx) {
    const namespace = issue.subject.namespace;
    if (namespace === undefined) return null;
    const ns = await ctx.k8s.get({ kind: 'Namespace', name: namespace });
    const team = ns.metadata?.annotations?.['kubeincident.dev/owner-team'];
    const group = team === undefined ? undefined : ONCALL_GROUPS[team];
    if (team === undefined || group === undefined) {
      ctx.log.warn('no owner to page', { namespace, team });
      return {
        blocks: [{ type: 'markdown', text: `No owning team is on call for namespace ${namespace}.` }],
      };
    }
    return {
      title: 'On call',
      verdict: `Paged ${team} (owner of ${namespace})`,
      mentions: { groups: [group] },
      ...(issue.labels.severity === 'critical' ? { severity: 'HIGH' as const } : {}),
      blocks: [{ type: 'table', headers: ['namespace', 'owner', 'paged'], rows: [[namespace, team, group]] }],
    };
  },
};

export default pageOwner;
