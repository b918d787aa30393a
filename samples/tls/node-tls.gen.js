'use strict';
// Generator for tls/node-tls.pcap (run by node-tls.gen.sh, which makes the certificate and runs
// tcpdump around it). A `ws` 8.23.0 server on an https.Server (TLS, self-signed certificate for
// wsd.test) on 127.0.0.1:8470 and a `ws` client (`wss://127.0.0.1:8470/`, servername wsd.test,
// rejectUnauthorized: false) in the same process, Node's TLS defaults (TLS 1.3, no ALPN).
// Key log: the 'keylog' events of the server (tls.Server) and of the client's TLSSocket (made by
// the createConnection option); the client's lines are NODE-TLS.keys, the server's must be the
// same lines. The TLS facts come from the sockets after the handshake (getProtocol(),
// getCipher().standardName, servername, alpnProtocol, isSessionReused()).
// Two connections: (1) the full message set + a burst, client close 1000 "bye from node";
// (2) a few messages, then the *server* closes with 4001 "server says bye".
// Usage: node node-tls.gen.js CERT.pem KEY.pem OUT.expected.json OUT.keys OUT-server.keys
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const tls = require('tls');
const WebSocket = require('ws');
const { Sender, WebSocketServer } = WebSocket;

const NAME = 'node-tls';
const HOST = '127.0.0.1';
const PORT = 8470;
const SNI = 'wsd.test';
const [certFile, keyFile, out, keysOut, serverKeysOut] = process.argv.slice(2);
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
const once = (em, ev) => new Promise((r) => em.once(ev, (...a) => r(a)));

// exact-size payloads (same idea as lib/pyws.py)
const UNIT = 'héllo ☃ 🎉 ';
function textPayload(n, unit = UNIT) {
  let s = ''; let size = 0;
  for (const ch of unit.repeat(Math.ceil(n / Buffer.byteLength(unit)) + 2)) {
    const b = Buffer.byteLength(ch);
    if (size + b > n) break;
    s += ch; size += b;
  }
  s += '.'.repeat(n - size);
  if (Buffer.byteLength(s) !== n) throw new Error('textPayload');
  return s;
}
function binPayload(n, seed) {
  const b = Buffer.alloc(n); let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 0xff; }
  return b;
}
const FULL = [textPayload(16, 'hello from node '), '', Buffer.alloc(0), textPayload(125), binPayload(125, 1),
  textPayload(126), binPayload(126, 2), binPayload(65536, 3), textPayload(102400)];
const BURST = [textPayload(1, 'x'), binPayload(2, 4), textPayload(30), binPayload(200, 5), textPayload(7, 'burst. ')];
const SMALL = ['hello #2', binPayload(16, 6), textPayload(300), binPayload(1000, 7)];

const keylines = { client: [], server: [] };
const randomsOf = new WeakMap(); // TLSSocket -> client random (hex) from its keylog lines
function noteKey(side, line, sock) {
  keylines[side].push(line.toString());
  const r = line.toString().split(' ')[1].toLowerCase();
  if (sock && !randomsOf.has(sock)) randomsOf.set(sock, r);
}
const tlsFacts = (s) => ({ version: s.getProtocol(), cipher: s.getCipher().standardName,
  sni: s.servername || null, alpn: s.alpnProtocol || null, resumed: s.isSessionReused() });

async function main() {
  const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
  server.on('keylog', (line, sock) => noteKey('server', line, null));
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  await new Promise((r) => server.listen(PORT, HOST, r));
  const serverClosed = [];
  const serverTls = new Map(); // client address -> facts the server saw
  wss.on('connection', (ws, req) => {
    const rec = serverRecord(req.socket, { status: 101, subprotocol: ws.protocol || null, extensions: [] });
    serverTls.set(rec.client, tlsFacts(req.socket));
    serverClosed.push(new Promise((r) => ws.on('close', r)));
    let n = 0;
    ws.on('message', (data, isBinary) => {
      ws.send(data, { binary: isBinary });
      n += 1;
      if (n === 1) ws.ping('srv-ping');
      if (req.url === '/server-closes' && n === SMALL.length) ws.close(4001, 'server says bye');
    });
  });

  async function connect(path, msgs, burst, clientCloses) {
    const ws = new WebSocket(`wss://${HOST}:${PORT}${path}`, {
      perMessageDeflate: false, rejectUnauthorized: false, servername: SNI,
      createConnection: (opts) => { const s = tls.connect(opts); s.on('keylog', (line) => noteKey('client', line, s)); return s; },
    });
    ws.binaryType = 'nodebuffer';
    await once(ws, 'open');
    const sock = ws._socket;
    const rec = clientRecord(sock);
    const facts = tlsFacts(sock);
    facts.sni = SNI; // what the client asked for (the client socket's own servername is undefined)
    const inbox = [];
    let wake = null;
    ws.on('message', (data, isBinary) => { inbox.push([data, isBinary]); if (wake) wake(); });
    const recv = async () => {
      const t0 = Date.now();
      while (!inbox.length) {
        if (Date.now() - t0 > 10000) throw new Error('recv timeout');
        await new Promise((r) => { wake = r; setTimeout(r, 100); });
      }
      return inbox.shift();
    };
    const same = (m, [data, isBinary]) => isBinary === Buffer.isBuffer(m) && Buffer.compare(toBuf(m), data) === 0;
    const closed = once(ws, 'close');
    const ping = async () => { ws.ping('ping'); await once(ws, 'pong'); };
    if (!clientCloses) await ping(); // the server closes right after its last echo: ping first
    for (const m of msgs) {
      ws.send(m);
      if (!same(m, await recv())) throw new Error('bad echo');
    }
    for (const m of burst) ws.send(m); // back to back, no waiting
    for (const m of burst) if (!same(m, await recv())) throw new Error('bad burst echo');
    if (clientCloses) {
      await ping();
      ws.close(1000, 'bye from node');
    }
    const [code, reason] = await closed;
    console.log(`${path}: closed ${code} ${reason}`);
    rec.tls = { ...facts, keyed: true, client_random: randomsOf.get(sock) };
    return rec;
  }

  await connect('/echo', FULL, BURST, true);
  await connect('/server-closes', SMALL, [], false);
  await Promise.race([Promise.all(serverClosed), sleep(5000)]);
  await new Promise((r) => { wss.close(); server.close(r); });

  const recs = [...records.values()];
  for (const rec of recs) {
    const s = serverTls.get(rec.client);
    for (const k of ['version', 'cipher', 'sni', 'alpn', 'resumed']) {
      if (s[k] !== rec.tls[k]) throw new Error(`client and server disagree on ${k}: ${rec.tls[k]} vs ${s[k]}`);
    }
  }
  const a = [...keylines.client].sort().join('\n'); const b = [...keylines.server].sort().join('\n');
  if (a !== b) throw new Error('client and server key logs differ');
  fs.writeFileSync(keysOut, keylines.client.map((l) => l.trimEnd() + '\n').join(''));
  fs.writeFileSync(serverKeysOut, keylines.server.map((l) => l.trimEnd() + '\n').join(''));
  const expected = {
    capture: `${NAME}.pcap`,
    generator: `${NAME}.gen.sh`,
    description: `Node ${process.version} (OpenSSL ${process.versions.openssl}), ws ${require('ws/package.json').version} ` +
      `client and server over TLS (https.createServer + new WebSocket('wss://127.0.0.1:${PORT}/...', {servername: 'wsd.test', ` +
      'rejectUnauthorized: false})), Node TLS defaults (TLS 1.3, no ALPN offered), deflate off. Conn 1 /echo: text 16, empty text, ' +
      'empty binary, text 125, binary 125, text 126, binary 126, binary 65536, text 102400, each echoed, then 5 small messages ' +
      '(1, 2, 30, 200, 7 B) sent back to back and echoed; server ping "srv-ping" after its first echo; client ping "ping"; client ' +
      'close 1000 "bye from node", echoed. Conn 2 /server-closes: text "hello #2", binary 16, text 300, binary 1000, echoed, pings ' +
      'as conn 1 but the client pings before its first message; the server closes with 4001 "server says bye" after its 4th echo, the client echoes it. Messages from the ws Sender log. ' +
      'Key log from the keylog events (client socket; the server\'s are the same lines).',
    keylog: `${NAME}.keys`,
    tls_library: `Node ${process.version} tls, OpenSSL ${process.versions.openssl}`,
    connections: recs,
  };
  fs.writeFileSync(out, JSON.stringify(expected, null, 1) + '\n');
  console.log(`wrote ${out}: ${recs.length} connection(s)`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
