// Matching issues against the configuration: Alertmanager-style label matchers, workflow
// triggers and route conditions. Regexes are anchored, as Alertmanager anchors them.
import type { Issue } from '../issue.ts';
import { MATCHER, type RouteMatch, type Trigger } from './schema.ts';

export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
  regex?: RegExp;
}

const regexCache = new Map<string, RegExp>();
/** Anchored like Alertmanager's and Prometheus's matchers; compiled once per pattern. */
export function anchored(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`);
    regexCache.set(pattern, re);
  }
  return re;
}

export function parseMatcher(text: string): LabelMatcher {
  const m = MATCHER.exec(text);
  if (!m) throw new Error(`invalid matcher ${JSON.stringify(text)}`);
  const op = m[2] as LabelMatcher['op'];
  const value = (m[3] ?? '').replace(/\\(.)/g, '$1');
  const matcher: LabelMatcher = { name: m[1] as string, op, value };
  if (op === '=~' || op === '!~') matcher.regex = anchored(value);
  return matcher;
}

/** A missing label matches as the empty string, as in Alertmanager. */
export function matchesLabel(m: LabelMatcher, labels: Record<string, string>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return (m.regex as RegExp).test(v);
    case '!~':
      return !(m.regex as RegExp).test(v);
  }
}

export function matchesAll(matchers: readonly string[] | undefined, labels: Record<string, string>): boolean {
  return (matchers ?? []).every((m) => matchesLabel(parseMatcher(m), labels));
}

const inList = (list: readonly string[] | undefined, value: string | undefined) =>
  list === undefined || (value !== undefined && list.includes(value));

/** Whether one of a workflow's `triggers` (config file) fires for an issue. */
export function workflowTriggerMatches(trigger: Trigger, issue: Issue): boolean {
  if (trigger.on === 'alert') {
    if (issue.type !== 'alert') return false;
    return (
      inList(trigger.alertName, issue.labels.alertname) &&
      (trigger.status === undefined || trigger.status === issue.status) &&
      inList(trigger.severity, issue.severity) &&
      inList(trigger.namespace, issue.subject.namespace) &&
      matchesAll(trigger.matchers, issue.labels)
    );
  }
  if (issue.type !== 'event') return false;
  return (
    inList(trigger.reason, issue.labels.reason) &&
    (trigger.type === undefined || trigger.type === (issue.labels.type ?? 'Warning')) &&
    inList(trigger.kind, issue.subject.kind) &&
    inList(trigger.namespace, issue.subject.namespace)
  );
}

type StringMatch = string | { regex: string };
const stringMatches = (m: StringMatch, v: string | undefined) =>
  typeof m === 'string' ? v === m : v !== undefined && anchored(m.regex).test(v);
const anyMatches = (ms: readonly StringMatch[] | undefined, v: string | undefined) =>
  ms === undefined || ms.some((m) => stringMatches(m, v));

export function routeMatches(match: RouteMatch, issue: Issue): boolean {
  return (
    anyMatches(match.namespace, issue.subject.namespace) &&
    (match.severity === undefined || match.severity.includes(issue.severity)) &&
    (match.source === undefined || match.source === issue.source) &&
    anyMatches(match.kind, issue.subject.kind) &&
    Object.entries(match.labels ?? {}).every(([k, m]) => stringMatches(m, issue.labels[k]))
  );
}
