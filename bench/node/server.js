// SPDX-License-Identifier: Apache-2.0
// The Node.js service of benchmark scenario 6: a keep-alive HTTP server with a small fixed
// response, like the nginx of scenario 1. usage: node [--require ./otel.js] server.js PORT
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const body = Buffer.from('hello from node\n');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 300000;
server.headersTimeout = 301000;
server.requestTimeout = 0;
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
// with otel.js loaded, its handler flushes the SDK and exits
if (process.listenerCount('SIGTERM') === 0) process.on('SIGTERM', () => process.exit(0));
