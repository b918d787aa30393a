// node-h2c: RFC 8441 WebSocket over cleartext HTTP/2 between Node's own `http2` server
// (settings: { enableConnectProtocol: true }) and Node's `http2` client (extended CONNECT with
// ':protocol': 'websocket'), one TCP connection (client socket made by us: createConnection).
// WebSocket framing on each HTTP/2 stream: `ws` 8's Sender (writes frames to the stream) and
// Receiver (the stream is piped into it), no permessage-deflate. Every frame either side sends
// goes through Sender.prototype.{send,ping,pong,close}; we log it there (payload before masking),
// so the truth is each side's own log, as in ../node-*.gen.js.
//
// Streams (client order): 1 WebSocket /echo, 3 WebSocket /chat (subprotocol chat.v1 picked by the
// server from chat.v2, chat.v1), 5 GET /hello -> 200. Messages alternate between 1 and 3 (each
// waits for its echo); the 70000-byte binary on stream 1 spans several DATA frames. The server
// pings once on each WebSocket after accepting it. Stream 1: client close 1000 "bye from node",
// echoed; stream 3: server close 4000 "node server closes" after echoing "please close", echoed by
// the client. Whoever receives a close answers it and then ends its half of the stream
// (stream.end() -> END_STREAM); the side that closed first ends its half when the answer arrives.
// Then client session.close(), server close().
//
// usage: node node-h2c.gen.js PORT OUT.expected.json
'use strict';
const http2 = require('http2');
const net = require('net');
const crypto = require('crypto');
const fs = require('fs');
const { Sender, Receiver } = require('ws');

const PORT = +process.argv[2];
const OUT = process.argv[3];
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');
const toBuf = (d) => (Buffer.isBuffer(d) ? d : typeof d === 'string' ? Buffer.from(d) : Buffer.from(d || []));
setTimeout(() => { console.error('node-h2c: timeout'); process.exit(2); }, 60000).unref();

// ---- the senders' logs: records by HTTP/2 stream id (one connection)
const recs = new Map();
const rec = (id) => {
  if (!recs.has(id)) recs.set(id, { stream: id, messages: [], closes: [], pings: [], pongs: [], end: { c2s: 'none', s2c: 'none' }, events: [] });
  return recs.get(id);
};
const sid = (sender) => sender._socket.id;
const dirOf = (mask) => (mask ? 'c2s' : 's2c');
const oSend = Sender.prototype.send;
Sender.prototype.send = function (data, options, cb) {
  const b = toBuf(data);
  rec(sid(this)).messages.push({ dir: dirOf(options.mask), opcode: options.binary ? 2 : 1, len: b.length, sha256: sha256(b), compressed: false });
  return oSend.call(this, data, options, cb);
};
const oPing = Sender.prototype.ping;
Sender.prototype.ping = function (data, mask, cb) {
  rec(sid(this)).pings.push({ dir: dirOf(mask), len: toBuf(data).length });
  return oPing.call(this, data, mask, cb);
};
const oPong = Sender.prototype.pong;
Sender.prototype.pong = function (data, mask, cb) {
  rec(sid(this)).pongs.push({ dir: dirOf(mask), len: toBuf(data).length });
  return oPong.call(this, data, mask, cb);
};
const oClose = Sender.prototype.close;
Sender.prototype.close = function (code, data, mask, cb) {
  rec(sid(this)).closes.push({ dir: dirOf(mask), code: code === undefined ? null : code, reason: data === undefined ? '' : toBuf(data).toString('utf8') });
  return oClose.call(this, code, data, mask, cb);
};

// One WebSocket endpoint on an HTTP/2 stream.
function endpoint(stream, isClient, onMessage) {
  const dir = isClient ? 'c2s' : 's2c';
  const sender = new Sender(stream, {});
  const receiver = new Receiver({ isServer: !isClient, binaryType: 'nodebuffer' });
  const ep = { sender, closeSent: false, closeRcvd: false, ended: false, received: [], waiters: [] };
  const r = rec(stream.id);
  ep.end = () => {
    if (ep.ended) return;
    ep.ended = true;
    r.end[dir] = 'end_stream';
    stream.end();
  };
  ep.close = (code, reason) => { ep.closeSent = true; sender.close(code, reason, isClient); };
  ep.send = (data, binary) => sender.send(data, { binary, fin: true, mask: isClient, compress: false, rsv1: false });
  ep.wake = () => { for (const w of ep.waiters.splice(0)) w(); };
  ep.until = (pred) => new Promise((res) => { const f = () => (pred() ? res() : ep.waiters.push(f)); f(); });
  receiver.on('message', (data, isBinary) => {
    ep.received.push({ opcode: isBinary ? 2 : 1, len: data.length, sha256: sha256(data) });
    if (onMessage) onMessage(ep, data, isBinary);
    ep.wake();
  });
  receiver.on('ping', (data) => { sender.pong(data, isClient); ep.received.push({ ping: data.length }); ep.wake(); });
  receiver.on('pong', (data) => { ep.received.push({ pong: data.length }); ep.wake(); });
  receiver.on('conclude', (code, reason) => {
    ep.closeRcvd = true;
    if (!ep.closeSent) { ep.closeSent = true; sender.close(code === 1005 ? undefined : code, reason, isClient); }
    ep.end();
    ep.wake();
  });
  receiver.on('error', (e) => { r.events.push(`${dir} receiver error ${e.message}`); });
  stream.on('data', (chunk) => receiver.write(chunk));
  stream.on('end', () => { r.events.push(`${dir} got END_STREAM`); ep.wake(); });
  stream.on('aborted', () => r.events.push(`${dir} aborted`));
  stream.on('close', () => { r.events.push(`${dir} closed, rstCode ${stream.rstCode}`); ep.wake(); });
  return ep;
}

async function main() {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  const requests = [];
  const serverEps = new Map();
  server.on('stream', (stream, headers) => {
    const r = rec(stream.id);
    if (headers[':method'] === 'CONNECT') {
      r.path = headers[':path'];
      r.request_headers = Object.entries(headers).filter(([k]) => k !== '__proto__');
      const offered = (headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim()).filter(Boolean);
      const sub = offered.includes('chat.v1') ? 'chat.v1' : null;
      const resp = { ':status': 200 };
      if (sub) resp['sec-websocket-protocol'] = sub;
      r.response_headers = Object.entries(resp);
      r.status = 200;
      r.subprotocol = sub;
      stream.respond(resp);
      const ep = endpoint(stream, false, (e, data, isBinary) => {
        e.send(data, isBinary);
        if (!isBinary && data.toString() === 'please close') e.close(4000, 'node server closes');
      });
      serverEps.set(stream.id, ep);
      ep.sender.ping(Buffer.from('node-ping'), false);
    } else {
      const body = headers[':path'] === '/hello' ? 'hello from node http2\n' : 'not found\n';
      const status = headers[':path'] === '/hello' ? 200 : 404;
      requests.push({ stream: stream.id, method: headers[':method'], path: headers[':path'], status });
      stream.respond({ ':status': status, 'content-type': 'text/plain' });
      stream.end(body);
    }
  });
  let serverSettings = null;
  server.on('session', (s) => s.on('localSettings', (st) => { serverSettings = st; }));
  await new Promise((res) => server.listen(PORT, '127.0.0.1', res));

  let sock;
  const client = http2.connect(`http://localhost:${PORT}`, {
    createConnection: () => { sock = net.connect(PORT, '127.0.0.1'); return sock; },
  });
  await new Promise((res) => client.once('remoteSettings', res));
  if (!client.remoteSettings.enableConnectProtocol) throw new Error('server did not enable extended CONNECT');
  const clientAddr = `${sock.localAddress}:${sock.localPort}`;

  const open = async (path, extra) => {
    const hdrs = { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': `localhost:${PORT}`, 'sec-websocket-version': '13', ...extra };
    const stream = client.request(hdrs, { endStream: false });
    const resp = await new Promise((res, rej) => { stream.once('response', res); stream.once('error', rej); });
    if (resp[':status'] !== 200) throw new Error(`status ${resp[':status']}`);
    const ep = endpoint(stream, true);
    ep.stream = stream;
    rec(stream.id).authority = hdrs[':authority'];
    return ep;
  };
  const A = await open('/echo');
  const B = await open('/chat', { 'sec-websocket-protocol': 'chat.v2, chat.v1' });
  const getHello = client.request({ ':method': 'GET', ':path': '/hello', ':scheme': 'http', ':authority': `localhost:${PORT}` });
  getHello.resume();
  await new Promise((res) => getHello.on('close', res));
  const msgs = (ep) => ep.received.filter((x) => x.opcode).length;
  const roundtrip = async (ep, data, binary) => { const n = msgs(ep); ep.send(data, binary); await ep.until(() => msgs(ep) > n); };
  const pattern = (n, seed) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7 + (i >> 5)) & 0xff; return b; };
  await roundtrip(A, 'hello on stream 1', false);
  await roundtrip(B, pattern(125, 1), true);
  await roundtrip(A, 'x'.repeat(126), false);
  await roundtrip(B, '', false);
  await roundtrip(A, pattern(70000, 2), true);
  await roundtrip(B, 'ünïcødé ☃ 🎉 on stream 3', false);
  await A.until(() => A.received.some((x) => x.ping !== undefined));
  await B.until(() => B.received.some((x) => x.ping !== undefined));
  A.close(1000, 'bye from node');
  await A.until(() => A.closeRcvd);
  B.send('please close', false);
  await B.until(() => B.closeRcvd);
  const sA = serverEps.get(A.stream.id), sB = serverEps.get(B.stream.id);
  await Promise.all([A, B].map((ep) => new Promise((res) => (ep.stream.closed ? res() : ep.stream.on('close', res)))));
  await new Promise((res) => setTimeout(res, 300));
  await new Promise((res) => client.close(res));
  await new Promise((res) => server.close(res));
  const ws = [A, B].map((ep) => {
    const r = rec(ep.stream.id);
    const srv = serverEps.get(ep.stream.id);
    // cross-checks: what each side received is what the other logged it sent
    const got = (e) => JSON.stringify(e.received.filter((x) => x.opcode));
    const sent = (d) => JSON.stringify(r.messages.filter((m) => m.dir === d).map(({ opcode, len, sha256: h }) => ({ opcode, len, sha256: h })));
    if (got(srv) !== sent('c2s') || got(ep) !== sent('s2c')) throw new Error(`stream ${r.stream}: logs disagree`);
    return {
      stream: r.stream, path: r.path, authority: r.authority, scheme: 'http', status: r.status, subprotocol: r.subprotocol,
      extensions: [], request_headers: r.request_headers, response_headers: r.response_headers,
      messages: r.messages, closes: r.closes, pings: r.pings, pongs: r.pongs, end: r.end,
      stream_events: r.events,
    };
  });
  const doc = {
    capture: 'node-h2c.pcap', generator: 'node-h2c.gen.sh + node-h2c.gen.js',
    description: "Node http2 server (enableConnectProtocol) and Node http2 client (extended CONNECT), ws 8 Sender/Receiver on the streams: WebSocket streams 1 (/echo, client close) and 3 (/chat, subprotocol chat.v1, server close 4000), GET /hello on stream 5, h2c prior knowledge, one TCP connection",
    keylog: null,
    versions: { node: process.version, ws: require('ws/package.json').version, nghttp2: process.versions.nghttp2 },
    connections: [{
      client: clientAddr, server: `127.0.0.1:${PORT}`, h2: 'prior-knowledge', server_enable_connect_protocol: true, tls: null,
      server_local_settings_reported_by_node: serverSettings, websockets: ws, requests,
    }],
  };
  fs.writeFileSync(OUT, JSON.stringify(doc, null, 1) + '\n');
  console.log(`node-h2c: client ${clientAddr}, ws streams ${ws.map((w) => w.stream)}, requests ${requests.map((r) => r.stream)}`);
  for (const w of ws) console.log(w.stream, JSON.stringify(w.end), JSON.stringify(w.stream_events), JSON.stringify(w.rst_code));
}
main().catch((e) => { console.error(e); process.exit(1); });
