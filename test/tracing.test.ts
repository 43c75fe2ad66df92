// Trace export is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; when set, every handled
// request becomes an OTLP span in the trace the CloudEvent carried.
import test from 'ava';
import { CloudEvent, HTTP } from 'cloudevents';
import { createFunctionServer } from '../lib/platform/runtime/server.ts';
import { getExporter, resetExporter } from '../lib/platform/runtime/trace.ts';
import { captureLogs } from './support/logs.ts';
import { startRecordingSink } from './support/sink.ts';

test.serial('tracing: no exporter is loaded when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async (t) => {
  resetExporter();
  t.is(await getExporter({}), undefined);
});

test.serial('tracing: spans are exported over OTLP/HTTP JSON, in the trace the event carried', async (t) => {
  const collector = await startRecordingSink(200);
  resetExporter();
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url.replace(/\/$/, ''),
    OTEL_SERVICE_NAME: 'enrich-pod',
  };
  const exporter = await getExporter(env);
  t.truthy(exporter);
  const fs = createFunctionServer(
    { handle: () => undefined },
    { name: 'enrich-pod', log: captureLogs().log },
  );
  const port = await fs.listen(0, '127.0.0.1');
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const msg = HTTP.binary(
    new CloudEvent({
      type: 'dev.test.v1',
      source: '/t',
      data: {},
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    }),
  );
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: msg.headers as Record<string, string>,
    body: msg.body as string,
  });
  t.is(res.status, 204);
  await exporter?.shutdown();
  const post = collector.requests.find((r) => r.path === '/v1/traces');
  if (!post) return t.fail('no OTLP export');
  const body = JSON.parse(post.body);
  const span = body.resourceSpans[0].scopeSpans[0].spans[0];
  t.is(span.traceId, traceId);
  t.is(span.parentSpanId, '00f067aa0ba902b7');
  t.is(body.resourceSpans[0].resource.attributes[0].value.stringValue, 'enrich-pod');
  t.true(span.attributes.some((a: { key: string }) => a.key === 'cloudevents.event_type'));
  await fs.drain(100);
  await collector.close();
  resetExporter();
});
