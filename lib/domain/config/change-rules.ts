// Which change-tracking rule (config `changeTracking:`) a workload falls under, and the checks
// across sections that the schema cannot make.
import type { ChangeRule, ChangeTracking } from './change-tracking.ts';
import { TRACKED_KINDS } from './change-tracking.ts';
import { anchored, matchesAll, parseMatcher } from './match.ts';

export interface TrackedWorkload {
  kind: string;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
}

const stringMatches = (m: string | { regex: string }, v: string | undefined) =>
  typeof m === 'string' ? v === m : v !== undefined && anchored(m.regex).test(v);

/** The first rule that tracks this workload, or undefined (not tracked). */
export function changeRuleFor(ct: ChangeTracking, w: TrackedWorkload): ChangeRule | undefined {
  return ct.rules.find(
    (r) =>
      (r.kinds ?? TRACKED_KINDS).some((k) => k === w.kind) &&
      (r.namespace === undefined || r.namespace.some((m) => stringMatches(m, w.namespace))) &&
      matchesAll(r.matchers, w.labels ?? {}),
  );
}

/** What zod cannot check: destinations that exist, rule names once each, regexes that compile. */
export function checkChangeTracking(ct: ChangeTracking, destinations: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  ct.rules.forEach((r, i) => {
    const at = `changeTracking.rules[${i}]`;
    if (names.has(r.name)) problems.push(`${at}.name: duplicate rule "${r.name}"`);
    names.add(r.name);
    if (r.destination !== 'default' && !destinations.has(r.destination))
      problems.push(`${at}.destination: unknown destination "${r.destination}"`);
    for (const m of r.namespace ?? []) {
      if (typeof m !== 'object') continue;
      try {
        anchored(m.regex);
      } catch {
        problems.push(`${at}.namespace: invalid regex ${JSON.stringify(m.regex)}`);
      }
    }
    for (const m of r.matchers ?? []) {
      try {
        parseMatcher(m);
      } catch {
        problems.push(`${at}.matchers: invalid regex in ${JSON.stringify(m)}`);
      }
    }
  });
  return problems;
}
