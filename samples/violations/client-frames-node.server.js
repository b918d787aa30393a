// Echo server for client-frames-node.gen.py: Node `ws` (../node_modules), deflate off.
// Logs one JSON line per event on stdout, keyed by the peer "ip:port":
//   close_sent (every close frame ws writes, via Sender.prototype.close), error (the error ws
//   raised on the peer's bytes, with the close code it attached), message (echoed), closed.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));
const { Sender, WebSocketServer } = WebSocket;

const port = Number(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const peerOf = (s) => `${s.remoteAddress}:${s.remotePort}`;

const origClose = Sender.prototype.close;
Sender.prototype.close = function (code, data, mask, cb) {
  log({ ev: 'close_sent', peer: peerOf(this._socket), code, reason: data ? String(data) : '' });
  return origClose.call(this, code, data, mask, cb);
};

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const peer = peerOf(req.socket);
  log({ ev: 'open', peer });
  ws.on('message', (data, isBinary) => {
    log({ ev: 'message', peer, len: data.length, binary: isBinary });
    ws.send(data, { binary: isBinary });
  });
  ws.on('ping', (data) => log({ ev: 'ping', peer, len: data.length }));
  ws.on('pong', (data) => log({ ev: 'pong', peer, len: data.length }));
  ws.on('error', (err) => {
    const status = Object.getOwnPropertySymbols(err).map((s) => err[s]).find(Number.isInteger);
    log({ ev: 'error', peer, code: err.code, message: err.message, status });
  });
  ws.on('close', (code, reason) => log({ ev: 'closed', peer, code, reason: reason.toString() }));
});
wss.on('listening', () => log({ ev: 'listening' }));
process.stdin.on('end', () => wss.close(() => process.exit(0)));
process.stdin.resume();
