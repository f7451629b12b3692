// SPDX-License-Identifier: Apache-2.0
// OTLP/HTTP test receiver for obi's integration tests. It decodes every request with the
// official OpenTelemetry JS protobuf definitions (@opentelemetry/otlp-proto-exporter-base,
// generated with protobufjs), so what obi sends is checked by code obi's authors did not write.
// An application/json body (OTLP/JSON) is parsed, its hex ids checked and turned into bytes,
// and read with the same definitions (fromObject), so both encodings decode to the same form;
// the parsed JSON itself is kept too ('json') and the answer is JSON.
//
// usage: node receiver.js [--host 127.0.0.1] [--port N] [--out FILE]
//                         [--fail STATUS:COUNT] [--fail-body TEXT] [--retry-after SECONDS]
//                         [--hang COUNT] [--partial REJECTED]
//                         [--tls-cert PEM --tls-key PEM [--client-ca PEM]]
//   --fail 500:2      answer the first 2 requests with HTTP 500 (then 200)
//   --hang 1          accept the first request and never answer it
//   --partial 3       answer traces with partial_success { rejected_spans: 3 }
//   --tls-cert/--tls-key  serve https with this certificate; --client-ca: and require a client
//                     certificate signed by it
// Prints "listening PORT" on stdout when ready; writes one JSON object per request (JSON Lines)
// to FILE (default stdout): path, headers, status answered, and the decoded body.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root');

const otlp = root.opentelemetry.proto.collector;
const TYPES = {
	'/v1/traces': {
		signal: 'traces',
		request: otlp.trace.v1.ExportTraceServiceRequest,
		response: otlp.trace.v1.ExportTraceServiceResponse,
	},
	'/v1/metrics': {
		signal: 'metrics',
		request: otlp.metrics.v1.ExportMetricsServiceRequest,
		response: otlp.metrics.v1.ExportMetricsServiceResponse,
	},
};

function parseArgs(argv) {
	const opts = { host: '127.0.0.1', port: 0, out: null, failStatus: 0, failCount: 0,
		failBody: '', retryAfter: null, hang: 0, partial: 0, tlsCert: null, tlsKey: null,
		clientCa: null };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i], v = argv[i + 1];
		switch (a) {
		case '--host': opts.host = v; i++; break;
		case '--port': opts.port = Number(v); i++; break;
		case '--out': opts.out = v; i++; break;
		case '--fail': [opts.failStatus, opts.failCount] = v.split(':').map(Number); i++; break;
		case '--fail-body': opts.failBody = v; i++; break;
		case '--retry-after': opts.retryAfter = v; i++; break;
		case '--hang': opts.hang = Number(v); i++; break;
		case '--partial': opts.partial = Number(v); i++; break;
		case '--tls-cert': opts.tlsCert = v; i++; break;
		case '--tls-key': opts.tlsKey = v; i++; break;
		case '--client-ca': opts.clientCa = v; i++; break;
		default: throw new Error(`unknown argument ${a}`);
		}
	}
	return opts;
}

const opts = parseArgs(process.argv);
const out = opts.out ? fs.createWriteStream(opts.out, { flags: 'a' }) : process.stdout;
const hung = [];	// requests never answered: kept so nothing closes them
let seen = 0;

function decode(type, body) {
	const msg = type.request.decode(body);
	return type.request.toObject(msg, { longs: String, enums: String, bytes: String });
}

const HEX_IDS = new Set(['traceId', 'spanId', 'parentSpanId']);

// OTLP/JSON ids are hex strings where protobufjs' JSON form has base64: a copy with them
// converted; anything but even-length lowercase hex throws.
function hexToBase64(v, key) {
	if (Array.isArray(v))
		return v.map((x) => hexToBase64(x, null));
	if (v && typeof v === 'object') {
		const o = {};
		for (const [k, x] of Object.entries(v))
			o[k] = hexToBase64(x, k);
		return o;
	}
	if (HEX_IDS.has(key)) {
		if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/.test(v))
			throw new Error(`${key} is not lowercase hex: ${JSON.stringify(v)}`);
		return Buffer.from(v, 'hex').toString('base64');
	}
	return v;
}

function decodeJson(type, body, entry) {
	entry.json = JSON.parse(body.toString('utf8'));
	const msg = type.request.fromObject(hexToBase64(entry.json, null));
	return type.request.toObject(msg, { longs: String, enums: String, bytes: String });
}

function record(entry) {
	out.write(JSON.stringify(entry) + '\n');
}

function createServer(handler) {
	if (!opts.tlsCert)
		return http.createServer(handler);
	const tls = { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) };
	if (opts.clientCa) {
		tls.ca = fs.readFileSync(opts.clientCa);
		tls.requestCert = true;
		tls.rejectUnauthorized = true;
	}
	return https.createServer(tls, handler);
}

const server = createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const n = ++seen;
		const raw = Buffer.concat(chunks);
		const type = TYPES[req.url];
		const peer = req.socket.getPeerCertificate ? req.socket.getPeerCertificate() : null;
		const entry = { n, time_ms: Date.now(), method: req.method, path: req.url,
			client_cn: peer && peer.subject ? peer.subject.CN : null,
			headers: req.headers, bytes: raw.length, signal: type ? type.signal : null };
		let body = raw;
		try {
			if ((req.headers['content-encoding'] || '') === 'gzip')
				body = zlib.gunzipSync(raw);
			entry.isJson = (req.headers['content-type'] || '') === 'application/json';
			if (type)
				entry.decoded = entry.isJson ? decodeJson(type, body, entry)
							     : decode(type, body);
		} catch (e) {
			entry.error = String(e);
		}
		if (n <= opts.hang) {
			entry.status = 'hang';
			record(entry);
			hung.push(res);
			return;
		}
		if (n <= opts.failCount) {
			entry.status = opts.failStatus;
			record(entry);
			const headers = { 'Content-Type': 'text/plain' };
			if (opts.retryAfter !== null)
				headers['Retry-After'] = opts.retryAfter;
			res.writeHead(opts.failStatus, headers);
			res.end(opts.failBody);
			return;
		}
		entry.status = entry.error || !type ? 400 : 200;
		record(entry);
		if (entry.status !== 200) {
			res.writeHead(400, { 'Content-Type': 'text/plain' });
			res.end(entry.error || 'unknown path');
			return;
		}
		const answer = {};
		if (opts.partial && type.signal === 'traces')
			answer.partialSuccess = { rejectedSpans: opts.partial,
				errorMessage: 'test receiver rejected some spans' };
		if (entry.isJson) {
			if (answer.partialSuccess)
				answer.partialSuccess.rejectedSpans = String(opts.partial);
			res.writeHead(200, { 'Content-Type': 'application/json' });
			res.end(JSON.stringify(answer));
			return;
		}
		const bytes = type.response.encode(type.response.fromObject(answer)).finish();
		res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
		res.end(Buffer.from(bytes));
	});
});
server.keepAliveTimeout = 60000;
server.requestTimeout = 0;	// a hung request stays hung
server.listen(opts.port, opts.host, () => {
	process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0));
