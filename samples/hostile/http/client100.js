// Node's ws client (samples/node_modules/ws) against gen.py's raw server, which answers
// `100 Continue` and then `101`. Logs, one JSON line per event, what the client saw.
//
//   node client100.js PORT
'use strict';
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ws = new WebSocket(`ws://127.0.0.1:${port}/continue`, { perMessageDeflate: false });
ws.on('upgrade', (res) => log({ event: 'upgrade', status: res.statusCode }));
ws.on('open', () => {
  log({ event: 'open', client: `${ws._socket.localAddress}:${ws._socket.localPort}` });
  const text = 'hello after 100 Continue';
  ws.send(text);
  log({ event: 'message', dir: 'c2s', binary: false, len: Buffer.byteLength(text), text });
});
ws.on('message', (data, isBinary) => {
  log({ event: 'message', dir: 's2c', binary: isBinary, len: data.length,
        text: isBinary ? undefined : data.toString() });
  ws.close(1000, 'done');
});
ws.on('close', (code, reason) => { log({ event: 'close', code, reason: reason.toString() }); });
ws.on('error', (err) => { log({ event: 'error', message: err.message }); process.exitCode = 1; });
