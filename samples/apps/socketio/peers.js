// The two Socket.IO peers of the sample captures, one process each:
//   node peers.js server PORT MODE LOG     node peers.js client PORT MODE LOG
// MODE is "plain" (websocket transport only, no compression) or "deflate" (the client starts
// with HTTP long-polling and upgrades, and both sides compress every message).
// Each side writes its log as JSON lines: what its Engine.IO socket sent and received (every
// packet, in order, with its type and data) and what its Socket.IO parser encoded and decoded
// (namespace, packet type, ack id, attachments). These logs are the truth the test checks.
"use strict";
const fs = require("fs");
const [role, port, mode, logFile] = process.argv.slice(2);
const deflate = mode === "deflate";
const out = fs.openSync(logFile, "w");
const t0 = process.hrtime.bigint();
function log(rec) {
  rec.t_ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.writeSync(out, JSON.stringify(rec) + "\n");
}
// Buffers as {bytes: N, sha: first bytes} so the log stays small but exact.
function plain(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = Buffer.from(v.buffer ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : v);
    return { binary: b.length, head: b.subarray(0, 8).toString("hex") };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
// The Socket.IO layer: every packet this side encodes (sent) and decodes (received).
const parser = require(role === "server" ? "socket.io-parser" : require.resolve("socket.io-parser", { paths: [require.resolve("socket.io-client")] }));
const types = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"];
const encode = parser.Encoder.prototype.encode;
parser.Encoder.prototype.encode = function (p) {
  const parts = encode.call(this, p);
  log({ layer: "socket.io", dir: "sent", wire: parts[0], attachments: parts.slice(1).map((b) => b.length), type: types[Number(parts[0][0])], nsp: p.nsp, id: p.id, data: plain(p.data) });
  return parts;
};
const add = parser.Decoder.prototype.add;
parser.Decoder.prototype.add = function (obj) {
  if (!this.__logged) {
    this.__logged = true;
    this.on("decoded", (p) => log({ layer: "socket.io", dir: "recv", type: types[p.type], nsp: p.nsp, id: p.id, data: plain(p.data) }));
  }
  return add.call(this, obj);
};
// The Engine.IO layer: every packet, with the transport that carried it.
function engineLog(sock, transportName) {
  sock.on("packetCreate", (p) => log({ layer: "engine.io", dir: "sent", type: p.type, data: plain(p.data), transport: transportName() }));
  sock.on("packet", (p) => log({ layer: "engine.io", dir: "recv", type: p.type, data: plain(p.data), transport: transportName() }));
  sock.on("upgrade", () => log({ layer: "engine.io", event: "upgrade" }));
  if (sock.id) log({ layer: "engine.io", event: "open", sid: sock.id, transport: transportName() });
}
const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
const compression = deflate ? { threshold: 0 } : false;
const bail = setTimeout(() => { log({ event: "timeout" }); process.exit(3); }, 20000);

if (role === "server") {
  const { Server } = require("socket.io");
  const io = new Server(Number(port), { pingInterval: 300, pingTimeout: 2000, perMessageDeflate: compression, transports: deflate ? ["polling", "websocket"] : ["websocket"] });
  io.engine.on("connection", (sock) => engineLog(sock, () => sock.transport.name));
  io.on("connection", (socket) => {
    log({ app: "connect", nsp: "/", sid: socket.id });
    socket.on("chat message", (msg) => {
      log({ app: "recv", event: "chat message", args: [msg] });
      io.emit("news", "broadcast: " + msg); // a broadcast to the namespace
    });
    socket.on("add", (a, b, ack) => { log({ app: "recv", event: "add", args: [a, b] }); ack(a + b); });
    socket.on("upload", (name, buf, ack) => {
      log({ app: "recv", event: "upload", args: [name, plain(buf)] });
      ack({ name, size: buf.length });
    });
    socket.on("download", (name, ack) => { log({ app: "recv", event: "download", args: [name] }); ack(bytes(300, 3)); });
    socket.on("go", () => {
      socket.emit("question", "ready?", (answer) => log({ app: "ack-recv", event: "question", args: [answer] }));
      socket.emit("files", { count: 2 }, bytes(5, 1), bytes(2000, 2));
      for (let i = 0; i < 3; i++) socket.volatile.emit("tick", i);
    });
    socket.on("disconnect", (reason) => log({ app: "disconnect", nsp: "/", reason }));
  });
  const admin = io.of("/admin");
  admin.use((socket, next) => {
    if (socket.handshake.auth.token === "secret") return next();
    log({ app: "refuse", nsp: "/admin", auth: socket.handshake.auth });
    next(new Error("not authorised"));
  });
  admin.on("connection", (socket) => {
    log({ app: "connect", nsp: "/admin", sid: socket.id });
    socket.on("stats", (ack) => { log({ app: "recv", nsp: "/admin", event: "stats" }); ack({ users: 1, uptime_s: 42 }); });
    socket.on("disconnect", (reason) => { log({ app: "disconnect", nsp: "/admin", reason }); });
  });
  process.on("SIGTERM", () => { io.close(); clearTimeout(bail); process.exit(0); });
  log({ event: "listening", port: Number(port), mode });
} else {
  const { Manager } = require("socket.io-client");
  const manager = new Manager(`http://127.0.0.1:${port}`, { transports: deflate ? ["polling", "websocket"] : ["websocket"], perMessageDeflate: compression, reconnection: false });
  manager.on("open", () => engineLog(manager.engine, () => manager.engine.transport.name));
  const root = manager.socket("/");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const emitAck = (s, ...args) => new Promise((res) => s.emit(...args, (...reply) => res(reply)));
  root.on("news", (m) => log({ app: "recv", event: "news", args: [m] }));
  root.on("tick", (i) => log({ app: "recv", event: "tick", args: [i] }));
  root.on("files", (meta, a, b) => log({ app: "recv", event: "files", args: [meta, plain(a), plain(b)] }));
  root.on("question", (q, ack) => { log({ app: "recv", event: "question", args: [q] }); ack("yes"); });
  root.once("connect", async () => {
    log({ app: "connect", nsp: "/", sid: root.id });
    if (deflate && manager.engine.transport.name !== "websocket") {
      await new Promise((r) => manager.engine.once("upgrade", r));
    }
    root.emit("chat message", "hi");
    log({ app: "ack-recv", event: "add", args: await emitAck(root, "add", 2, 3) });
    log({ app: "ack-recv", event: "upload", args: await emitAck(root, "upload", "a.bin", bytes(1500, 9)) });
    log({ app: "ack-recv", event: "download", args: plain(await emitAck(root, "download", "b.bin")) });
    root.emit("go");
    await sleep(200);
    // a namespace the server's middleware refuses, then the same namespace with the right token
    const admin = manager.socket("/admin", { auth: { token: "wrong" } });
    const err = await new Promise((r) => admin.once("connect_error", r));
    log({ app: "connect_error", nsp: "/admin", message: err.message });
    admin.auth = { token: "secret" };
    admin.connect();
    await new Promise((r) => admin.once("connect", r));
    log({ app: "connect", nsp: "/admin", sid: admin.id });
    log({ app: "ack-recv", nsp: "/admin", event: "stats", args: await emitAck(admin, "stats") });
    await sleep(1300); // several 300 ms heartbeats
    admin.disconnect();
    await sleep(100);
    root.disconnect();
    await sleep(100);
    log({ event: "done" });
    clearTimeout(bail);
    setTimeout(() => process.exit(0), 100);
  });
}
