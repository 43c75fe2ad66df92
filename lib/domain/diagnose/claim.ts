// A PersistentVolumeClaim read as an on-call engineer reads it: why it is Pending (no StorageClass,
// a class that does not exist, provisioning failures, waiting for its first pod or an external
// provisioner), Lost, a resize not finished, and the pods that use it. Pure.
import type { TableBlock } from '../issue.ts';
import type { CoreV1Event, V1PersistentVolumeClaim, V1Pod } from '../kube.ts';
import { ago, eventTime, truncate } from './describe.ts';
import { podProblem } from './diagnose.ts';

export interface ClaimFacts {
  pvc: V1PersistentVolumeClaim;
  events: CoreV1Event[];
  /** The named StorageClass: found, missing (404), or not read. */
  storageClass: 'found' | 'missing' | undefined;
  /** Pods of the namespace whose volumes name the claim. */
  users: V1Pod[];
  now: number;
}

export function usesClaim(pod: V1Pod, claim: string): boolean {
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim);
}

const newest = (events: CoreV1Event[], reason: string) =>
  events.filter((e) => e.reason === reason).sort((a, b) => eventTime(b) - eventTime(a))[0];

function pendingWhy(f: ClaimFacts): string {
  const cls = f.pvc.spec?.storageClassName;
  if (cls === undefined || cls === null) {
    return 'no StorageClass: none named and no default class when it was made, so it binds only to a matching PersistentVolume made by hand';
  }
  if (cls === '') return 'storageClassName "" asks for a PersistentVolume made by hand, and none matches';
  if (f.storageClass === 'missing') return `StorageClass ${cls} does not exist`;
  const failed = newest(f.events, 'ProvisioningFailed');
  if (failed) return `provisioning failed: ${truncate(failed.message ?? '', 200)}`;
  const waiting = newest(f.events, 'WaitForFirstConsumer');
  if (waiting) {
    const pending = f.users.find((p) => p.status?.phase === 'Pending');
    return pending
      ? `waiting for its first pod to be scheduled (WaitForFirstConsumer); pod ${pending.metadata?.name} is ${podProblem(pending)}`
      : 'waiting for a pod that uses it (WaitForFirstConsumer): none does';
  }
  const external = newest(f.events, 'ExternalProvisioning');
  if (external) return `waiting for the external provisioner: ${truncate(external.message ?? '', 160)}`;
  return 'no provisioning events yet';
}

function resizeWhy(pvc: V1PersistentVolumeClaim): string | undefined {
  const want = pvc.spec?.resources?.requests?.storage;
  const have = pvc.status?.capacity?.storage;
  const conds = pvc.status?.conditions ?? [];
  const cond = conds.find(
    (c) => c.status === 'True' && (c.type === 'FileSystemResizePending' || c.type === 'Resizing'),
  );
  const alloc = pvc.status?.allocatedResourceStatuses?.storage;
  if (!cond && !alloc && (want === undefined || want === have)) return undefined;
  if (cond?.type === 'FileSystemResizePending') {
    return `resize to ${want} pending: the volume grew, the file system grows when a pod (re)starts with it (${have} until then)`;
  }
  if (alloc?.endsWith('Infeasible')) return `resize to ${want} refused (${alloc}); still ${have}`;
  return `resize from ${have} to ${want} in progress${alloc ? ` (${alloc})` : cond ? ` (${cond.type})` : ''}`;
}

/** One line on how the claim stands: "Pending: StorageClass fast does not exist". */
export function claimVerdict(f: ClaimFacts): string {
  const name = f.pvc.metadata?.name ?? '';
  const phase = f.pvc.status?.phase ?? 'Pending';
  if (phase === 'Pending') return `PersistentVolumeClaim ${name} Pending: ${pendingWhy(f)}`;
  if (phase === 'Lost') {
    return `PersistentVolumeClaim ${name} Lost: its PersistentVolume ${f.pvc.spec?.volumeName ?? ''} no longer exists; pods using it cannot start`;
  }
  const resize = resizeWhy(f.pvc);
  const users =
    f.users.length === 0
      ? 'no pod uses it'
      : `used by ${f.users.length} pod${f.users.length === 1 ? '' : 's'}`;
  return `PersistentVolumeClaim ${name} Bound to ${f.pvc.spec?.volumeName ?? '?'} (${f.pvc.status?.capacity?.storage ?? '?'}); ${resize ? `${resize}; ` : ''}${users}`;
}

export function claimTable(f: ClaimFacts): TableBlock {
  const s = f.pvc.spec;
  const rows: string[][] = [
    ['Phase', f.pvc.status?.phase ?? 'Pending'],
    ['StorageClass', s?.storageClassName ?? '(none)'],
    ['Requested', s?.resources?.requests?.storage ?? '-'],
    ['Capacity', f.pvc.status?.capacity?.storage ?? '-'],
    ['Access modes', (s?.accessModes ?? []).join(', ') || '-'],
    ['Volume', s?.volumeName ?? '-'],
    ['Created', ago(f.pvc.metadata?.creationTimestamp, f.now) ?? '-'],
  ];
  for (const c of f.pvc.status?.conditions ?? [])
    rows.push([c.type, `${c.status}${c.message ? `: ${c.message}` : ''}`]);
  return {
    type: 'table',
    title: `PersistentVolumeClaim ${f.pvc.metadata?.name ?? ''}`,
    headers: ['Field', 'Value'],
    rows,
  };
}

export function claimUsersTable(users: V1Pod[], cap = 10): TableBlock {
  return {
    type: 'table',
    title: users.length > cap ? `Pods using it (${cap} of ${users.length})` : 'Pods using it',
    headers: ['Pod', 'Node', 'Problem'],
    rows: users.slice(0, cap).map((p) => [p.metadata?.name ?? '', p.spec?.nodeName ?? '-', podProblem(p)]),
  };
}
