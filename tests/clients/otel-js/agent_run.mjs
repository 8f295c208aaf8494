// An agent run traced with the OpenTelemetry JS SDK, exported as its users export it: the batch
// span processor and the OTLP/HTTP protobuf exporter, configured by the OTEL_* variables.
//
//   node agent_run.mjs one-export   # an HTTP server span around an agent and its tool: one batch
//   node agent_run.mjs late-root    # an agent that runs past the batch delay: children go first
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const scenario = process.argv[2];
// The SDK's default delay is 5 s; the late-root run uses a short one so that its waits stay short.
const delayMs = scenario === 'late-root' ? 100 : 5000;
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'travel-api' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: delayMs })],
});
const tracer = provider.getTracer('flightdeck-tests');
const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
const agent = (name, parent) =>
  tracer.startSpan(`invoke_agent ${name}`, {
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': name },
  }, parent);
const tool = (name, call, parent) =>
  tracer.startSpan(`execute_tool ${name}`, {
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name, 'gen_ai.tool.call.id': call },
  }, parent).end();
const waitForExport = () => new Promise((done) => setTimeout(done, delayMs * 5));

let planner;
if (scenario === 'one-export') {
  const http = tracer.startSpan('POST /plan', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST' } }, ROOT_CONTEXT);
  planner = agent('planner', under(http));
  tool('search_flights', 'call_1', under(planner));
  planner.end();
  http.end();
} else if (scenario === 'late-root') {
  planner = agent('planner', ROOT_CONTEXT);
  const researcher = agent('researcher', under(planner));
  tool('search_flights', 'call_1', under(researcher));
  await waitForExport();
  researcher.end();
  await waitForExport();
  tool('book_hotel', 'call_2', under(planner));
  await waitForExport();
  planner.end();
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
await provider.shutdown();
console.log(planner.spanContext().traceId);
