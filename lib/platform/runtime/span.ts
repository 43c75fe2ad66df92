// What a span is and who exports it: shared by the tracer (trace.ts) and the OTLP exporter it
// loads lazily (otlp.ts).

export interface SpanContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

export interface Span {
  name: string;
  context: SpanContext;
  parentSpanId?: string;
  startNs: bigint;
  endNs?: bigint;
  attributes: Record<string, string | number | boolean>;
  error?: string;
}

export interface SpanExporter {
  export(span: Span): void;
  shutdown(): Promise<void>;
}
