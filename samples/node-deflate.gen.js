'use strict';
// Generator for node-deflate.pcap (run by node-deflate.gen.sh, which runs tcpdump around it).
// `ws` servers (noServer, routed by path) on one HTTP server at 127.0.0.1:8082 and `ws` clients
// in the same process, permessage-deflate on both ends with three configurations, one
// connection each, one after the other. The client sends a fixed list of messages, the server
// echoes each one unfragmented; the client closes.
// Usage: node node-deflate.gen.js OUT.expected.json
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const WebSocket = require('ws');
const { Sender, WebSocketServer } = WebSocket;

const NAME = 'node-deflate';
const HOST = '127.0.0.1';
const PORT = 8082;
const out = process.argv[2] || `${NAME}.expected.json`;
const LOG_COMPRESSED = true;

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
// deterministic "random" (incompressible) bytes
const noise = (n, seed) => { const b = Buffer.alloc(n); let x = seed >>> 0 || 1; for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 0xff; } return b; };
const lorem = (n) => { let s = ''; for (let i = 0; s.length < n; i++) s += `Lorem ipsum dolor sit amet ${i}, consectetur adipiscing elit. `; return s.slice(0, n); };

// path -> [server perMessageDeflate, client perMessageDeflate, description]
const CONFIGS = [
  ['/defaults', true, true,
    'perMessageDeflate: true on server and client (ws defaults: context takeover, threshold 1024 ignored because ws applies the threshold only when the sender has no_context_takeover, so every message is compressed unless sent with {compress:false})'],
  ['/threshold0-no-context-takeover', { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    '{threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true} on both ends: every message compressed, no context takeover (repeated messages compress to the same bytes)'],
  ['/no-context-takeover-threshold1024-window10', { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    'no context takeover both ways, max window bits 10 both ways, default threshold 1024: messages shorter than 1024 bytes are sent uncompressed (RSV1 clear), longer ones compressed'],
];

async function clientScript(ws) {
  const gap = () => sleep(20);
  const rep = lorem(1500);
  ws.send(lorem(100)); await gap(); // short text
  ws.send(rep); await gap(); // 1500 bytes
  ws.send(rep); await gap(); // repeated: with context takeover compresses to a few bytes
  ws.send(rep); await gap(); // repeated again
  ws.send(lorem(1023)); await gap(); // just under the threshold
  ws.send(lorem(1024)); await gap(); // at the threshold
  ws.send(''); await gap(); // empty text message
  ws.send(Buffer.alloc(0)); await gap(); // empty binary message
  ws.send(pattern(4096, 3)); await gap(); // compressible binary
  ws.send(noise(2000, 7)); await gap(); // incompressible binary (deflate output is longer)
  ws.send(lorem(3000), { compress: false }); await gap(); // explicitly uncompressed, RSV1 clear
  const f = lorem(2400); // fragmented, compressed per fragment (RSV1 only on the first frame)
  ws.send(f.slice(0, 1200), { fin: false }); await gap();
  ws.send(f.slice(1200, 2000), { fin: false }); await gap();
  ws.send(f.slice(2000), { fin: true }); await gap();
  ws.send('\u{1F600} emoji and \u00fcml\u00e4uts \u00e9 '.repeat(40)); await gap(); // non-ASCII text
  return 13; // number of messages (fragmented one counts once)
}

async function main() {
  const hs = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const wssByPath = new Map();
  for (const [path, serverPmd] of CONFIGS) {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: serverPmd });
    wss.on('headers', (headers, req) => {
      req.acceptedExtensions = headers.filter((h) => /^sec-websocket-extensions:/i.test(h)).map((h) => h.replace(/^[^:]*:\s*/, ''));
    });
    wss.on('connection', (ws, req) => {
      const rec = serverRecord(req.socket, { status: 101, subprotocol: ws.protocol || null, extensions: req.acceptedExtensions || [] });
      rec.client_offered_extensions = req.headers['sec-websocket-extensions'] || null;
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      req.wsClosed = new Promise((r) => ws.on('close', r));
      wssByPath.get(path).last = req;
    });
    wssByPath.set(path, wss);
  }
  hs.on('upgrade', (req, socket, head) => {
    const wss = wssByPath.get(req.url);
    if (!wss) { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise((r) => hs.listen(PORT, HOST, r));

  for (const [path, , clientPmd, desc] of CONFIGS) {
    const ws = new WebSocket(`ws://${HOST}:${PORT}${path}`, { perMessageDeflate: clientPmd });
    let n = 0; let want = Infinity; let done;
    const allEchoes = new Promise((r) => { done = r; });
    ws.on('message', () => { if (++n >= want) done(); });
    const closed = new Promise((r) => ws.on('close', r));
    await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
    clientRecord(ws._socket).config = desc;
    want = await clientScript(ws);
    if (n >= want) done();
    await Promise.race([allEchoes, sleep(5000).then(() => { throw new Error(`${path}: echo timeout`); })]);
    ws.close(1000, 'deflate done');
    await closed;
    await wssByPath.get(path).last.wsClosed;
    await sleep(100);
  }
  for (const wss of wssByPath.values()) wss.close();
  await new Promise((r) => hs.close(r));

  const recs = [...records.values()];
  const expected = {
    capture: `${NAME}.pcap`,
    generator: `${NAME}.gen.sh`,
    description: 'Node ws ' + require('ws/package.json').version + ' client and server with permessage-deflate, 127.0.0.1:8082, three connections ' +
      '(configuration in each connection\'s "config"). On each the client sends the same 13 messages (short text, a 1500-byte text three times, ' +
      '1023- and 1024-byte texts, empty text, empty binary, 4096-byte compressible binary, 2000-byte incompressible binary, 3000-byte text with ' +
      '{compress:false}, a 2400-byte text in 3 fragments, non-ASCII text); the server echoes each unfragmented; the client closes 1000 "deflate done". ' +
      'len/sha256 are over the uncompressed payload; "compressed" = ws set RSV1 / deflated the message; "fragments" = frames the sender used. ' +
      '"client_offered_extensions" = the Sec-WebSocket-Extensions request header the server received.',
    connections: recs,
  };
  fs.writeFileSync(out, JSON.stringify(expected, null, 2) + '\n');
  console.log(`wrote ${out}: ${recs.length} connection(s)`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
