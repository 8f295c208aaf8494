"""An agent run traced with the OpenTelemetry Python SDK, exported as its users export it: the
batch span processor and the OTLP/HTTP protobuf exporter, configured by the OTEL_* variables.

    python agent_run.py one-export   # an HTTP server span around an agent and its tool: one batch
    python agent_run.py late-root    # an agent that runs past the batch delay: children go first
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context

scenario = sys.argv[1]
# The SDK's default delay is 5 s; the late-root run uses a short one so that its waits stay short.
delay_ms = 100 if scenario == "late-root" else 5000
provider = TracerProvider(resource=Resource.create({"service.name": "travel-api"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=delay_ms))
tracer = provider.get_tracer("flightdeck-tests")


def agent(name, parent):
    attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
    return tracer.start_span(f"invoke_agent {name}", context=parent, attributes=attributes)


def tool(name, call, parent):
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call}
    span = tracer.start_span(f"execute_tool {name}", context=parent, attributes=attributes)
    span.end()


def wait_for_export():
    time.sleep(delay_ms * 5 / 1000)


if scenario == "one-export":
    http = tracer.start_span("POST /plan", kind=SpanKind.SERVER, attributes={"http.request.method": "POST"})
    planner = agent("planner", set_span_in_context(http))
    tool("search_flights", "call_1", set_span_in_context(planner))
    planner.end()
    http.end()
elif scenario == "late-root":
    planner = agent("planner", None)
    researcher = agent("researcher", set_span_in_context(planner))
    tool("search_flights", "call_1", set_span_in_context(researcher))
    wait_for_export()
    researcher.end()
    wait_for_export()
    tool("book_hotel", "call_2", set_span_in_context(planner))
    wait_for_export()
    planner.end()
else:
    sys.exit(f"unknown scenario {scenario}")

provider.shutdown()
print(format(planner.get_span_context().trace_id, "032x"))
