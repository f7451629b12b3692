// SPDX-License-Identifier: Apache-2.0
// OpenTelemetry JS SDK set-up for scenario 6, loaded with `node --require ./otel.js`: automatic
// HTTP instrumentation (server spans) exported with OTLP/HTTP protobuf to
// OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces by a BatchSpanProcessor with the SDK's defaults
// (queue 2048, batch 512, 5 s delay - the same defaults obi uses). Traces only: the SDK exports
// no metrics here, which can only make the SDK look cheaper.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://127.0.0.1:4318';
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench-node-sdk' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
});
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

async function shutdown() {
  try { await provider.shutdown(); } finally { process.exit(0); }
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
