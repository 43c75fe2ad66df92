// The workload an object belongs to (Deployment, StatefulSet, DaemonSet, Job, CronJob, Node):
// storms are folded per workload, so 200 crashing pods of one rollout make one issue.

export interface Workload {
  kind: string;
  name: string;
  namespace?: string;
}

export interface OwnerReference {
  kind?: string | undefined;
  name?: string | undefined;
  controller?: boolean | undefined;
}

// Kubernetes' rand.SafeEncodeString alphabet: pod-template-hash and generated name suffixes use
// only these characters (no vowels, no 0/1/3), which keeps the name heuristics below tight.
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const DEPLOYMENT_POD = new RegExp(`^(.+)-${SAFE}{6,10}-${SAFE}{5}$`);
const GENERATED_POD = new RegExp(`^(.+)-${SAFE}{5}$`);
const REPLICASET = new RegExp(`^(.+)-${SAFE}{6,10}$`);
const STATEFUL_POD = /^(.+)-(\d+)$/;
// A CronJob names its Jobs <cronjob>-<scheduled time in minutes>.
const CRONJOB_JOB = /^(.+)-\d{8,}$/;

const withNs = (w: Workload, namespace: string | undefined): Workload =>
  namespace ? { ...w, namespace } : w;

function fromJob(name: string): Workload {
  const cron = CRONJOB_JOB.exec(name);
  return cron?.[1] ? { kind: 'CronJob', name: cron[1] } : { kind: 'Job', name };
}

/** A Pod's workload from its controller owner reference (exact), as the Pod object carries it. */
export function workloadOfPod(pod: {
  name: string;
  namespace?: string | undefined;
  ownerReferences?: OwnerReference[] | undefined;
  labels?: Record<string, string> | undefined;
}): Workload {
  const owners = pod.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  if (!owner?.kind || !owner.name) return withNs({ kind: 'Pod', name: pod.name }, pod.namespace);
  if (owner.kind === 'ReplicaSet') {
    const hash = pod.labels?.['pod-template-hash'];
    if (hash && owner.name.endsWith(`-${hash}`))
      return withNs({ kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) }, pod.namespace);
    return withNs({ kind: 'ReplicaSet', name: owner.name }, pod.namespace);
  }
  if (owner.kind === 'Job') return withNs(fromJob(owner.name), pod.namespace);
  return withNs({ kind: owner.kind, name: owner.name }, pod.namespace);
}

/**
 * The workload of an object known only by kind and name (an Event's involvedObject carries no
 * owners). Generated pod names reveal their generator; the kind is a best guess, so grouping
 * keys use namespace and name only (see groupKey) and agree with workloadOfPod.
 */
export function workloadOfObject(kind: string, name: string, namespace?: string): Workload {
  if (kind === 'Pod') {
    const dep = DEPLOYMENT_POD.exec(name);
    if (dep?.[1]) return withNs({ kind: 'Deployment', name: dep[1] }, namespace);
    const sts = STATEFUL_POD.exec(name);
    if (sts?.[1]) return withNs({ kind: 'StatefulSet', name: sts[1] }, namespace);
    const gen = GENERATED_POD.exec(name);
    if (gen?.[1]) {
      const job = fromJob(gen[1]);
      return withNs(job.kind === 'CronJob' ? job : { kind: 'Workload', name: gen[1] }, namespace);
    }
    return withNs({ kind: 'Pod', name }, namespace);
  }
  if (kind === 'ReplicaSet') {
    const rs = REPLICASET.exec(name);
    if (rs?.[1]) return withNs({ kind: 'Deployment', name: rs[1] }, namespace);
  }
  if (kind === 'Job') return withNs(fromJob(name), namespace);
  return withNs({ kind, name }, namespace);
}

/**
 * What storms are grouped by. The kind is left out on purpose: the name heuristic cannot always
 * tell a DaemonSet from a Job, and the same workload must fold the same way whether it was seen
 * through an Event or through its Pod. Nodes and other cluster-scoped objects keep their kind.
 */
export function groupKey(w: Workload): string {
  return w.namespace ? `${w.namespace}/${w.name}` : `${w.kind}/${w.name}`;
}
