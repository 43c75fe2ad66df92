// What the configuration decided at ingest (Issue.actions) applied to enrich-pod's options:
// logs on or off, how many lines, which instance and container; event tables on or off; which
// diagnoses show their evidence; whether an OOM kill attaches logs.
import type { Issue } from '../../domain/issue.ts';
import type { PodEnrichOptions } from './investigate.ts';
import type { NodeEnrichOptions } from './node.ts';

export function podOptionsFor(
  issue: Issue,
  base: PodEnrichOptions,
): { issue: Issue; opts: PodEnrichOptions } {
  const a = issue.actions;
  if (!a) return { issue, opts: base };
  const opts: PodEnrichOptions = { ...base };
  let subject = issue.subject;
  if (a.podLogs === false) opts.logsEnabled = false;
  else if (a.podLogs) {
    if (a.podLogs.tail !== undefined) opts.logTailLines = a.podLogs.tail;
    if (a.podLogs.previous === false) opts.preferPrevious = false;
    // A workflow naming a container wins over the most troubled one, like a container label does.
    if (a.podLogs.container) subject = { ...subject, container: a.podLogs.container };
  }
  if (a.podEvents === false) opts.eventLimit = 0;
  if (a.disabledDiagnoses?.length) opts.disabledDiagnoses = new Set(a.disabledDiagnoses);
  if (a.attachOomLogs === false) opts.attachOomLogs = false;
  if (a.podInvestigator === false) opts.investigator = false;
  return { issue: subject === issue.subject ? issue : { ...issue, subject }, opts };
}

/** enrich-node's sections from the configuration's nodeHealth switches. */
export function nodeSectionsFor(issue: Issue): NodeEnrichOptions['sections'] {
  return issue.actions?.nodeSections;
}
