// Workload changes (config `changeTracking:`): the pod template as it is kept between updates
// (secrets sealed), what changed said in one line, the `change` issue, and the line an incident
// that follows the change gets. Pure.
import * as z from 'zod';
import { sha256Hex } from '../platform/digest.ts';
import { TRACKED_KINDS } from './config/change-tracking.ts';
import { REDACTED, redact } from './diagnose/redact.ts';
import { diffTemplates, type TemplateChange } from './diagnose/template-diff.ts';
import { occurrenceId } from './events.ts';
import type { Issue } from './issue.ts';
import type { V1Container, V1PodTemplateSpec } from './kube.ts';

/** The part of a Deployment, StatefulSet or DaemonSet that change tracking reads. */
export const TrackedObject = z.object({
  kind: z.enum(TRACKED_KINDS),
  metadata: z.object({
    uid: z.string().min(1).max(128),
    name: z.string().min(1).max(253),
    namespace: z.string().min(1).max(63),
    /** Bumped by the API server on every spec change (template, replicas, strategy). */
    generation: z.number().int().nonnegative().default(0),
    resourceVersion: z.string().max(64).default(''),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object({ template: z.record(z.string(), z.unknown()).optional() }).default({}),
});
export type TrackedObject = z.infer<typeof TrackedObject>;

export const templateOf = (o: TrackedObject): V1PodTemplateSpec =>
  (o.spec.template ?? {}) as V1PodTemplateSpec;

// A literal the redaction patterns call a secret is kept as this marker plus a hash of it: a
// changed password still reads as a change, and neither the store nor any message holds it.
const SEAL = / \(sealed [0-9a-f]{16}\)/g;
const sealed = (text: string) => `${REDACTED} (sealed ${sha256Hex(text).slice(0, 16)})`;

function sealContainer(c: V1Container, patterns: readonly RegExp[]): V1Container {
  const word = (s: string) => {
    const r = redact(s, patterns);
    return r.count ? `${r.text}${sealed(s).slice(REDACTED.length)}` : s;
  };
  const out: V1Container = { ...c };
  if (c.env)
    out.env = c.env.map((e) =>
      e.value !== undefined && redact(`${e.name}=${e.value}`, patterns).count
        ? { ...e, value: sealed(`${e.name}=${e.value}`) }
        : e,
    );
  if (c.command) out.command = c.command.map(word);
  if (c.args) out.args = c.args.map(word);
  return out;
}

/** The template with every secret-looking literal (env values, command, args) sealed. */
export function sealTemplate(t: V1PodTemplateSpec, patterns: readonly RegExp[]): V1PodTemplateSpec {
  if (!t.spec) return t;
  const spec = { ...t.spec, containers: t.spec.containers.map((c) => sealContainer(c, patterns)) };
  if (t.spec.initContainers)
    spec.initContainers = t.spec.initContainers.map((c) => sealContainer(c, patterns));
  return { ...t, spec };
}

/** What changed between two sealed templates, the seal hashes taken out of every line. */
export function templateChanges(
  before: V1PodTemplateSpec,
  after: V1PodTemplateSpec,
  patterns: readonly RegExp[],
): TemplateChange[] {
  return diffTemplates(before, after, patterns).map((c) => ({
    ...c,
    short: c.short.replace(SEAL, ''),
    detail: c.detail.replace(SEAL, ''),
  }));
}

/** "image api:2.4.0 to 2.5.0, env CACHE_MODE added and 2 more": names, never values. */
export function summarize(changes: readonly TemplateChange[], max = 3): string {
  const shown = [...new Set(changes.map((c) => c.short))];
  const head = shown.slice(0, max).join(', ');
  return shown.length > max ? `${head} and ${shown.length - max} more` : head;
}

/** One tracked change, as the store keeps it for redeliveries and for the incidents after it. */
export interface ChangeRecord {
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  /** resourceVersion of the delivery that saw it: its redelivery re-sends the same issue. */
  rv: string;
  at: string;
  summary: string;
  details: string[];
  destination: string;
  /** Epoch ms until which an incident on the workload links back to it. */
  until: number;
}

export function changeIssue(c: ChangeRecord, cluster: string | undefined): Issue {
  const fp = occurrenceId('change', cluster ?? '', c.uid, String(c.generation)).slice(0, 16);
  const title = `${c.kind} ${c.namespace}/${c.name} changed: ${c.summary}`.slice(0, 1000);
  const labels: Record<string, string> = {
    kind: c.kind,
    namespace: c.namespace,
    [c.kind.toLowerCase()]: c.name,
    workload: `${c.kind}/${c.name}`,
    changedestination: c.destination,
  };
  const issue: Issue = {
    id: occurrenceId('change', fp),
    fingerprint: fp,
    type: 'change',
    source: 'kubernetes',
    title,
    severity: 'INFO',
    status: 'firing',
    subject: { kind: c.kind, name: c.name, namespace: c.namespace },
    labels,
    annotations: { generation: String(c.generation) },
    links: [],
    startsAt: c.at,
    enrichments: [
      {
        source: 'change-tracking',
        title: 'What changed',
        about: c.name,
        verdict: c.summary,
        blocks: [{ type: 'list', items: c.details }],
      },
    ],
    // Nothing to enrich: the change is the whole message.
    plan: ['dispatch'],
  };
  if (cluster) issue.cluster = cluster;
  return issue;
}
