// A container's logs as a file block: the previous instance after a crash, the end of the log
// kept under a byte cap, secrets redacted before anything leaves the cluster.

import { failureNote, pluralize, toIso } from '../../domain/diagnose/describe.ts';
import { type ContainerView, hasPreviousInstance } from '../../domain/diagnose/pod-status.ts';
import { redact } from '../../domain/diagnose/redact.ts';
import type { FileBlock } from '../../domain/issue.ts';
import type { KubeReader, V1Pod } from '../../domain/kube.ts';
import { isKubeApiError } from '../../domain/kube-errors.ts';
import { attempt, type Budget } from './budget.ts';

export interface LogSettings {
  logTailLines: number;
  /** Cap on the log text kept; the end of the log is kept, since that is where a crash shows. */
  logLimitBytes: number;
  /** Patterns of secrets to redact (lib/domain/diagnose/redact.ts); none means nothing is redacted. */
  redactPatterns?: readonly RegExp[];
  /** False when the configuration turned pod logs off for this issue. */
  logsEnabled?: boolean;
  /** False reads the current instance even after a restart (a workflow's `previous: false`). */
  preferPrevious?: boolean;
}

export interface LogRequest {
  namespace: string;
  name: string;
  pod: V1Pod | undefined;
  selected: ContainerView | undefined;
  /** The container the issue names; used when the pod itself could not be read. */
  named: string | undefined;
}

export interface LogResult {
  file?: FileBlock;
  note?: string;
}

export async function readLogs(
  kube: KubeReader,
  budget: Budget,
  req: LogRequest,
  opts: LogSettings,
): Promise<LogResult> {
  const { namespace, name, pod, selected } = req;
  if (opts.logsEnabled === false) return {};
  // Without the pod object the only container we can ask for is the one the issue names.
  const container = selected?.name ?? (pod ? undefined : req.named);
  if (container === undefined) return pod ? { note: 'No logs: the pod has no containers.' } : {};
  const st = selected?.status;
  if (selected && !hasPreviousInstance(selected) && !st?.state?.running && !st?.state?.terminated) {
    const why = st?.state?.waiting?.reason ?? 'not started';
    return { note: `No logs: container ${container} has not run yet (${why}).` };
  }
  // A terminated container without a containerID (evicted, status unknown) has no log to read.
  if (
    selected &&
    !hasPreviousInstance(selected) &&
    st?.state?.terminated &&
    !st.state.terminated.containerID
  ) {
    return {
      note: `No logs: container ${container} is gone (${st.state.terminated.reason ?? 'terminated'}).`,
    };
  }
  const previous = selected ? hasPreviousInstance(selected) && opts.preferPrevious !== false : false;
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
  const clean = opts.redactPatterns ? redact(kept, opts.redactPatterns) : { text: kept, count: 0 };
  const last = selected?.status?.lastState?.terminated;
  const instance = usedPrevious
    ? `previous instance${last ? `, ${last.reason ?? 'terminated'} at ${toIso(last.finishedAt) ?? 'unknown time'}` : ''}`
    : 'current instance';
  const redacted = clean.count > 0 ? `, ${pluralize(clean.count, 'secret')} redacted` : '';
  const file: FileBlock = {
    type: 'file',
    // Says what it is to whoever finds it in the thread; the destination makes it a safe name.
    filename: `${name.slice(0, 180)} ${container.slice(0, 60)}${usedPrevious ? ' previous' : ''} log.txt`,
    title: `Logs of ${container} (${instance}, last ${opts.logTailLines} lines${redacted})`,
    contentType: 'text/plain',
    content: clean.text,
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
