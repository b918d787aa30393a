'use strict';
// Generator for node-fragments.pcap (run by node-fragments.gen.sh, which runs tcpdump around it).
// A `ws` server on 127.0.0.1:8080 and a `ws` client in the same process. The client sends
// fragmented messages (send(..., {fin:false}) ... {fin:true}) with pings interleaved between
// fragments, plus 70000-, 126- and 125-byte messages; the server echoes every message
// unfragmented and sends one 125-byte ping of its own; the client closes with 1000.
// Usage: node node-fragments.gen.js OUT.expected.json
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const { Sender, WebSocketServer } = WebSocket;

const NAME = 'node-fragments';
const HOST = '127.0.0.1';
const PORT = 8080;
const out = process.argv[2] || `${NAME}.expected.json`;
const LOG_COMPRESSED = false;

// ---------------------------------------------------------------------------
// Sender logger (same block in every node-*/chromium-* generator). Every frame an endpoint
// asks `ws` to send goes through Sender.prototype.{send,ping,close}; we log it there: the
// sender's own view, uncompressed, before masking. Client-side senders mask, server-side
// ones don't, which gives the direction. Records are keyed by the client's address.
// ---------------------------------------------------------------------------
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
function toBuf(d) {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (Buffer.isBuffer(d)) return Buffer.from(d); // copy: ws may mask in place
  if (d instanceof ArrayBuffer) return Buffer.from(new Uint8Array(d));
  if (ArrayBuffer.isView(d)) return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  throw new TypeError('unsupported payload type');
}
const fmtAddr = (a, p) => (a.includes(':') ? `[${a.replace(/^::ffff:/, '')}]:${p}` : `${a}:${p}`);
const records = new Map(); // client address -> record, in creation order (= connection order here)
const bySocket = new WeakMap(); // net.Socket -> record
function record(client, server, extra) {
  let r = records.get(client);
  if (!r) {
    r = { client, server, status: null, subprotocol: null, extensions: [], messages: [], closes: [], pings: [] };
    records.set(client, r);
  }
  Object.assign(r, extra || {});
  return r;
}
// server side: call from 'connection' (or when rejecting) with the request's socket
function serverRecord(sock, extra) {
  const r = record(fmtAddr(sock.remoteAddress, sock.remotePort), fmtAddr(sock.localAddress, sock.localPort), extra);
  bySocket.set(sock, r);
  return r;
}
// client side: call from 'open'
function clientRecord(sock) {
  const r = record(fmtAddr(sock.localAddress, sock.localPort), fmtAddr(sock.remoteAddress, sock.remotePort));
  bySocket.set(sock, r);
  return r;
}
const recOf = (sender) => {
  const r = bySocket.get(sender._socket);
  if (!r) throw new Error('frame sent on a socket with no record');
  return r;
};
const pending = new WeakMap(); // sender -> message being fragmented
const origSend = Sender.prototype.send;
Sender.prototype.send = function (data, options, cb) {
  const first = this._firstFragment;
  const copy = toBuf(data);
  const ret = origSend.call(this, data, options, cb);
  let st = pending.get(this);
  if (first) {
    // this._compress is what ws decided for the whole message (RSV1 on its first frame)
    st = { opcode: options.binary ? 2 : 1, chunks: [], fragments: 0, compressed: !!this._compress };
    pending.set(this, st);
  }
  st.chunks.push(copy);
  st.fragments += 1;
  if (options.fin) {
    const all = Buffer.concat(st.chunks);
    const m = { dir: options.mask ? 'c2s' : 's2c', opcode: st.opcode, len: all.length, sha256: sha256(all), fragments: st.fragments };
    if (LOG_COMPRESSED) m.compressed = st.compressed;
    recOf(this).messages.push(m);
    pending.delete(this);
  }
  return ret;
};
const origPing = Sender.prototype.ping;
Sender.prototype.ping = function (data, mask, cb) {
  const len = toBuf(data).length;
  const ret = origPing.call(this, data, mask, cb);
  recOf(this).pings.push({ dir: mask ? 'c2s' : 's2c', len });
  return ret;
};
const origClose = Sender.prototype.close;
Sender.prototype.close = function (code, data, mask, cb) {
  const ret = origClose.call(this, code, data, mask, cb);
  recOf(this).closes.push({ dir: mask ? 'c2s' : 's2c', code: code === undefined ? null : code,
    reason: data === undefined ? '' : toBuf(data).toString('utf8') });
  return ret;
};
// ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pattern = (n, seed) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 3)) & 0xff; return b; };

async function main() {
  const wss = new WebSocketServer({ host: HOST, port: PORT, perMessageDeflate: false });
  await new Promise((r) => wss.on('listening', r));
  let serverClosed;
  const serverDone = new Promise((r) => { serverClosed = r; });
  wss.on('connection', (ws, req) => {
    serverRecord(req.socket, { status: 101, subprotocol: ws.protocol || null, extensions: [] });
    let n = 0;
    ws.on('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary }); // unfragmented echo
      if (++n === 1) ws.ping(pattern(125, 9)); // the server's own 125-byte ping
    });
    ws.on('close', () => serverClosed());
  });

  const ws = new WebSocket(`ws://${HOST}:${PORT}/fragments`, { perMessageDeflate: false });
  const echoes = [];
  let gotEchoes;
  const allEchoes = new Promise((r) => { gotEchoes = r; });
  const EXPECT_ECHOES = 5;
  ws.on('message', (d) => { echoes.push(d); if (echoes.length === EXPECT_ECHOES) gotEchoes(); });
  const clientClosed = new Promise((r) => ws.on('close', r));
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  clientRecord(ws._socket);
  const gap = () => sleep(25); // keep frames in separate TCP segments

  // 1. text message in 3 fragments; the UTF-8 text is split inside multi-byte characters
  //    (U+00E9 split between fragments 1|2, U+1F600 split between 2|3); ping between 2 and 3.
  const text = Buffer.from('Hello, fragm\u00e9nted world \u{1F600} - three fragments', 'utf8');
  const e = text.indexOf(0xc3); // first byte of U+00E9
  const s = text.indexOf(0xf0); // first byte of U+1F600
  ws.send(text.subarray(0, e + 1), { binary: false, fin: false }); await gap();
  ws.send(text.subarray(e + 1, s + 2), { binary: false, fin: false }); await gap();
  ws.ping(Buffer.from('mid')); await gap();
  ws.send(text.subarray(s + 2), { binary: false, fin: true }); await gap();

  // 2. binary message in 4 fragments: 200 B, 126 B (16-bit length in a continuation frame),
  //    0 B (empty continuation), 70 B (final); ping between fragments 2 and 3.
  const bin = pattern(396, 1);
  ws.send(bin.subarray(0, 200), { binary: true, fin: false }); await gap();
  ws.send(bin.subarray(200, 326), { binary: true, fin: false }); await gap();
  ws.ping(Buffer.from('mid')); await gap();
  ws.send(bin.subarray(326, 326), { binary: true, fin: false }); await gap();
  ws.send(bin.subarray(326), { binary: true, fin: true }); await gap();

  // 3. unfragmented text of 70000 bytes (64-bit extended length)
  let big = '';
  for (let i = 0; big.length < 70000; i++) big += `line ${i} of a 70000 byte text message\n`;
  ws.send(big.slice(0, 70000)); await gap();
  // 4. 126-byte text (smallest 16-bit length) and 125-byte binary (largest 7-bit length)
  ws.send('x'.repeat(120) + 'end126'); await gap();
  ws.send(pattern(125, 2)); await gap();

  await Promise.race([allEchoes, sleep(5000).then(() => { throw new Error('echo timeout'); })]);
  ws.close(1000);
  await Promise.all([clientClosed, serverDone]);
  await new Promise((r) => wss.close(r));

  const expected = {
    capture: `${NAME}.pcap`,
    generator: `${NAME}.gen.sh`,
    description: 'Node ws ' + require('ws/package.json').version + ' client and server (perMessageDeflate off) on 127.0.0.1:8080. ' +
      'Client: text message in 3 fragments (UTF-8 characters split across fragment boundaries) with a 3-byte ping "mid" ' +
      'between fragments 2 and 3; binary message in 4 fragments (200, 126, 0, 70 bytes) with a ping "mid" between fragments 2 and 3; ' +
      'unfragmented 70000-byte text (64-bit length), 126-byte text (16-bit length), 125-byte binary (7-bit length); close 1000 with empty reason. ' +
      'Server: echoes every message unfragmented, sends one ping with a 125-byte payload after its first echo, answers pings with pongs ' +
      '(pongs not listed) and echoes the close. "fragments" = number of frames the sender used for the message.',
    connections: [...records.values()],
  };
  fs.writeFileSync(out, JSON.stringify(expected, null, 2) + '\n');
  console.log(`wrote ${out}: ${expected.connections.length} connection(s)`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
