// What changed between two pod templates, as an on-call engineer would want it said: images, env,
// resources, command and args, probes, volumes. Values from Secrets are named by their source,
// never shown; every literal value passes the log redaction patterns. Pure.
import type { V1Container, V1PodTemplateSpec } from '../kube.ts';
import { redact } from './redact.ts';

export type ChangeArea =
  | 'container'
  | 'image'
  | 'env'
  | 'resources'
  | 'command'
  | 'args'
  | 'probe'
  | 'volume'
  | 'annotation';

export interface TemplateChange {
  area: ChangeArea;
  /** The container it is about; absent for pod-level changes (volumes, annotations). */
  container?: string;
  /** Short, for a verdict: "image api:2.4.0 to 2.5.0", "env CACHE_MODE added". Names, no values. */
  short: string;
  /** With the (redacted) values: "env CACHE_MODE=lazy added". */
  detail: string;
}

type EnvVar = NonNullable<V1Container['env']>[number];
type Volume = NonNullable<NonNullable<V1PodTemplateSpec['spec']>['volumes']>[number];

/** How an env var is shown: a literal passes redaction, a reference names its source only. */
export function describeEnv(e: EnvVar, patterns: readonly RegExp[]): string {
  const from = e.valueFrom;
  if (from?.secretKeyRef) return `${e.name} from Secret ${from.secretKeyRef.name ?? ''}`.trim();
  if (from?.configMapKeyRef)
    return `${e.name} from ConfigMap ${from.configMapKeyRef.name ?? ''} key ${from.configMapKeyRef.key}`;
  if (from?.fieldRef) return `${e.name} from field ${from.fieldRef.fieldPath}`;
  if (from?.resourceFieldRef) return `${e.name} from resource ${from.resourceFieldRef.resource}`;
  if (from) return `${e.name} from a reference`;
  // NAME=value is the shape the redaction patterns know (PASSWORD=..., TOKEN=...).
  return redact(`${e.name}=${e.value ?? ''}`, patterns).text;
}

/** `registry/x/api:2.4.0` to `registry/x/api:2.5.0` reads "api:2.4.0 to 2.5.0". */
export function describeImageChange(before: string, after: string): string {
  const split = (img: string) => {
    const at = img.indexOf('@');
    const cut = at >= 0 ? at : img.lastIndexOf(':') > img.lastIndexOf('/') ? img.lastIndexOf(':') : -1;
    return cut < 0
      ? { repo: img, tag: 'latest', sep: ':' }
      : { repo: img.slice(0, cut), tag: img.slice(cut + 1), sep: img[cut] };
  };
  const a = split(before);
  const b = split(after);
  if (a.repo === b.repo) {
    const short = a.repo.slice(a.repo.lastIndexOf('/') + 1);
    return `${short}${a.sep}${a.tag} to ${b.tag}`;
  }
  return `${before} to ${after}`;
}

/** Leaves of a JSON value as `a.b.c` → value, for field-by-field comparison. */
function flatten(v: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (v === null || v === undefined) return out;
  if (Array.isArray(v)) {
    out.set(prefix, JSON.stringify(v));
    return out;
  }
  if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      flatten(x, prefix ? `${prefix}.${k}` : k, out);
    return out;
  }
  out.set(prefix, String(v));
  return out;
}

function fieldChanges(before: unknown, after: unknown): string[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: string[] = [];
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (x === y) continue;
    out.push(
      x === undefined ? `${k} ${y} added` : y === undefined ? `${k} ${x} removed` : `${k} ${x} to ${y}`,
    );
  }
  return out;
}

function diffEnv(
  c: string,
  before: EnvVar[],
  after: EnvVar[],
  patterns: readonly RegExp[],
): TemplateChange[] {
  const added: TemplateChange[] = [];
  const removed: TemplateChange[] = [];
  const changed: TemplateChange[] = [];
  const old = new Map(before.map((e) => [e.name, e]));
  const cur = new Map(after.map((e) => [e.name, e]));
  const env = (short: string, detail: string): TemplateChange => ({
    area: 'env',
    container: c,
    short,
    detail,
  });
  for (const [name, e] of cur) {
    const o = old.get(name);
    if (!o) added.push(env(`env ${name} added`, `env ${describeEnv(e, patterns)} added`));
    else if (JSON.stringify(o) !== JSON.stringify(e)) {
      changed.push(
        env(`env ${name} changed`, `env ${describeEnv(o, patterns)} to ${describeEnv(e, patterns)}`),
      );
    }
  }
  for (const [name, o] of old) {
    if (!cur.has(name)) removed.push(env(`env ${name} removed`, `env ${describeEnv(o, patterns)} removed`));
  }
  // A variable that appeared or went away says more about a new failure than a changed value.
  return [...added, ...removed, ...changed];
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

function diffContainer(
  before: V1Container,
  after: V1Container,
  patterns: readonly RegExp[],
): TemplateChange[] {
  const c = after.name;
  const out: TemplateChange[] = [];
  const safe = (s: string) => redact(s, patterns).text;
  if (before.image !== after.image) {
    const d = describeImageChange(before.image ?? '', after.image ?? '');
    out.push({
      area: 'image',
      container: c,
      short: `image ${d}`,
      detail: `image ${before.image} to ${after.image}`,
    });
  }
  out.push(...diffEnv(c, before.env ?? [], after.env ?? [], patterns));
  const envFrom = fieldChanges(before.envFrom, after.envFrom);
  if (envFrom.length)
    out.push({
      area: 'env',
      container: c,
      short: 'envFrom changed',
      detail: `envFrom ${envFrom.join('; ')}`,
    });
  const res = fieldChanges(before.resources, after.resources);
  if (res.length)
    out.push({
      area: 'resources',
      container: c,
      short: `resources ${res.join(', ')}`,
      detail: `resources ${res.join(', ')}`,
    });
  for (const f of ['command', 'args'] as const) {
    const a = JSON.stringify(before[f] ?? []);
    const b = JSON.stringify(after[f] ?? []);
    if (a !== b)
      out.push({ area: f, container: c, short: `${f} changed`, detail: safe(`${f} ${a} to ${b}`) });
  }
  for (const p of PROBES) {
    const ch = fieldChanges(before[p], after[p]);
    if (ch.length)
      out.push({ area: 'probe', container: c, short: `${p} changed`, detail: safe(`${p} ${ch.join(', ')}`) });
  }
  return out;
}

function volumeSource(v: Volume): string {
  if (v.secret) return `Secret ${v.secret.secretName ?? ''}`.trim();
  if (v.configMap) return `ConfigMap ${v.configMap.name ?? ''}`.trim();
  if (v.persistentVolumeClaim) return `PVC ${v.persistentVolumeClaim.claimName}`;
  if (v.emptyDir) return 'emptyDir';
  if (v.hostPath) return `hostPath ${v.hostPath.path}`;
  if (v.projected) return 'projected';
  const kind = Object.keys(v).find((k) => k !== 'name');
  return kind ?? 'unknown';
}

function diffVolumes(before: Volume[], after: Volume[]): TemplateChange[] {
  const out: TemplateChange[] = [];
  const old = new Map(before.map((v) => [v.name, v]));
  const cur = new Map(after.map((v) => [v.name, v]));
  for (const [name, v] of cur) {
    const o = old.get(name);
    if (!o)
      out.push({
        area: 'volume',
        short: `volume ${name} added`,
        detail: `volume ${name} (${volumeSource(v)}) added`,
      });
    else if (JSON.stringify(o) !== JSON.stringify(v)) {
      out.push({
        area: 'volume',
        short: `volume ${name} changed`,
        detail: `volume ${name} ${volumeSource(o)} to ${volumeSource(v)}`,
      });
    }
  }
  for (const [name, o] of old) {
    if (!cur.has(name))
      out.push({
        area: 'volume',
        short: `volume ${name} removed`,
        detail: `volume ${name} (${volumeSource(o)}) removed`,
      });
  }
  return out;
}

function diffContainers(
  kind: string,
  before: V1Container[],
  after: V1Container[],
  patterns: readonly RegExp[],
) {
  const out: TemplateChange[] = [];
  const old = new Map(before.map((c) => [c.name, c]));
  for (const c of after) {
    const o = old.get(c.name);
    if (!o)
      out.push({
        area: 'container',
        container: c.name,
        short: `${kind} ${c.name} added`,
        detail: `${kind} ${c.name} (${c.image}) added`,
      });
    else out.push(...diffContainer(o, c, patterns));
  }
  for (const o of before) {
    if (!after.some((c) => c.name === o.name)) {
      out.push({
        area: 'container',
        container: o.name,
        short: `${kind} ${o.name} removed`,
        detail: `${kind} ${o.name} removed`,
      });
    }
  }
  return out;
}

// Annotations the controllers and kubectl write on the template: a restart is a change too.
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** Every change from `before` to `after`, containers first, in a stable order. */
export function diffTemplates(
  before: V1PodTemplateSpec | undefined,
  after: V1PodTemplateSpec | undefined,
  patterns: readonly RegExp[],
): TemplateChange[] {
  const out: TemplateChange[] = [
    ...diffContainers(
      'init container',
      before?.spec?.initContainers ?? [],
      after?.spec?.initContainers ?? [],
      patterns,
    ),
    ...diffContainers('container', before?.spec?.containers ?? [], after?.spec?.containers ?? [], patterns),
    ...diffVolumes(before?.spec?.volumes ?? [], after?.spec?.volumes ?? []),
  ];
  const a = before?.metadata?.annotations ?? {};
  const b = after?.metadata?.annotations ?? {};
  if (a[RESTARTED_AT] !== b[RESTARTED_AT] && b[RESTARTED_AT] !== undefined) {
    out.push({
      area: 'annotation',
      short: 'restart (kubectl rollout restart)',
      detail: `annotation ${RESTARTED_AT} ${b[RESTARTED_AT]}`,
    });
  }
  return out;
}

/** The ConfigMaps a template reads (env, envFrom, volumes, projected volumes), each once. */
export function configMapRefs(t: V1PodTemplateSpec | undefined): string[] {
  const names = new Set<string>();
  const containers = [...(t?.spec?.initContainers ?? []), ...(t?.spec?.containers ?? [])];
  for (const c of containers) {
    for (const e of c.env ?? [])
      if (e.valueFrom?.configMapKeyRef?.name) names.add(e.valueFrom.configMapKeyRef.name);
    for (const e of c.envFrom ?? []) if (e.configMapRef?.name) names.add(e.configMapRef.name);
  }
  for (const v of t?.spec?.volumes ?? []) {
    if (v.configMap?.name) names.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) if (s.configMap?.name) names.add(s.configMap.name);
  }
  return [...names];
}
