// Wording and tables shared by the enrichers: ages, exit codes, resource quantities, notes about
// API failures and the recent-events table. Pure functions of API objects and a clock.
import { formatDuration } from '../../platform/duration.ts';
import type { Block, TableBlock } from '../issue.ts';
import type { CoreV1Event } from '../kube.ts';
import { describeKubeError } from '../kube-errors.ts';

/** A timestamp of an API object: the RFC 3339 string the API server sends (lib/domain/kube.ts). */
export type Timestamp = string | null | undefined;

export function toMillis(t: Timestamp): number | undefined {
  if (t === null || t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export function toIso(t: Timestamp): string | undefined {
  const ms = toMillis(t);
  return ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export { formatDuration };

export function ago(t: Timestamp, now: number): string | undefined {
  const ms = toMillis(t);
  return ms === undefined ? undefined : `${formatDuration(now - ms)} ago`;
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  15: 'SIGTERM',
};

/** What a container exit code usually means; `reason` (OOMKilled) settles the ambiguous 137. */
export function exitCodeMeaning(code: number, reason?: string): string {
  switch (code) {
    case 0:
      return 'success';
    case 1:
      return 'application error';
    case 126:
      return 'command not executable';
    case 127:
      return 'command not found';
    case 137:
      return reason === 'OOMKilled' ? 'SIGKILL: out of memory' : 'SIGKILL: OOM kill or forced stop';
    case 139:
      return 'SIGSEGV: segmentation fault';
    case 143:
      return 'SIGTERM: asked to stop';
  }
  if (code > 128 && code <= 128 + 64) {
    const sig = code - 128;
    return `killed by signal ${sig}${SIGNALS[sig] ? ` (${SIGNALS[sig]})` : ''}`;
  }
  return 'application error';
}

export function formatExit(code: number | undefined, reason?: string): string {
  return code === undefined ? '' : `${code} (${exitCodeMeaning(code, reason)})`;
}

/** "Could not read logs: forbidden (403)". */
export function failureNote(what: string, err: unknown): string {
  return `Could not ${what}: ${describeKubeError(err)}`;
}

export function noteBlock(notes: string[]): Block[] {
  return notes.length === 0 ? [] : [{ type: 'markdown', text: notes.join('\n') }];
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function pluralize(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

/** Parses a Kubernetes resource quantity ("256Mi", "3920m", "1e3"); undefined when malformed. */
export function parseQuantity(q: string | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  const factor = suffix === '' ? 1 : (BINARY[suffix] ?? DECIMAL[suffix]);
  return factor === undefined || Number.isNaN(n) ? undefined : n * factor;
}

/** Bytes as the nearest binary unit with one decimal: 15052336Ki -> 14.4Gi. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  for (const unit of ['Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const f = BINARY[unit] as number;
    if (bytes >= f) return `${(bytes / f).toFixed(1).replace(/\.0$/, '')}${unit}`;
  }
  return `${bytes}`;
}

export function formatCpu(cores: number | undefined): string {
  if (cores === undefined) return '-';
  return cores < 1 ? `${Math.round(cores * 1000)}m` : `${Number(cores.toFixed(2))}`;
}

export function eventTime(e: CoreV1Event): number {
  return (
    toMillis(e.lastTimestamp) ??
    toMillis(e.series?.lastObservedTime) ??
    toMillis(e.eventTime) ??
    toMillis(e.firstTimestamp) ??
    toMillis(e.metadata?.creationTimestamp) ??
    0
  );
}

/** Warnings first, newest first, capped: the events an on-call engineer reads. */
export function eventsTable(events: CoreV1Event[], now: number, cap = 10): TableBlock | undefined {
  // cap 0: the configuration turned event tables off (workflows.podTroubleshooting.podEvents).
  if (events.length === 0 || cap <= 0) return undefined;
  const sorted = [...events].sort((a, b) => {
    const wa = a.type === 'Warning' ? 0 : 1;
    const wb = b.type === 'Warning' ? 0 : 1;
    return wa - wb || eventTime(b) - eventTime(a);
  });
  const shown = sorted.slice(0, cap);
  const rows = shown.map((e) => [
    e.type ?? '',
    e.reason ?? '',
    `${formatDuration(now - eventTime(e))} ago`,
    String(e.count ?? e.series?.count ?? 1),
    e.source?.component ?? e.reportingComponent ?? '',
    truncate(e.message ?? '', 300),
  ]);
  const more = sorted.length - shown.length;
  return {
    type: 'table',
    title: more > 0 ? `Recent events (newest ${cap} of ${sorted.length})` : 'Recent events',
    headers: ['Type', 'Reason', 'Last seen', 'Count', 'From', 'Message'],
    rows,
  };
}
