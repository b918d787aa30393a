'use strict';
// Traffic generator for the benchmark captures (run by bench/make-captures.sh, which runs
// tcpdump around it). A `ws` server and CONNS `ws` clients in one process, over loopback;
// on every connection both ends send their own stream of messages at the same time (not an
// echo). Message counts are the senders' own: a message is counted when `ws` reports it
// written to the socket (send callback without error). The receivers count too, as a check.
//
// Usage: node bench/gen.js MODE PORT OUT.count [CERT.pem KEY.pem]
//   MODE small      text, 100–300 B JSON-like, compression off        (~100 MB capture)
//        large      binary, 64 KiB–1 MiB, compression off             (~100 MB capture)
//        deflate    text, 200 B–4 KiB JSON-like, permessage-deflate on (~50 MB capture)
//        many-small text, 2–300 B JSON-like, 777 connections, compression off (~60 MB capture)
//        many   text, 100–300 B, 1,000 connections open at once (~70 MB; the -j N curve)
//        small-tls  the traffic of `small` (same sizes, same seeds) over wss:// (needs CERT KEY)
//        large-tls  the traffic of `large` over wss://
// Writes OUT.count (total messages, both directions) and OUT.count.json (details).
// TLS modes: an https.Server with the given (self-signed) certificate carries the `ws` server;
// the clients connect to wss://127.0.0.1:PORT with rejectUnauthorized: false. Node's TLS
// defaults (TLS 1.3, its default suite, which is TLS_AES_256_GCM_SHA384 with OpenSSL 3; the
// suite and version each connection got are recorded in OUT.count.json). The key log is
// written to OUT.keys (OUT with .count replaced): the lines of the 'keylog' events of both
// ends (the server's tls.Server and each client's TLSSocket), each line once; both ends must
// have logged the same lines.
const fs = require('fs');
const https = require('https');
const path = require('path');
const tls = require('tls');
const WebSocket = require(path.join(__dirname, '..', 'samples', 'node_modules', 'ws'));
const { WebSocketServer } = WebSocket;

const [mode, portArg, out, certFile, keyFile] = process.argv.slice(2);
const PORT = Number(portArg);
const HOST = '127.0.0.1';

// Seeded PRNG (mulberry32): the same sizes and contents on every run.
const { rng, jsonMsg, plan: planFor } = require(path.join(__dirname, 'traffic.js'));


const MODES = {
  // target: payload bytes per direction per connection, message size range, batching
  // rate: payload MB/s over all connections and both directions, so that tcpdump keeps up
  // (with --immediate-mode on a 2-CPU machine it drops a few packets at ~12 MB/s of small
  // messages); BENCH_RATE_MB overrides.
  small: { conns: 8, deflate: false, binary: false, min: 100, max: 300, perDirBytes: 4.4e6, batch: 64, rate: 4 },
  large: { conns: 4, deflate: false, binary: true, min: 64 * 1024, max: 1024 * 1024, perDirBytes: 12.2e6, batch: 1, rate: 25 },
  deflate: { conns: 4, deflate: true, binary: false, min: 200, max: 4096, perDirBytes: 20e6, batch: 32, rate: 8 },
  // Many connections of small messages, 2 B to 300 B (issue 14's "any capture of small
  // messages": the per-connection and per-message costs, not the bytes).
  'many-small': { conns: 777, deflate: false, binary: false, min: 2, max: 300, perDirBytes: 20e3, batch: 8, rate: 1.5 },
  // 1,000 connections open at once, the small messages of `small` (the -j N scaling curve).
  many: { conns: 1000, deflate: false, binary: false, min: 100, max: 300, perDirBytes: 25e3, batch: 16, rate: 4 },
};
// The same traffic over TLS: a copy of the plaintext mode's parameters (so the same seeds give
// the same message sizes), with tls set.
MODES['small-tls'] = { ...MODES.small, tls: true };
MODES['large-tls'] = { ...MODES.large, tls: true };
const M = MODES[mode];
if (!M || !PORT || !out || (M.tls && !(certFile && keyFile))) {
  console.error('usage: node bench/gen.js small|large|deflate|many-small|many PORT OUT.count\n' +
    '       node bench/gen.js small-tls|large-tls PORT OUT.count CERT.pem KEY.pem');
  process.exit(2);
}
if (process.env.BENCH_RATE_MB) M.rate = Number(process.env.BENCH_RATE_MB);
const pmd = M.deflate ? { threshold: 0, serverNoContextTakeover: false, clientNoContextTakeover: false } : false;

// Precompute each stream's sizes so both ends know how many messages to expect.
// The message sizes of one direction of a connection (bench/traffic.js).
const plan = (seed) => planFor(seed, M);

const BIN = Buffer.alloc(2 * 1024 * 1024);
{
  const r = rng(7);
  for (let i = 0; i < BIN.length; i += 4) BIN.writeUInt32LE((r() * 4294967296) >>> 0, i);
}

// Global pacing: payload bytes queued so far may not run ahead of rate × elapsed time.
const t0 = Date.now();
let queued = 0;
const paceDelay = () => Math.max(0, queued / (M.rate * 1e3) - (Date.now() - t0)); // ms

const stats = { sent: { c2s: 0, s2c: 0 }, received: { c2s: 0, s2c: 0 }, bytes: { c2s: 0, s2c: 0 }, errors: 0 };

// Send a stream of messages with batching: queue `batch` messages, then wait for the last
// one's callback (written to the kernel) before queueing more, so memory stays bounded and the
// sender runs as fast as TCP over loopback lets it.
function pump(ws, conn, dir, sizes, seed, done) {
  const r = rng(seed ^ 0x5bd1e995);
  let i = 0;
  const next = () => {
    if (i >= sizes.length || ws.readyState !== WebSocket.OPEN) return done();
    const wait = paceDelay();
    if (wait > 0) return setTimeout(next, Math.ceil(wait));
    const end = Math.min(i + M.batch, sizes.length);
    let pending = end - i;
    for (; i < end; i++) {
      const len = sizes[i];
      queued += len;
      let data;
      if (M.binary) {
        const off = Math.floor(r() * (BIN.length - len));
        data = BIN.subarray(off, off + len);
      } else {
        data = jsonMsg(r, conn, dir, i, len);
      }
      ws.send(data, { binary: M.binary, compress: M.deflate, fin: true }, (err) => {
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

// TLS: key log lines per end (in the order logged), and what each connection negotiated.
const keylines = { client: [], server: [] };
const tlsConns = [];
let httpsServer = null;
let wss;
if (M.tls) {
  httpsServer = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
  httpsServer.on('keylog', (line) => keylines.server.push(line.toString().trimEnd()));
  wss = new WebSocketServer({ server: httpsServer, perMessageDeflate: pmd, maxPayload: 2 * 1024 * 1024 });
  httpsServer.listen(PORT, HOST); // ws re-emits the server's 'listening'
} else {
  wss = new WebSocketServer({ host: HOST, port: PORT, perMessageDeflate: pmd, maxPayload: 2 * 1024 * 1024 });
}
let connSeq = 0;
wss.on('connection', (ws, req) => {
  const conn = Number(new URL(req.url, 'http://x').searchParams.get('conn'));
  if (M.tls) {
    const s = req.socket;
    tlsConns.push({ conn, version: s.getProtocol(), cipher: s.getCipher().standardName, resumed: s.isSessionReused() });
  }
  const sizes = plan(1000 + conn);
  ws.on('message', () => stats.received.c2s++);
  pump(ws, conn, 's2c', sizes, 2000 + conn, () => {});
});

wss.on('listening', () => {
  let finished = 0;
  for (let c = 1; c <= M.conns; c++) {
    const conn = c;
    const opts = { perMessageDeflate: pmd, maxPayload: 2 * 1024 * 1024 };
    if (M.tls) {
      opts.rejectUnauthorized = false;
      opts.createConnection = (o) => {
        const s = tls.connect(o);
        s.on('keylog', (line) => keylines.client.push(line.toString().trimEnd()));
        return s;
      };
    }
    const ws = new WebSocket(`${M.tls ? 'wss' : 'ws'}://${HOST}:${PORT}/bench?conn=${conn}`, opts);
    const expectIn = plan(1000 + conn).length; // what the server will send on this connection
    const mySizes = plan(3000 + conn);
    let got = 0;
    let sentAll = false;
    const maybeClose = () => {
      if (sentAll && got === expectIn && ws.readyState === WebSocket.OPEN) ws.close(1000, 'done');
    };
    ws.on('open', () => {
      connSeq++;
      pump(ws, conn, 'c2s', mySizes, 4000 + conn, () => {
        sentAll = true;
        maybeClose();
      });
    });
    ws.on('message', () => {
      stats.received.s2c++;
      got++;
      maybeClose();
    });
    ws.on('error', (e) => {
      console.error(`conn ${conn}: ${e.message}`);
      stats.errors++;
    });
    ws.on('close', () => {
      if (++finished === M.conns) {
        wss.close();
        if (httpsServer) httpsServer.close();
        const total = stats.sent.c2s + stats.sent.s2c;
        const info = { mode, conns: M.conns, deflate: M.deflate, ...stats };
        if (M.tls) {
          const a = [...keylines.client].sort().join('\n');
          const b = [...keylines.server].sort().join('\n');
          if (a !== b) {
            console.error('client and server key logs differ');
            stats.errors++;
          }
          const lines = [...new Set([...keylines.client, ...keylines.server])];
          fs.writeFileSync(out.replace(/\.count$/, '') + '.keys', lines.map((l) => l + '\n').join(''));
          const one = (k) => [...new Set(tlsConns.map((c) => c[k]))].join(', ');
          info.tls = {
            library: `Node ${process.version} tls, OpenSSL ${process.versions.openssl}`,
            version: one('version'),
            cipher: one('cipher'),
            resumed: tlsConns.filter((c) => c.resumed).length,
            keylog_lines: lines.length,
            connections: tlsConns.sort((x, y) => x.conn - y.conn),
          };
          if (tlsConns.length !== M.conns) stats.errors++;
          info.errors = stats.errors;
        }
        fs.writeFileSync(out, `${total}\n`);
        fs.writeFileSync(`${out}.json`, JSON.stringify(info, null, 1) + '\n');
        if (M.tls) console.log(`${mode}: ${info.tls.version} ${info.tls.cipher}, ${info.tls.keylog_lines} key log lines`);
        console.log(`${mode}: ${M.conns} connections, sent ${stats.sent.c2s} c2s + ${stats.sent.s2c} s2c = ${total} messages ` +
          `(${((stats.bytes.c2s + stats.bytes.s2c) / 1e6).toFixed(1)} MB payload), received ${stats.received.c2s} + ${stats.received.s2c}, errors ${stats.errors}`);
        if (stats.errors || stats.received.c2s !== stats.sent.c2s || stats.received.s2c !== stats.sent.s2c) process.exitCode = 1;
      }
    });
  }
});
