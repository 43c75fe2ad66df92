// Knative Trigger filter semantics (`filter.attributes` and the `filters[]` dialects), applied to
// the flat map of an event's context attributes and extensions. Invalid filters fail at load.
import type { CloudEvent } from 'cloudevents';
import * as z from 'zod';
import { BadRequestError } from '../../lib/platform/errors.ts';

/** Knative's attribute-name rule for filter keys (also the CloudEvents extension-name rule). */
export const FILTER_KEY = /^[a-z][a-z0-9]*$/;

/** Context attributes and extensions as strings: what Knative filters see (never `data`). */
export type EventAttributes = Readonly<Record<string, string>>;

const attributeMap = z.record(
  z.string().regex(FILTER_KEY, 'attribute names must match ^[a-z][a-z0-9]*$'),
  z.string(),
);

/** The legacy `spec.filter`: every listed attribute must equal its value exactly. */
export const AttributesFilter = z.object({ attributes: attributeMap.optional() }).strict();
export type AttributesFilter = z.infer<typeof AttributesFilter>;

/** One item of `spec.filters` (the Subscriptions API dialects). */
export interface SubscriptionsApiFilter {
  exact?: Record<string, string> | undefined;
  prefix?: Record<string, string> | undefined;
  suffix?: Record<string, string> | undefined;
  all?: SubscriptionsApiFilter[] | undefined;
  any?: SubscriptionsApiFilter[] | undefined;
  not?: SubscriptionsApiFilter | undefined;
  cesql?: string | undefined;
}

// Strict, so a misspelt dialect (`exacts:`) is an error instead of a filter that matches everything.
export const SubscriptionsApiFilter: z.ZodType<SubscriptionsApiFilter> = z.lazy(() =>
  z
    .object({
      exact: attributeMap.optional(),
      prefix: attributeMap.optional(),
      suffix: attributeMap.optional(),
      all: z.array(SubscriptionsApiFilter).optional(),
      any: z.array(SubscriptionsApiFilter).optional(),
      not: SubscriptionsApiFilter.optional(),
      cesql: z.string().optional(),
    })
    .strict(),
);

/** A filter Knative itself would reject, or one this local broker cannot evaluate. */
export class InvalidFilterError extends BadRequestError {}

const DIALECTS = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'] as const;

function dialectsOf(item: SubscriptionsApiFilter): string[] {
  // Same test as Knative's hasMultipleDialects: empty maps and lists do not count as set.
  return DIALECTS.filter((d) => {
    const v = item[d];
    if (v === undefined) return false;
    if (typeof v === 'string') return v !== '';
    if (Array.isArray(v)) return v.length > 0;
    return d === 'not' || Object.keys(v).length > 0;
  });
}

/**
 * Throws InvalidFilterError for what Knative's webhook rejects (two dialects in one item, more
 * than one key in exact/prefix/suffix) and for `cesql`, which the local broker cannot run: a
 * trigger silently matching nothing (or everything) locally would hide a wiring bug.
 */
export function validateFilters(filters: readonly SubscriptionsApiFilter[], path = 'filters'): void {
  for (const [i, item] of filters.entries()) validateItem(item, `${path}[${i}]`);
}

function validateItem(item: SubscriptionsApiFilter, path: string): void {
  const set = dialectsOf(item);
  if (set.length > 1) {
    throw new InvalidFilterError(
      `${path}: multiple dialects found (${set.join(', ')}), filters can have only one dialect set`,
    );
  }
  for (const d of ['exact', 'prefix', 'suffix'] as const) {
    const map = item[d];
    if (map && Object.keys(map).length > 1) {
      throw new InvalidFilterError(`${path}.${d}: multiple items found, can have only one key-value`);
    }
  }
  if (item.cesql !== undefined && item.cesql !== '') {
    throw new InvalidFilterError(
      `${path}.cesql: CESQL filters are not supported by the local broker; use exact/prefix/suffix/all/any/not`,
    );
  }
  if (item.all) validateFilters(item.all, `${path}.all`);
  if (item.any) validateFilters(item.any, `${path}.any`);
  if (item.not) validateItem(item.not, `${path}.not`);
}

/** `""` means "present and non-empty"; a missing attribute never matches. */
export function matchesAttributes(
  attributes: Readonly<Record<string, string>>,
  event: EventAttributes,
): boolean {
  return Object.entries(attributes).every(([key, want]) => {
    const have = event[key];
    if (have === undefined) return false;
    return want === '' ? have !== '' : have === want;
  });
}

function matchesEach(
  map: Readonly<Record<string, string>>,
  event: EventAttributes,
  test: (have: string, want: string) => boolean,
): boolean {
  return Object.entries(map).every(([key, want]) => {
    const have = event[key];
    return have !== undefined && test(have, want);
  });
}

/** Evaluates one validated item; an item with no dialect set matches everything (as in Knative). */
export function matchesItem(item: SubscriptionsApiFilter, event: EventAttributes): boolean {
  const [dialect] = dialectsOf(item);
  switch (dialect) {
    case 'exact':
      return matchesEach(item.exact ?? {}, event, (have, want) => have === want);
    case 'prefix':
      return matchesEach(item.prefix ?? {}, event, (have, want) => have.startsWith(want));
    case 'suffix':
      return matchesEach(item.suffix ?? {}, event, (have, want) => have.endsWith(want));
    case 'all':
      return (item.all ?? []).every((f) => matchesItem(f, event));
    case 'any':
      return (item.any ?? []).some((f) => matchesItem(f, event));
    case 'not':
      return item.not ? !matchesItem(item.not, event) : true;
    case 'cesql':
      throw new InvalidFilterError('CESQL filters are not supported by the local broker');
    default:
      return true;
  }
}

export interface TriggerFilterSpec {
  filter?: AttributesFilter | undefined;
  filters?: readonly SubscriptionsApiFilter[] | undefined;
}

/**
 * Whether a Knative Trigger's filter lets an event's attributes through: `filters` wins over
 * `filter` when both are set; neither set accepts all.
 */
export function triggerFilterAccepts(spec: TriggerFilterSpec, event: EventAttributes): boolean {
  if (spec.filters && spec.filters.length > 0) return spec.filters.every((f) => matchesItem(f, event));
  return matchesAttributes(spec.filter?.attributes ?? {}, event);
}

/** Context attributes and extensions of an event as strings, the way the broker filters see them. */
export function eventAttributes(event: CloudEvent<unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === 'data' || key === 'data_base64' || value === undefined || value === null) continue;
    if (typeof value === 'function') continue;
    out[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  return out;
}
