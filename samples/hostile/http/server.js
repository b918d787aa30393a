// Node's own http server with an 'upgrade' handler and ws (samples/node_modules/ws), used by
// gen.py as the real peer for the HTTP tricks. It logs, one JSON line per event on stdout,
// what Node's parser made of each request and every WebSocket message it received and sent:
// that log is the truth the captures are checked against.
//
//   node server.js PORT
//
// GET /plain answers 200 with a Content-Length body; POST /chunked answers 200 with a chunked
// body (two res.write calls); an upgrade request without `Authorization` is answered 401 on
// the same keep-alive connection (there is no 'upgrade' listener until then, so Node handles
// it as a plain request); every upgrade request after that is accepted and echoed.
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const peer = (s) => `${s.remoteAddress}:${s.remotePort}`;

function onUpgrade(req, socket, head) {
  log({ event: 'upgrade', client: peer(socket), method: req.method, url: req.url,
        headers: req.rawHeaders.length / 2 });
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => {
      log({ event: 'message', client: peer(socket), dir: 'c2s', binary: isBinary, len: data.length,
            text: isBinary ? undefined : data.toString() });
      ws.send(data, { binary: isBinary });
      log({ event: 'message', client: peer(socket), dir: 's2c', binary: isBinary, len: data.length });
    });
    ws.on('close', (code, reason) => log({ event: 'close', client: peer(socket), code,
                                           reason: reason.toString() }));
  });
}

const server = http.createServer((req, res) => {
  log({ event: 'request', client: peer(req.socket), method: req.method, url: req.url,
        headers: req.rawHeaders.length / 2, upgrade_header: req.headers.upgrade || null });
  let body = 0;
  req.on('data', (d) => { body += d.length; });
  req.on('end', () => {
    if (req.headers.upgrade && !req.headers.authorization) {
      // Accept upgrades from now on: the retry on this connection reaches onUpgrade.
      if (server.listenerCount('upgrade') === 0) server.on('upgrade', onUpgrade);
      const text = 'authorization required\n';
      res.writeHead(401, { 'Content-Type': 'text/plain', 'Content-Length': text.length,
                           'WWW-Authenticate': 'Bearer' });
      res.end(text);
      log({ event: 'response', client: peer(req.socket), status: 401 });
    } else if (req.url === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(`got ${body} bytes\n`);
      res.end('bye\n');
      log({ event: 'response', client: peer(req.socket), status: 200, chunked: true, body_in: body });
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 6 });
      res.end('plain\n');
      log({ event: 'response', client: peer(req.socket), status: 200, body_in: body });
    }
  });
});
server.on('clientError', (err, socket) => {
  log({ event: 'clientError', code: err.code, reason: err.reason || err.message });
  socket.destroy();
});
if (process.env.UPGRADE_FROM_START) server.on('upgrade', onUpgrade);
server.listen(port, '127.0.0.1', () => log({ event: 'listening', port }));
process.on('SIGTERM', () => { log({ event: 'exit' }); process.exit(0); });
