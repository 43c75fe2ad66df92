// OTLP/HTTP JSON span exporter: batches spans and POSTs them to <endpoint>/v1/traces.
// Our own ~60 lines instead of the OpenTelemetry SDK, which would add megabytes to every bundle.
import type { Span, SpanExporter } from './span.ts';

export function createOtlpExporter(env: NodeJS.ProcessEnv, endpoint: string): SpanExporter {
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const serviceName = env.OTEL_SERVICE_NAME ?? env.K_SERVICE ?? 'kubeincident';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const pair of (env.OTEL_EXPORTER_OTLP_HEADERS ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i > 0)
      headers[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(pair.slice(i + 1).trim());
  }
  let batch: Span[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return inflight;
    const spans = batch;
    batch = [];
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }] },
          scopeSpans: [
            {
              scope: { name: 'kubeincident' },
              spans: spans.map((s) => ({
                traceId: s.context.traceId,
                spanId: s.context.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                kind: 2, // SERVER: every span here is one handled request
                startTimeUnixNano: String(toUnixNs(s.startNs)),
                endTimeUnixNano: String(toUnixNs(s.endNs ?? s.startNs)),
                attributes: Object.entries(s.attributes).map(([key, v]) => ({
                  key,
                  value:
                    typeof v === 'number'
                      ? { doubleValue: v }
                      : typeof v === 'boolean'
                        ? { boolValue: v }
                        : { stringValue: v },
                })),
                status: s.error ? { code: 2, message: s.error } : { code: 1 },
              })),
            },
          ],
        },
      ],
    };
    inflight = fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    })
      .then(() => undefined)
      .catch(() => undefined); // Losing spans is acceptable; failing requests because of them is not.
    return inflight;
  };

  return {
    export(span) {
      batch.push(span);
      if (batch.length >= 100) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), 1000);
        timer.unref();
      }
    },
    async shutdown() {
      await flush();
    },
  };
}

// hrtime is monotonic with an arbitrary origin; anchor it once to wall-clock time.
const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
function toUnixNs(hr: bigint): bigint {
  return originNs + hr;
}
