// enrich-pod logic: what an on-call engineer would run kubectl for (describe, logs --previous,
// events), gathered within a time budget. API trouble becomes a note, never an exception.
import type { Block, Enrichment, FileBlock, Issue } from '../issue.ts';
import type { KubeReader, V1Pod } from '../k8s/api.ts';
import { isKubeApiError } from '../k8s/errors.ts';
import { attempt, type Budget, startBudget } from './budget.ts';
import { eventsTable, failureNote, noteBlock, toIso } from './describe.ts';
import {
  type ContainerView,
  containersTable,
  hasPreviousInstance,
  podSummaryTable,
  podVerdict,
  resourcesTable,
  selectContainer,
} from './pod-status.ts';

export const SOURCE = 'enrich-pod';

export interface PodEnrichOptions {
  logTailLines: number;
  /** Cap on the log text kept; the end of the log is kept, since that is where a crash shows. */
  logLimitBytes: number;
  /** For the whole enrichment, all API calls included. */
  timeBudgetMs: number;
  now?: Date;
  /** Rows in the recent-events table; default 10. */
  eventLimit?: number;
}

export async function enrichPod(
  issue: Issue,
  kube: KubeReader | undefined,
  opts: PodEnrichOptions,
): Promise<Enrichment> {
  const { kind, name, namespace } = issue.subject;
  if (kind !== 'Pod' || !name || !namespace) {
    return {
      source: SOURCE,
      blocks: [{ type: 'markdown', text: 'Not enriched: the issue does not name a pod.' }],
    };
  }
  const title = `Pod ${namespace}/${name}`;
  if (!kube) {
    return {
      source: SOURCE,
      title,
      blocks: [
        { type: 'markdown', text: 'No cluster access: pod details, events and logs were not gathered.' },
      ],
    };
  }
  const now = opts.now?.getTime() ?? Date.now();
  const budget = startBudget(opts.timeBudgetMs);
  try {
    return await gather(issue, kube, opts, budget, now, title, namespace, name);
  } finally {
    budget.done();
  }
}

async function gather(
  issue: Issue,
  kube: KubeReader,
  opts: PodEnrichOptions,
  budget: Budget,
  now: number,
  title: string,
  namespace: string,
  name: string,
): Promise<Enrichment> {
  const notes: string[] = [];
  const blocks: Block[] = [];
  const [podR, eventsR] = await Promise.all([
    attempt(budget.run((signal) => kube.readPod(namespace, name, { signal }))),
    attempt(budget.run((signal) => kube.listEvents(namespace, { name, namespace, kind: 'Pod', signal }))),
  ]);

  let pod: V1Pod | undefined;
  let selected: ContainerView | undefined;
  let verdict: string | undefined;
  if (podR.ok) {
    pod = podR.value;
    selected = selectContainer(pod, issue.subject.container);
    verdict = podVerdict(pod, selected, now);
    blocks.push(podSummaryTable(pod, now), containersTable(pod, now), resourcesTable(pod));
  } else {
    notes.push(failureNote('read the pod', podR.error));
    if (isKubeApiError(podR.error) && podR.error.code === 404) {
      verdict = `Pod ${namespace}/${name} not found: it was deleted or replaced`;
    }
  }

  if (eventsR.ok) {
    // StatefulSet pods reuse names: events of an earlier pod with this name are not about this one.
    const uid = pod?.metadata?.uid;
    const events = eventsR.value.filter(
      (e) => !uid || !e.involvedObject?.uid || e.involvedObject.uid === uid,
    );
    const table = eventsTable(events, now, opts.eventLimit ?? 10);
    if (table) blocks.push(table);
  } else {
    notes.push(failureNote('list events', eventsR.error));
  }

  const logs = await readLogs(
    kube,
    budget,
    pod,
    selected,
    issue.subject.container,
    podR.ok,
    namespace,
    name,
    opts,
  );
  if (logs.note) notes.push(logs.note);
  blocks.push(...noteBlock(notes));
  if (logs.file) blocks.push(logs.file);

  return verdict === undefined
    ? { source: SOURCE, title, blocks }
    : { source: SOURCE, title, verdict, blocks };
}

interface LogResult {
  file?: FileBlock;
  note?: string;
}

async function readLogs(
  kube: KubeReader,
  budget: Budget,
  pod: V1Pod | undefined,
  selected: ContainerView | undefined,
  named: string | undefined,
  podRead: boolean,
  namespace: string,
  name: string,
  opts: PodEnrichOptions,
): Promise<LogResult> {
  // Without the pod object the only container we can ask for is the one the issue names.
  const container = selected?.name ?? (podRead ? undefined : named);
  if (container === undefined) return pod ? { note: 'No logs: the pod has no containers.' } : {};
  const st = selected?.status;
  if (selected && !hasPreviousInstance(selected) && !st?.state?.running && !st?.state?.terminated) {
    const why = st?.state?.waiting?.reason ?? 'not started';
    return { note: `No logs: container ${container} has not run yet (${why}).` };
  }
  const previous = selected ? hasPreviousInstance(selected) : false;
  // The kubelet applies limitBytes to the START of the tail, which would cut off the crash at its
  // end: ask for more than the cap, and when even that is cut, ask again for fewer lines.
  const serverLimit = opts.logLimitBytes * 4;
  const read = (prev: boolean, tailLines: number) =>
    budget.run((signal) =>
      kube.readPodLog(namespace, name, {
        container,
        previous: prev,
        tailLines,
        limitBytes: serverLimit,
        signal,
      }),
    );
  let usedPrevious = previous;
  let result = await attempt(read(previous, opts.logTailLines));
  // 400 means the previous instance is gone (node reboot, pod recreated): the current one still helps.
  if (!result.ok && previous && isKubeApiError(result.error) && result.error.code === 400) {
    usedPrevious = false;
    result = await attempt(read(false, opts.logTailLines));
  }
  if (!result.ok) return { note: failureNote(`read logs of container ${container}`, result.error) };
  let text = result.value;
  if (text.length === 0)
    return { note: `Container ${container} wrote no logs${usedPrevious ? ' before it stopped' : ''}.` };
  let cutByServer = Buffer.byteLength(text) >= serverLimit;
  if (cutByServer) {
    const avgLine = Buffer.byteLength(text) / Math.max(1, text.split('\n').length);
    const fewer = Math.max(1, Math.floor(opts.logLimitBytes / Math.max(1, avgLine)));
    const again = fewer < opts.logTailLines ? await attempt(read(usedPrevious, fewer)) : undefined;
    if (again?.ok && again.value.length > 0) {
      text = again.value;
      cutByServer = Buffer.byteLength(text) >= serverLimit;
    }
  }
  const kept = keepTail(text, opts.logLimitBytes);
  // Fewer lines than asked for is a cut too, even when what came back fits.
  const truncated = kept.length < text.length || cutByServer || text !== result.value;
  const last = selected?.status?.lastState?.terminated;
  const instance = usedPrevious
    ? `previous instance${last ? `, ${last.reason ?? 'terminated'} at ${toIso(last.finishedAt) ?? 'unknown time'}` : ''}`
    : 'current instance';
  const file: FileBlock = {
    type: 'file',
    filename: `${name.slice(0, 180)}_${container.slice(0, 60)}${usedPrevious ? '_previous' : ''}.log`,
    title: `Logs of ${container} (${instance}, last ${opts.logTailLines} lines)`,
    contentType: 'text/plain',
    content: kept,
  };
  if (truncated) file.truncated = true;
  return { file };
}

/** The last `maxBytes` bytes of the text, starting at a line boundary when one is near. */
export function keepTail(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let cut = buf.subarray(buf.length - maxBytes);
  const nl = cut.indexOf(0x0a);
  if (nl >= 0 && nl < cut.length - 1) cut = cut.subarray(nl + 1);
  // Skip UTF-8 continuation bytes so the text never starts with half a character.
  let start = 0;
  while (start < cut.length && ((cut[start] as number) & 0xc0) === 0x80) start++;
  return cut.subarray(start).toString('utf8');
}
