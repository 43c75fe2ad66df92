// The `changeTracking:` section of the configuration file (the babysitter): which workloads'
// spec changes are posted, where, and how long after a change an incident links back to it.
// Off by default: with no rules nothing is tracked or stored. docs/workloads.md.
import * as z from 'zod';
import { MATCHER } from './matcher-syntax.ts';
import { Duration } from './prometheus.ts';

export const TRACKED_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type TrackedKind = (typeof TRACKED_KINDS)[number];

const Matcher = z.string().refine((s) => MATCHER.test(s), {
  message: 'expected a matcher like name="value", name!="value", name=~"regex" or name!~"regex"',
});
const oneOrMany = <T extends z.ZodType>(t: T) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(t));
const StringMatch = z.union([z.string(), z.strictObject({ regex: z.string() })]);

export const ChangeRule = z.strictObject({
  name: z.string().min(1),
  /** Workload kinds; all three when left out. */
  kinds: oneOrMany(z.enum(TRACKED_KINDS)).optional(),
  /** Namespaces, by name or `{regex: ...}` (anchored); every namespace when left out. */
  namespace: oneOrMany(StringMatch).optional(),
  /** Matchers on the workload's own labels (metadata.labels), all of which must hold. */
  matchers: z.array(Matcher).optional(),
  /** Where the change message goes: a name from `destinations:` (or `default`). */
  destination: z.string().min(1),
  /** An incident on the workload that starts this long after the change links to it. */
  window: Duration.default(1800),
});
export type ChangeRule = z.infer<typeof ChangeRule>;

export const ChangeTracking = z
  .strictObject({
    /** Tried in order; the first that matches a workload decides where its changes go. */
    rules: z.array(ChangeRule).default([]),
  })
  .prefault({});
export type ChangeTracking = z.infer<typeof ChangeTracking>;
