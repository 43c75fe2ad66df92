// Silences configured in the agent (no Alertmanager access needed): by alert name, severity,
// label matchers, absolute start/end and recurring time windows in a time zone.
import type { Issue } from '../issue.ts';
import { matchesAll } from './match.ts';
import type { Silence } from './schema.ts';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday and minute of the day at `now` in `timeZone`. */
export function localTime(now: Date, timeZone: string): { day: string; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(now).map((p) => [p.type, p.value]));
  const day = String(parts.weekday).toLowerCase().slice(0, 3);
  return { day, minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** A window may cross midnight (22:00-02:00): the early part belongs to the previous day's window. */
export function inWindow(window: NonNullable<Silence['windows']>[number], now: Date): boolean {
  const { day, minute } = localTime(now, window.timezone);
  const start = minutes(window.start);
  const end = minutes(window.end);
  if (start <= end) return window.days.includes(day as never) && minute >= start && minute < end;
  const previous = DAYS[(DAYS.indexOf(day as (typeof DAYS)[number]) + 6) % 7] as string;
  return (
    (window.days.includes(day as never) && minute >= start) ||
    (window.days.includes(previous as never) && minute < end)
  );
}

export function silenceMatches(s: Silence, issue: Issue, now: Date): boolean {
  if (s.startsAt && now.getTime() < Date.parse(s.startsAt)) return false;
  if (s.endsAt && now.getTime() >= Date.parse(s.endsAt)) return false;
  if (s.alertNames && !s.alertNames.includes(issue.labels.alertname ?? '')) return false;
  if (s.severities && !s.severities.includes(issue.severity)) return false;
  if (!matchesAll(s.matchers, issue.labels)) return false;
  if (s.windows && !s.windows.some((w) => inWindow(w, now))) return false;
  return true;
}

/** The first silence that holds for this issue now, if any. */
export function silencedBy(silences: readonly Silence[], issue: Issue, now = new Date()): string | undefined {
  return silences.find((s) => silenceMatches(s, issue, now))?.name;
}
