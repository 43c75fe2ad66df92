// Include / exclude rules for Kubernetes signals (by type, reason, kind, namespace), parsed from
// comma-separated settings. An empty include list means "everything"; excludes always win.

export interface ListRule {
  include: string[];
  exclude: string[];
}

export interface SignalFilter {
  types: ListRule;
  reasons: ListRule;
  kinds: ListRule;
  namespaces: ListRule;
}

/** `a, b,,c` -> ['a', 'b', 'c']. */
export function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// A trailing `*` matches a prefix (`kube-*`); anything else matches exactly (case-sensitive, as
// Kubernetes names and reasons are).
function matches(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}

/** True when any of `values` passes the rule (a signal may carry a raw and a canonical reason). */
export function allowed(rule: ListRule, values: readonly string[]): boolean {
  if (rule.exclude.some((p) => values.some((v) => matches(p, v)))) return false;
  if (rule.include.length === 0) return true;
  return rule.include.some((p) => values.some((v) => matches(p, v)));
}

export interface SignalFacts {
  type: string;
  reasons: readonly string[];
  kind: string;
  namespace?: string | undefined;
}

/** Which rule refused the signal, or undefined when it passes (the reason goes to the log). */
export function refusedBy(filter: SignalFilter, facts: SignalFacts): string | undefined {
  if (!allowed(filter.types, [facts.type])) return 'type';
  if (!allowed(filter.reasons, facts.reasons)) return 'reason';
  if (!allowed(filter.kinds, [facts.kind])) return 'kind';
  // Cluster-scoped objects (Nodes) have no namespace, so namespace rules do not apply to them:
  // leave them out by kind (EVENT_KINDS_EXCLUDE=Node).
  if (facts.namespace !== undefined && !allowed(filter.namespaces, [facts.namespace])) return 'namespace';
  return undefined;
}

export function filterFromSettings(s: {
  EVENT_TYPES: string;
  EVENT_REASONS_INCLUDE?: string | undefined;
  EVENT_REASONS_EXCLUDE: string;
  EVENT_KINDS_INCLUDE?: string | undefined;
  EVENT_KINDS_EXCLUDE?: string | undefined;
  EVENT_NAMESPACES_INCLUDE?: string | undefined;
  EVENT_NAMESPACES_EXCLUDE?: string | undefined;
}): SignalFilter {
  return {
    types: { include: parseList(s.EVENT_TYPES), exclude: [] },
    reasons: { include: parseList(s.EVENT_REASONS_INCLUDE), exclude: parseList(s.EVENT_REASONS_EXCLUDE) },
    kinds: { include: parseList(s.EVENT_KINDS_INCLUDE), exclude: parseList(s.EVENT_KINDS_EXCLUDE) },
    namespaces: {
      include: parseList(s.EVENT_NAMESPACES_INCLUDE),
      exclude: parseList(s.EVENT_NAMESPACES_EXCLUDE),
    },
  };
}
