'use strict';
// Traffic generator for the WebSocket-over-HTTP/2 benchmark capture (RFC 8441; run by
// bench/make-captures.sh, which runs tcpdump around it): the traffic of `bench/gen.js small`
// (same message sizes, same seeds, same contents generator, same pacing) but every WebSocket
// session is an HTTP/2 stream opened by an extended CONNECT (`:protocol: websocket`) instead of
// its own TCP connection with an HTTP/1.1 Upgrade.
//
// One process: a Node `http2` server (settings { enableConnectProtocol: true }) and TCP_CONNS
// Node `http2` client sessions (cleartext, prior knowledge: h2c), STREAMS WebSocket streams on
// each, over loopback. WebSocket session number `conn` = (session - 1) * STREAMS + stream index
// (1..8), and it uses exactly the seeds of gen.js's connection `conn`: server sizes
// plan(1000 + conn), contents 2000 + conn; client sizes plan(3000 + conn), contents 4000 + conn.
// WebSocket framing on each stream: `ws` 8's Sender (the client masks) and Receiver, no
// permessage-deflate, as in samples/h2/node-h2c.gen.js. HTTP/2 settings are Node's defaults
// (apart from ENABLE_CONNECT_PROTOCOL): 64 KiB windows, nghttp2's automatic WINDOW_UPDATEs.
//
// Both ends send their own stream of messages at once (no echo). A message is counted when the
// HTTP/2 stream reports its bytes written (the write callback without error); the receivers
// count too, as a check. When a client has sent all and received all its server's messages it
// sends close 1000 "done"; the server answers the close and ends its half of the stream
// (END_STREAM), the client ends its half on the answer. When all streams of a session are
// closed, the client closes the session (GOAWAY), then the server is closed.
//
// Usage: node bench/gen-h2.js small-h2 PORT OUT.count
// Writes OUT.count (total messages, both directions) and OUT.count.json (details, the port).
const fs = require('fs');
const http2 = require('http2');
const net = require('net');
const path = require('path');
const NM = path.join(__dirname, '..', 'samples', 'node_modules', 'ws');
const { Sender, Receiver } = require(NM);

const [mode, portArg, out] = process.argv.slice(2);
const PORT = Number(portArg);
const HOST = '127.0.0.1';
// `small` of gen.js: 8 WebSocket sessions, 100–300 B text, ~4.4 MB per direction per session
const MODES = {
  'small-h2': { tcpConns: 2, streams: 4, min: 100, max: 300, perDirBytes: 4.4e6, batch: 64, rate: 4 },
};
const M = MODES[mode];
if (!M || !PORT || !out) {
  console.error('usage: node bench/gen-h2.js small-h2 PORT OUT.count');
  process.exit(2);
}
if (process.env.BENCH_RATE_MB) M.rate = Number(process.env.BENCH_RATE_MB);
if (process.env.BENCH_PER_DIR_BYTES) M.perDirBytes = Number(process.env.BENCH_PER_DIR_BYTES); // quick tests only
const SESSIONS = M.tcpConns * M.streams;
setTimeout(() => { console.error('gen-h2: timeout'); process.exit(3); }, 200000).unref();

// ---- identical to gen.js: PRNG, message contents, plan ----
const { rng, jsonMsg, plan: planFor } = require(path.join(__dirname, 'traffic.js'));
const plan = (seed) => planFor(seed, M);
const t0 = Date.now();
let queued = 0;
const paceDelay = () => Math.max(0, queued / (M.rate * 1e3) - (Date.now() - t0)); // ms

const stats = { sent: { c2s: 0, s2c: 0 }, received: { c2s: 0, s2c: 0 }, bytes: { c2s: 0, s2c: 0 }, errors: 0 };
const fail = (what) => { console.error(what); stats.errors++; };

// One WebSocket endpoint on an HTTP/2 stream (Sender writes frames to it, the stream's DATA is
// fed to a Receiver).
function endpoint(stream, isClient, conn) {
  const dir = isClient ? 'c2s' : 's2c';
  const ep = { sender: new Sender(stream, {}), open: true, closeSent: false, closeRcvd: false, ended: false, got: 0, onMessage: null };
  const receiver = new Receiver({ isServer: !isClient, binaryType: 'nodebuffer' });
  ep.end = () => { if (!ep.ended) { ep.ended = true; stream.end(); } };
  ep.close = (code, reason) => { ep.open = false; ep.closeSent = true; ep.sender.close(code, reason, isClient); };
  receiver.on('message', () => { ep.got++; stats.received[isClient ? 's2c' : 'c2s']++; if (ep.onMessage) ep.onMessage(); });
  receiver.on('ping', (d) => ep.sender.pong(d, isClient));
  receiver.on('conclude', (code, reason) => {
    ep.closeRcvd = true;
    if (!ep.closeSent) ep.close(code === 1005 ? undefined : code, reason);
    ep.end();
  });
  receiver.on('error', (e) => fail(`conn ${conn} ${dir} receiver: ${e.message}`));
  stream.on('data', (chunk) => receiver.write(chunk));
  stream.on('error', (e) => fail(`conn ${conn} ${dir} stream: ${e.message}`));
  return ep;
}

// gen.js's pump on a stream endpoint: batches of M.batch messages, the next batch when the
// last one's bytes are written, paced over all sessions.
function pump(ep, conn, dir, sizes, seed, done) {
  const r = rng(seed ^ 0x5bd1e995);
  let i = 0;
  const next = () => {
    if (i >= sizes.length || !ep.open) return done();
    const wait = paceDelay();
    if (wait > 0) return setTimeout(next, Math.ceil(wait));
    const end = Math.min(i + M.batch, sizes.length);
    let pending = end - i;
    for (; i < end; i++) {
      const len = sizes[i];
      queued += len;
      const data = jsonMsg(r, conn, dir, i, len);
      ep.sender.send(data, { binary: false, compress: false, fin: true, mask: dir === 'c2s', rsv1: false }, (err) => {
        if (err) stats.errors++;
        else {
          stats.sent[dir]++;
          stats.bytes[dir] += len;
        }
        if (--pending === 0) setImmediate(next);
      });
    }
  };
  next();
}

const server = http2.createServer({ settings: { enableConnectProtocol: true } });
server.on('stream', (stream, headers) => {
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
    stream.respond({ ':status': 404 });
    stream.end();
    return;
  }
  const conn = Number(new URL(headers[':path'], 'http://x').searchParams.get('conn'));
  stream.respond({ ':status': 200 });
  const ep = endpoint(stream, false, conn);
  pump(ep, conn, 's2c', plan(1000 + conn), 2000 + conn, () => {});
});
server.on('sessionError', (e) => fail(`server session: ${e.message}`));

const versions = { node: process.version, nghttp2: process.versions.nghttp2, ws: require(path.join(NM, 'package.json')).version };
let closedSessions = 0;
const clients = [];
function finish() {
  server.close(() => {
    const total = stats.sent.c2s + stats.sent.s2c;
    const info = { mode, port: PORT, tcp_connections: M.tcpConns, websocket_streams_per_connection: M.streams,
      websocket_sessions: SESSIONS, h2: 'prior-knowledge', deflate: false, versions,
      client_ports: clients.map((c) => c.port), ...stats };
    fs.writeFileSync(out, `${total}\n`);
    fs.writeFileSync(`${out}.json`, JSON.stringify(info, null, 1) + '\n');
    console.log(`${mode}: ${M.tcpConns} TCP connections × ${M.streams} WebSocket streams, sent ${stats.sent.c2s} c2s + ` +
      `${stats.sent.s2c} s2c = ${total} messages (${((stats.bytes.c2s + stats.bytes.s2c) / 1e6).toFixed(1)} MB payload), ` +
      `received ${stats.received.c2s} + ${stats.received.s2c}, errors ${stats.errors}`);
    if (stats.errors || stats.received.c2s !== stats.sent.c2s || stats.received.s2c !== stats.sent.s2c) process.exitCode = 1;
  });
}

server.listen(PORT, HOST, () => {
  for (let t = 1; t <= M.tcpConns; t++) {
    let sock;
    const session = http2.connect(`http://${HOST}:${PORT}`, {
      createConnection: () => { sock = net.connect(PORT, HOST); return sock; },
    });
    const c = { session, port: null };
    clients.push(c);
    session.on('error', (e) => fail(`client session ${t}: ${e.message}`));
    session.once('remoteSettings', (st) => {
      c.port = sock.localPort;
      if (!st.enableConnectProtocol) { fail('server did not enable extended CONNECT'); process.exit(1); }
      let closedStreams = 0;
      for (let k = 1; k <= M.streams; k++) {
        const conn = (t - 1) * M.streams + k;
        const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http',
          ':path': `/bench?conn=${conn}`, ':authority': `${HOST}:${PORT}`, 'sec-websocket-version': '13' }, { endStream: false });
        const ep = endpoint(stream, true, conn);
        const expectIn = plan(1000 + conn).length;
        let sentAll = false;
        const maybeClose = () => { if (sentAll && ep.got === expectIn && ep.open) ep.close(1000, 'done'); };
        ep.onMessage = maybeClose;
        stream.once('response', (h) => {
          if (h[':status'] !== 200) { fail(`conn ${conn}: status ${h[':status']}`); return; }
          pump(ep, conn, 'c2s', plan(3000 + conn), 4000 + conn, () => { sentAll = true; maybeClose(); });
        });
        stream.on('close', () => {
          if (!ep.closeRcvd) fail(`conn ${conn}: stream closed (rst ${stream.rstCode}) before the close handshake`);
          if (++closedStreams === M.streams) session.close(() => { if (++closedSessions === M.tcpConns) finish(); });
        });
      }
    });
  }
});
