// Loads the Trigger and Broker manifests under knative/ into typed, validated objects, so the
// local broker runs exactly the wiring that `kubectl apply -k knative/` deploys.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as z from 'zod';
import { BadRequestError } from '../../lib/platform/errors.ts';
import { formatZodError } from '../../lib/platform/zod.ts';
import { AttributesFilter, InvalidFilterError, SubscriptionsApiFilter, validateFilters } from './filter.ts';

/** A manifest the local broker refuses to run: wrong shape, bad duration, unsupported filter. */
export class InvalidTriggerError extends BadRequestError {}

const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * ISO-8601 duration to milliseconds (`PT0.2S`, `PT1M`, `P1DT2H`). Years and months are refused:
 * their length depends on the calendar, and no delivery setting needs them.
 */
export function parseIsoDuration(text: string): number {
  const m = ISO_DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) {
    throw new InvalidTriggerError(
      `invalid ISO-8601 duration ${JSON.stringify(text)} (expected e.g. PT0.2S, PT1M)`,
    );
  }
  const [, w, d, h, min, s] = m.map((v) => (v === undefined ? 0 : Number(v)));
  const seconds = (w ?? 0) * 604800 + (d ?? 0) * 86400 + (h ?? 0) * 3600 + (min ?? 0) * 60 + (s ?? 0);
  return Math.round(seconds * 1000);
}

const isoDuration = z.string().transform((text, ctx) => {
  try {
    return parseIsoDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const Destination = z
  .object({
    ref: z
      .object({
        apiVersion: z.string().optional(),
        kind: z.string().min(1),
        name: z.string().min(1),
        namespace: z.string().optional(),
      })
      .optional(),
    uri: z.string().min(1).optional(),
  })
  .refine((d) => d.ref !== undefined || d.uri !== undefined, { message: 'needs ref or uri' });
export type Destination = z.infer<typeof Destination>;

const DeliverySpec = z.object({
  retry: z.number().int().min(0).optional(),
  backoffPolicy: z.enum(['linear', 'exponential']).optional(),
  backoffDelay: isoDuration.optional(),
  timeout: isoDuration.optional(),
  retryAfterMax: isoDuration.optional(),
  deadLetterSink: Destination.optional(),
});
type DeliverySpec = z.infer<typeof DeliverySpec>;

/** Delivery settings with durations in milliseconds and Knative's defaults filled in. */
export interface Delivery {
  /** Extra attempts after the first. */
  retry: number;
  backoffPolicy: 'linear' | 'exponential';
  backoffDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Set only when the manifest sets retryAfterMax: Retry-After is ignored otherwise. */
  retryAfterMaxMs?: number;
  deadLetterSink?: Destination;
}

/** Knative's config-br-defaults; the timeout has no Knative default, so a hung subscriber cannot stall us. */
export const DEFAULT_DELIVERY: Delivery = {
  retry: 10,
  backoffPolicy: 'exponential',
  backoffDelayMs: 200,
  timeoutMs: 60_000,
};

function toDelivery(spec: DeliverySpec): Delivery {
  const out: Delivery = {
    retry: spec.retry ?? DEFAULT_DELIVERY.retry,
    backoffPolicy: spec.backoffPolicy ?? DEFAULT_DELIVERY.backoffPolicy,
    backoffDelayMs: spec.backoffDelay ?? DEFAULT_DELIVERY.backoffDelayMs,
    timeoutMs: spec.timeout ?? DEFAULT_DELIVERY.timeoutMs,
  };
  if (spec.retryAfterMax !== undefined) out.retryAfterMaxMs = spec.retryAfterMax;
  if (spec.deadLetterSink !== undefined) out.deadLetterSink = spec.deadLetterSink;
  return out;
}

const Metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const TriggerManifest = z.object({
  apiVersion: z.literal('eventing.knative.dev/v1'),
  kind: z.literal('Trigger'),
  metadata: Metadata,
  spec: z.object({
    broker: z.string().min(1),
    filter: AttributesFilter.optional(),
    filters: z.array(SubscriptionsApiFilter).optional(),
    subscriber: Destination,
    delivery: DeliverySpec.optional(),
  }),
});

const BrokerManifest = z.object({
  apiVersion: z.literal('eventing.knative.dev/v1'),
  kind: z.literal('Broker'),
  metadata: Metadata,
  spec: z.looseObject({ delivery: DeliverySpec.optional() }).optional(),
});

export interface Trigger {
  name: string;
  broker: string;
  filter?: AttributesFilter;
  filters?: SubscriptionsApiFilter[];
  subscriber: Destination;
  /** The Trigger's own delivery if set, else the Broker's whole object, else the defaults. */
  delivery: Delivery;
  annotations: Record<string, string>;
  /** The file it came from, for error messages. */
  file?: string;
}

export interface BrokerConfig {
  name: string;
  /** undefined when the Broker manifest has no `delivery`. */
  delivery?: Delivery;
}

function parseDocs(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) {
      throw new InvalidTriggerError(`${file}: invalid YAML: ${doc.errors[0]?.message}`, {
        cause: doc.errors[0],
      });
    }
    const value: unknown = doc.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

/** Validates one Trigger document; `brokerDelivery` applies only when the Trigger has none. */
export function parseTrigger(doc: unknown, brokerDelivery?: Delivery, file?: string): Trigger {
  const where = file ? `${file}: ` : '';
  const parsed = TriggerManifest.safeParse(doc);
  if (!parsed.success)
    throw new InvalidTriggerError(`${where}invalid Trigger: ${formatZodError(parsed.error)}`);
  const { metadata, spec } = parsed.data;
  try {
    if (spec.filters) validateFilters(spec.filters, 'spec.filters');
  } catch (err) {
    if (err instanceof InvalidFilterError) {
      throw new InvalidTriggerError(`${where}Trigger ${metadata.name}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  // Knative rule: a Trigger's delivery replaces the Broker's whole object, field by field nothing merges.
  const delivery = spec.delivery ? toDelivery(spec.delivery) : (brokerDelivery ?? DEFAULT_DELIVERY);
  const trigger: Trigger = {
    name: metadata.name,
    broker: spec.broker,
    subscriber: spec.subscriber,
    delivery,
    annotations: metadata.annotations ?? {},
  };
  if (spec.filter) trigger.filter = spec.filter;
  if (spec.filters) trigger.filters = spec.filters;
  if (file) trigger.file = file;
  return trigger;
}

/** Reads the named Broker from a manifest file (which may hold several documents). */
export async function loadBroker(file: string, name: string): Promise<BrokerConfig> {
  const docs = parseDocs(await readFile(file, 'utf8'), file);
  for (const doc of docs) {
    const kind = (doc as { kind?: unknown }).kind;
    if (kind !== 'Broker') continue;
    const parsed = BrokerManifest.safeParse(doc);
    if (!parsed.success)
      throw new InvalidTriggerError(`${file}: invalid Broker: ${formatZodError(parsed.error)}`);
    if (parsed.data.metadata.name !== name) continue;
    const spec = parsed.data.spec?.delivery;
    return spec ? { name, delivery: toDelivery(spec) } : { name };
  }
  throw new InvalidTriggerError(`${file}: no Broker named ${name}`);
}

export interface LoadTriggersOptions {
  /** Directory of Trigger manifests, one `*.yaml` per Trigger. */
  dir: string;
  /** Broker defaults for Triggers without their own `delivery`. */
  broker?: BrokerConfig;
}

/** Every Trigger under `dir` for `broker` (all brokers if none given), sorted by name. */
export async function loadTriggers(opts: LoadTriggersOptions): Promise<Trigger[]> {
  const files = (await readdir(opts.dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const triggers: Trigger[] = [];
  for (const f of files) {
    const file = path.join(opts.dir, f);
    for (const doc of parseDocs(await readFile(file, 'utf8'), file)) {
      if ((doc as { kind?: unknown }).kind !== 'Trigger') continue;
      const trigger = parseTrigger(doc, opts.broker?.delivery, file);
      if (opts.broker && trigger.broker !== opts.broker.name) continue;
      triggers.push(trigger);
    }
  }
  const names = new Set<string>();
  for (const t of triggers) {
    if (names.has(t.name)) throw new InvalidTriggerError(`duplicate Trigger name ${t.name}`);
    names.add(t.name);
  }
  return triggers.sort((a, b) => a.name.localeCompare(b.name));
}

export interface KnativeWiringOptions {
  /** The knative/ directory; defaults to the repository's. */
  root?: string;
  brokerName?: string;
}

export const DEFAULT_KNATIVE_ROOT = path.resolve(import.meta.dirname, '../../knative');
export const DEFAULT_BROKER_NAME = 'kubeincident';

/** The Broker and its Triggers exactly as deployed: knative/broker.yaml + knative/triggers/. */
export async function loadKnativeWiring(
  opts: KnativeWiringOptions = {},
): Promise<{ broker: BrokerConfig; triggers: Trigger[] }> {
  const root = opts.root ?? DEFAULT_KNATIVE_ROOT;
  const broker = await loadBroker(path.join(root, 'broker.yaml'), opts.brokerName ?? DEFAULT_BROKER_NAME);
  const triggers = await loadTriggers({ dir: path.join(root, 'triggers'), broker });
  return { broker, triggers };
}

/** A copy of the triggers with delivery settings replaced, e.g. short backoffs in tests. */
export function withDelivery(triggers: readonly Trigger[], patch: Partial<Delivery>): Trigger[] {
  return triggers.map((t) => ({ ...t, delivery: { ...t.delivery, ...patch } }));
}

/** Knative service name a subscriber points at (ref.name), or its URI. */
export function subscriberName(trigger: Trigger): string {
  return trigger.subscriber.ref?.name ?? trigger.subscriber.uri ?? trigger.name;
}
