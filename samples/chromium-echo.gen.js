'use strict';
// Generator for chromium-echo.pcapng (run by chromium-echo.gen.sh, which runs tcpdump around it).
// Serves chromium-echo.page.html on http://127.0.0.1:8090/ and WebSocket echo endpoints on
// 127.0.0.1:8091 (`ws` noServer, routed by path): /deflate accepts permessage-deflate with
// {threshold: 0} (everything the server sends is compressed), /plain has deflate disabled.
// Starts headless Chromium on the page, waits for the page to POST its log of what it sent
// to /log, stops Chromium, and writes the expected file from the page's log (c2s) and the
// server's own Sender log (s2c).
// Usage: node chromium-echo.gen.js OUT.expected.json
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');
const WebSocket = require('ws');
const { Sender, WebSocketServer } = WebSocket;

const NAME = 'chromium-echo';
const HOST = '127.0.0.1';
const HTTP_PORT = 8090;
const WS_PORT = 8091;
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
const t0 = Date.now();
const stamp = (s) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

async function main() {
  // --- page + log server
  let gotLog;
  const pageLog = new Promise((r) => { gotLog = r; });
  const page = fs.readFileSync(path.join(__dirname, `${NAME}.page.html`));
  const web = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(page);
    } else if (req.method === 'POST' && req.url === '/log') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => { res.writeHead(204); res.end(); gotLog(JSON.parse(Buffer.concat(chunks).toString())); });
    } else { res.writeHead(404); res.end(); }
  });
  web.keepAliveTimeout = 1000;
  await new Promise((r) => web.listen(HTTP_PORT, HOST, r));

  // --- WebSocket echo server
  const wsHttp = http.createServer((req, res) => { res.writeHead(404); res.end(); });
  const routes = new Map([
    ['/deflate', new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } })],
    ['/plain', new WebSocketServer({ noServer: true, perMessageDeflate: false })],
  ]);
  const serverClosed = [];
  for (const [p, wss] of routes) {
    wss.on('headers', (headers, req) => {
      req.acceptedExtensions = headers.filter((h) => /^sec-websocket-extensions:/i.test(h)).map((h) => h.replace(/^[^:]*:\s*/, ''));
    });
    wss.on('connection', (ws, req) => {
      const rec = serverRecord(req.socket, { status: 101, subprotocol: ws.protocol || null, extensions: req.acceptedExtensions || [] });
      rec.path = p;
      rec.client_offered_extensions = req.headers['sec-websocket-extensions'] || null;
      stamp(`ws connection ${p}`);
      serverClosed.push(new Promise((r) => ws.on('close', r)));
      let n = 0;
      ws.on('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary });
        if (++n === 1) ws.ping('srv-ping'); // the browser answers with a pong
      });
    });
  }
  wsHttp.on('upgrade', (req, socket, head) => {
    const wss = routes.get(req.url);
    if (!wss) { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise((r) => wsHttp.listen(WS_PORT, HOST, r));

  // --- headless Chromium
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-echo-'));
  const chrome = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
    '--disable-default-apps', '--no-default-browser-check', '--enable-logging=stderr', '--v=0',
    `--user-data-dir=${profile}`, `http://${HOST}:${HTTP_PORT}/`], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const chromeErr = [];
  chrome.stderr.on('data', (d) => chromeErr.push(d));
  let log;
  try {
    stamp('chromium started');
    log = await Promise.race([pageLog, sleep(45000).then(() => { throw new Error('page log timeout'); })]);
    stamp('page log received');
    await Promise.race([Promise.all(serverClosed), sleep(5000)]);
  } finally {
    try { process.kill(-chrome.pid, 'SIGTERM'); } catch (e) { /* already gone */ }
    await Promise.race([new Promise((r) => chrome.on('exit', r)), sleep(5000)]);
    try { process.kill(-chrome.pid, 'SIGKILL'); } catch (e) { /* gone */ }
    stamp('chromium stopped');
    fs.rmSync(profile, { recursive: true, force: true });
  }
  const consoleLines = Buffer.concat(chromeErr).toString().split('\n').filter((l) => /CONSOLE/.test(l));
  consoleLines.forEach((l) => console.log('chromium:', l.replace(/^.*CONSOLE/, 'CONSOLE')));
  if (log.error) throw new Error(`page: ${log.error}`);
  await new Promise((r) => { web.closeAllConnections(); web.close(r); });
  for (const wss of routes.values()) wss.close();
  await new Promise((r) => wsHttp.close(r));

  // --- merge the page's log (c2s) with the server's (s2c)
  const recs = [...records.values()];
  if (recs.length !== log.sockets.length) throw new Error(`server saw ${recs.length} connections, page ${log.sockets.length}`);
  for (const [i, rec] of recs.entries()) {
    const ps = log.sockets[i];
    if (ps.path !== rec.path) throw new Error('connection order mismatch');
    if (ps.echoes_ok !== ps.sent.length) throw new Error(`${ps.path}: page saw ${ps.echoes_ok}/${ps.sent.length} good echoes`);
    const s2c = rec.messages;
    if (s2c.length !== ps.sent.length) throw new Error(`${ps.path}: ${s2c.length} echoes for ${ps.sent.length} messages`);
    // real order: the page sends message i, the server echoes it, the page sends i+1 ...
    rec.messages = ps.sent.flatMap((m, k) => [m, s2c[k]]);
    rec.closes = [...ps.closes_sent, ...rec.closes];
    rec.extensions_seen_by_page = ps.extensions_seen_by_page;
    rec.page_close_event = ps.close_event;
    delete rec.path;
  }
  const version = execFileSync('chromium', ['--version'], { stderr: 'ignore' }).toString().trim();
  const expected = {
    capture: `${NAME}.pcapng`,
    generator: `${NAME}.gen.sh`,
    description: `Headless ${version} (${log.userAgent}) loads http://127.0.0.1:8090/ (page + a POST /log: plain HTTP, not WebSocket, ` +
      'in the capture but not listed in connections), then opens two WebSockets to 127.0.0.1:8091 one after the other: ' +
      `/deflate (ws ${require('ws/package.json').version} server accepts permessage-deflate, {threshold: 0}, so every message in both directions is compressed) ` +
      'and /plain (server has deflate disabled). On each the page sends ASCII text, non-ASCII text (emoji, CJK), an empty text, ' +
      'a 1220-byte text, ArrayBuffers of 1000 and 100000 bytes, waiting for each echo; the server echoes each message unfragmented and ' +
      'sends one ping "srv-ping" (8 bytes) after its first echo; the page closes with 1000 "done" and the server echoes the close. ' +
      'c2s messages and closes come from the page\'s own log (POSTed to /log); s2c from the server\'s ws Sender log. ' +
      '"fragments" and "compressed" are known for the server\'s messages only. "client_offered_extensions" = the request header the server ' +
      'received; "extensions_seen_by_page" = WebSocket.extensions in the page.',
    connections: recs,
  };
  fs.writeFileSync(out, JSON.stringify(expected, null, 2) + '\n');
  console.log(`wrote ${out}: ${recs.length} connection(s)`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
