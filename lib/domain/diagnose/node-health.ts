// A node's health in one line and one flag: NotReady or a pressure condition makes it unhealthy,
// which is what sends a pod issue on to enrich-node. Pure functions of the Node object.
import type { V1Node } from '../kube.ts';
import { formatDuration, toMillis, truncate } from './describe.ts';

export const PRESSURE = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'];

/** The conditions that make a node unhealthy: Ready not True, or any pressure True. */
export function nodeProblems(node: V1Node): string[] {
  const conds = node.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  const out = ready?.status === 'True' ? [] : [`Ready=${ready?.status ?? 'missing'}`];
  for (const c of conds) if (PRESSURE.includes(c.type) && c.status === 'True') out.push(c.type);
  return out;
}

export function nodeUnhealthy(node: V1Node): boolean {
  return nodeProblems(node).length > 0;
}

export function nodeVerdict(node: V1Node, now: number): string {
  const name = node.metadata?.name ?? 'unknown';
  const conds = node.status?.conditions ?? [];
  const cordoned = node.spec?.unschedulable === true;
  const ready = conds.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    const since = toMillis(ready?.lastTransitionTime);
    const detail = ready ? ` (${[ready.reason, ready.message].filter(Boolean).join(': ')})` : '';
    return truncate(
      `NotReady: node ${name} Ready=${ready?.status ?? 'missing'}${since === undefined ? '' : ` for ${formatDuration(now - since)}`}${detail}${cordoned ? ', cordoned' : ''}`,
      300,
    );
  }
  const pressing = conds.filter((c) => PRESSURE.includes(c.type) && c.status === 'True');
  if (pressing.length > 0) {
    const reasons = pressing.map((c) => c.reason).filter(Boolean);
    return truncate(
      `${pressing.map((c) => c.type).join(', ')}: node ${name} is Ready but reports ${pressing.map((c) => c.type).join(' and ')}${reasons.length ? ` (${reasons.join(', ')})` : ''}${cordoned ? ', cordoned' : ''}`,
      300,
    );
  }
  if (cordoned) return `Cordoned: node ${name} is Ready but unschedulable`;
  return `Healthy: node ${name} is Ready with no pressure conditions`;
}
