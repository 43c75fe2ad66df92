// Which enrichers an issue goes through, and what an enricher hands back besides its enrichment:
// the subject facts it learned (the pod's node) and whether that node needs its own look.
import type { Enrichment, Stage, Subject } from '../issue.ts';
import { isWorkloadKind } from '../k8s/api.ts';

export interface EnrichResult {
  enrichment: Enrichment;
  /** The subject with what the enricher learned (e.g. `node` from pod.spec.nodeName). */
  subject?: Subject;
  /** A node found NotReady or under pressure: enrich-node adds a short section on it. */
  unhealthyNode?: string;
}

/** The stages a firing issue about this subject runs through (resolved issues only dispatch). */
export function planFor(subject: Pick<Subject, 'kind'>): Stage[] {
  if (subject.kind === 'Pod' || isWorkloadKind(subject.kind)) return ['enrichpod', 'dispatch'];
  if (subject.kind === 'Node') return ['enrichnode', 'dispatch'];
  return ['dispatch'];
}

/** enrich-pod's follow-up: enrich-node, only when the pod's node is unhealthy. */
export function nextStagesAfterPod(result: EnrichResult): Stage[] {
  return result.unhealthyNode === undefined ? [] : ['enrichnode'];
}
