'use strict';
// Generator for node-closes.pcap (run by node-closes.gen.sh, which runs tcpdump around it).
// `ws` servers on 127.0.0.1:8081 and [::1]:8081, `ws` clients in the same process; one
// connection at a time, each: client sends one text message, server answers with one text
// message, then one side closes with a particular code/reason (or the server terminates the
// TCP connection without a close frame). Plus one handshake the server rejects with 403.
// Usage: node node-closes.gen.js OUT.expected.json
const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');
const { Sender, WebSocketServer } = WebSocket;

const NAME = 'node-closes';
const PORT = 8081;
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

// Scenarios, in connection order. closer: who calls close(); code/reason: its arguments
// (code undefined = close() without arguments = empty close payload).
const CASES = [
  { id: 'client-1000', closer: 'client', code: 1000, reason: 'normal' },
  { id: 'server-1001', closer: 'server', code: 1001, reason: 'server going away' },
  { id: 'client-3001-subprotocol', closer: 'client', code: 3001, reason: 'app-defined', protocols: ['v2.proto', 'v1.proto'] },
  { id: 'server-4000-noreason', closer: 'server', code: 4000, reason: '' },
  { id: 'client-1003', closer: 'client', code: 1003, reason: 'unsupported data' },
  { id: 'server-terminate', closer: 'server', terminate: true },
  { id: 'client-empty-close', closer: 'client', code: undefined },
  { id: 'rejected-403', reject: true },
  { id: 'ipv6-client-1000-123byte-reason', closer: 'client', code: 1000, ipv6: true,
    reason: 'r\u00e9sum\u00e9 ' + 'x'.repeat(123 - 10 - 3) + '\u00e9nd' }, // 123 bytes of UTF-8: the maximum
];
for (const c of CASES) if (c.reason !== undefined && Buffer.byteLength(c.reason) > 123) throw new Error(c.id);

async function main() {
  const servers = [];
  const closedServer = new Map(); // case id -> promise resolved on server-side 'close'
  for (const host of ['127.0.0.1', '::1']) {
    const wss = new WebSocketServer({
      host, port: PORT, perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has('v1.proto') ? 'v1.proto' : false),
      verifyClient: (info, cb) => {
        if (info.req.url === '/rejected-403') {
          serverRecord(info.req.socket, { status: 403 });
          cb(false, 403, 'Forbidden');
        } else cb(true);
      },
    });
    await new Promise((r) => wss.on('listening', r));
    wss.on('connection', (ws, req) => {
      serverRecord(req.socket, { status: 101, subprotocol: ws.protocol || null, extensions: [] });
      const c = CASES.find((x) => `/${x.id}` === req.url);
      closedServer.set(c.id, new Promise((r) => ws.on('close', r)));
      ws.on('message', () => {
        ws.send(`server reply on ${c.id}`, () => {
          if (c.closer !== 'server') return;
          if (c.terminate) setTimeout(() => ws.terminate(), 50); // FIN without a close frame
          else ws.close(c.code, c.reason);
        });
      });
    });
    servers.push(wss);
  }

  for (const c of CASES) {
    const host = c.ipv6 ? '[::1]' : '127.0.0.1';
    const ws = new WebSocket(`ws://${host}:${PORT}/${c.id}`, c.protocols || [], { perMessageDeflate: false });
    const closed = new Promise((r) => ws.on('close', (code, reason) => r([code, reason.toString()])));
    if (c.reject) {
      // ws emits 'error' + 'close' (1006) for a non-101 answer; the status is in the error message
      const err = await new Promise((r) => ws.on('error', r));
      if (!/Unexpected server response: 403/.test(err.message)) throw err;
      await closed;
      await sleep(100);
      continue;
    }
    await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
    clientRecord(ws._socket);
    ws.on('message', () => {
      if (c.closer === 'client') ws.close(c.code, c.reason);
    });
    ws.send(`client message on ${c.id}`);
    const [code, reason] = await Promise.race([closed, sleep(5000).then(() => { throw new Error(`${c.id}: timeout`); })]);
    await closedServer.get(c.id);
    console.log(`${c.id}: client saw close ${code} ${JSON.stringify(reason)}`);
    await sleep(100);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));

  const recs = [...records.values()];
  const term = recs.find((r) => r.status === 101 && r.closes.length === 0);
  const expected = {
    capture: `${NAME}.pcap`,
    generator: `${NAME}.gen.sh`,
    description: 'Node ws ' + require('ws/package.json').version + ' (perMessageDeflate off), servers on 127.0.0.1:8081 and [::1]:8081. ' +
      'One connection at a time; on each the client sends one text message, the server answers one text message, then: ' +
      CASES.map((c, i) => `#${i + 1} ${c.id}`).join(', ') + '. ' +
      'The peer of a close echoes the code and reason (ws behaviour); an empty close payload (close() without a code) is answered with an empty one (code null). ' +
      `Connection ${term ? term.client : '?'}: the server called ws.terminate() after its message, so the TCP connection ends (FIN) with no close frame from either side (closes: []). ` +
      'Connection #3 offers subprotocols "v2.proto, v1.proto"; the server picks "v1.proto". ' +
      'Connection #8 is rejected by the server with HTTP 403 (no WebSocket frames). Connection #9 is over IPv6 with a 123-byte (maximum) UTF-8 close reason.',
    connections: recs,
  };
  fs.writeFileSync(out, JSON.stringify(expected, null, 2) + '\n');
  console.log(`wrote ${out}: ${recs.length} connection(s)`);
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
