// W3C trace context carried between stages in the CloudEvents `traceparent` extension.
// Spans are exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; the exporter
// module is imported lazily so a function without tracing pays nothing at start-up.
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { Span, SpanContext, SpanExporter } from './span.ts';

export type { Span, SpanContext, SpanExporter };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return undefined;
  return {
    traceId: m[1] as string,
    spanId: m[2] as string,
    sampled: (Number.parseInt(m[3] as string, 16) & 1) === 1,
  };
}

export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

// Span and trace ids come from a pool of random bytes refilled 4 KiB at a time: one
// randomBytes() call per span was ~3% of an alert-ingest request.
const POOL_BYTES = 4096;
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;

/**
 * The kernel's random bytes, read from /dev/urandom: what node:crypto's randomBytes() returns,
 * without loading node:crypto (and OpenSSL's set-up) into functions that need nothing else from
 * it (lib/platform/digest.ts). Where /dev/urandom cannot be read, node:crypto it is: in the bundles it
 * loads only then (scripts/build.ts).
 */
export function kernelRandom(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buf, at, size - at, null);
      if (n <= 0) throw new Error('/dev/urandom gave no bytes');
      at += n;
    }
    return buf;
  } catch {
    return randomFillSync(buf);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    pool = kernelRandom(POOL_BYTES);
    poolAt = 0;
  }
  poolAt += bytes;
  return pool.toString('hex', poolAt - bytes, poolAt);
}

/** Starts a span as a child of `parent` (or a new trace). Its context goes on outgoing events. */
export function startSpan(
  name: string,
  parent: SpanContext | undefined,
  attributes: Span['attributes'] = {},
): Span {
  const context: SpanContext = {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    sampled: parent?.sampled ?? true,
  };
  const span: Span = { name, context, startNs: process.hrtime.bigint(), attributes };
  if (parent) span.parentSpanId = parent.spanId;
  return span;
}

let exporterPromise: Promise<SpanExporter | undefined> | undefined;

/** The OTLP exporter when configured; undefined (and never imported) otherwise. */
export function getExporter(env: NodeJS.ProcessEnv = process.env): Promise<SpanExporter | undefined> {
  if (!exporterPromise) {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
    exporterPromise = endpoint
      ? import('./otlp.ts').then((m) => m.createOtlpExporter(env, endpoint))
      : Promise.resolve(undefined);
  }
  return exporterPromise;
}

/** Ends a span and hands it to the exporter, if any. Never throws: tracing must not fail a request. */
export function endSpan(span: Span, error?: unknown): void {
  span.endNs = process.hrtime.bigint();
  if (error !== undefined) span.error = error instanceof Error ? error.name : 'error';
  if (!span.context.sampled) return;
  getExporter()
    .then((e) => e?.export(span))
    .catch(() => {});
}

/** For tests: forget the cached exporter so a new environment takes effect. */
export function resetExporter(): void {
  exporterPromise = undefined;
}
