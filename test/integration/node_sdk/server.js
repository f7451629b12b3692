// SPDX-License-Identifier: Apache-2.0
// A Node.js HTTP service instrumented with the OpenTelemetry JS SDK (W3C trace-context interop
// test of obi). Every finished span is appended to --out as one JSON line; every request is
// answered 200 with JSON {headers: [[name, value], ...] as received, traceId, spanId} of the
// SDK's active (server) span. Prints "listening <port>" once listening on 127.0.0.1.
//
//   node server.js --port 0 --out spans.jsonl
'use strict';

const fs = require('fs');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const port = Number(arg('--port', '0'));
const out = arg('--out', 'spans.jsonl');

const { trace } = require('@opentelemetry/api');
const { ExportResultCode } = require('@opentelemetry/core');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');

// Finished spans as JSON lines, written synchronously so the test sees them at once.
class JsonLinesExporter {
  constructor(path) {
    this.path = path;
  }

  export(spans, done) {
    const lines = spans.map((s) => {
      const ctx = s.spanContext();
      const parent = s.parentSpanContext; // SDK 2.x
      return JSON.stringify({
        name: s.name,
        kind: s.kind,
        traceId: ctx.traceId,
        spanId: ctx.spanId,
        traceFlags: ctx.traceFlags,
        parentSpanId: parent ? parent.spanId : '',
        parentIsRemote: parent ? Boolean(parent.isRemote) : false,
        attributes: s.attributes,
        scope: s.instrumentationScope ? s.instrumentationScope.name : '',
      }) + '\n';
    });
    try {
      fs.appendFileSync(this.path, lines.join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err });
    }
  }

  shutdown() {
    return Promise.resolve();
  }

  forceFlush() {
    return Promise.resolve();
  }
}

const provider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(new JsonLinesExporter(out))],
});
provider.register(); // W3C traceparent/baggage propagators and the async context manager
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// required after the instrumentation is registered, so it is patched
const http = require('http');

const server = http.createServer((req, res) => {
  const headers = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  }
  req.resume();
  req.on('end', () => {
    const span = trace.getActiveSpan();
    const ctx = span ? span.spanContext() : {};
    const body = JSON.stringify({ headers, traceId: ctx.traceId, spanId: ctx.spanId });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 600000;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    provider.shutdown().finally(() => process.exit(0));
  });
}
