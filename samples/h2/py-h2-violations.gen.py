#!/usr/bin/env python3
"""py-h2-violations.pcap: RFC 8441 oddities between a Python `h2` client
(H2Configuration(validate_outbound_headers=False)) and a small server made of the `h2` library +
wsproto (this script, a thread, one connection at a time) on 127.0.0.1:8607. h2c, prior knowledge.

Both sides log every HTTP/2 frame they write (decoded with hyperframe from the exact bytes handed
to the socket: "frames_sent"), every WebSocket frame they hand to wsproto, and the oddities they
commit on purpose ("violations"). What the h2 library did by itself in reaction (RST_STREAM,
GOAWAY) is in the frame logs of the side that sent it.

Connections, one after the other:
  1 server never enables extended CONNECT (its SETTINGS carry ENABLE_CONNECT_PROTOCOL=0, h2's
    default); the client, having seen that, sends an extended CONNECT /echo on stream 1 anyway.
    h2 does not check this on receipt; the server script does and answers RST_STREAM(PROTOCOL_ERROR).
  2 server enables it, but the client sends its extended CONNECT (stream 1) right after its
    preface, before the server's SETTINGS arrived (the server script holds its SETTINGS back
    for 0.2 s; the generator checks the order in the capture); the request also carries `sec-websocket-key`
    and the server's 200 carries `sec-websocket-accept` (both HTTP/1.1-only). Two messages each
    way, then the client starts a 100-byte text frame, sends only 40 bytes of it and resets the
    stream: RST_STREAM(CANCEL) mid-message.
    Stream 3: extended CONNECT /forbidden -> 403 followed by a DATA frame (body) with END_STREAM.
    Stream 5: an ordinary WebSocket, one message each way, client close 1000 with END_STREAM,
    server echo with END_STREAM; then the client writes a raw DATA frame on stream 5 after its
    END_STREAM (h2 would refuse it, so hyperframe bytes straight to the socket); the server's
    h2 reacts by itself. Then client GOAWAY.
  3 `:protocol: websocket` on a GET (stream 1): the server's h2 raises ProtocolError on receipt
    and queues GOAWAY(PROTOCOL_ERROR, last_stream_id 1) by itself; the server script sends it and
    closes (FIN).
  4 the server sends GOAWAY(NO_ERROR, last_stream_id=1) while the WebSocket on stream 1 is open
    (after echoing its first message); h2 on both sides then treats the connection as closed:
    the client closes the socket, the WebSocket never gets a close frame.
"""
import base64
import hashlib
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2lib  # noqa: E402
from h2lib import HERE, Capture, fmt_addr, port_free, sha256, tshark, check_tcp, ws_event_record  # noqa: E402
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402
import hyperframe.frame as hf  # noqa: E402
import wsproto.connection as wsc  # noqa: E402
import wsproto.events as wse  # noqa: E402

NAME = "py-h2-violations"
PORT = 8607
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FTYPE = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE", 6: "PING",
         7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}


class FrameLog:
    """Decodes the bytes one side writes into HTTP/2 frames (its own log of what it sent)."""

    def __init__(self, client):
        self.buf = b""
        self.skip = len(PREFACE) if client else 0
        self.frames = []

    def feed(self, data):
        self.buf += data
        if self.skip:
            n = min(self.skip, len(self.buf))
            assert self.buf[:n] == PREFACE[len(PREFACE) - self.skip:][:n]
            self.buf, self.skip = self.buf[n:], self.skip - n
        while len(self.buf) >= 9:
            f, length = hf.Frame.parse_frame_header(memoryview(self.buf[:9]))
            if len(self.buf) < 9 + length:
                break
            f.parse_body(memoryview(self.buf[9:9 + length]))
            rec = {"type": FTYPE.get(f.type, f.type), "stream": f.stream_id, "flags": sorted(f.flags), "length": length}
            if isinstance(f, hf.RstStreamFrame):
                rec["error_code"] = f.error_code
            if isinstance(f, hf.GoAwayFrame):
                rec.update(error_code=f.error_code, last_stream_id=f.last_stream_id,
                           debug=f.additional_data.decode(errors="replace"))
            if isinstance(f, hf.SettingsFrame):
                rec["settings"] = {str(k): v for k, v in f.settings.items()}
            self.frames.append(rec)
            self.buf = self.buf[9 + length:]


def send_logged(sock, data, flog):
    if data:
        flog.feed(data)
        sock.sendall(data)


# --------------------------------------------------------------------------- server

class Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", PORT))
        self.lsock.listen(8)
        self.configs = []          # per accepted connection: {"enable": bool}
        self.logs = {}             # client addr -> log dict
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        self.lsock.settimeout(0.2)
        while not self.stop:
            try:
                s, addr = self.lsock.accept()
            except socket.timeout:
                continue
            cfg = self.configs.pop(0)
            try:
                self.serve(s, fmt_addr(addr), cfg)
            except Exception as e:  # noqa: BLE001
                self.logs.setdefault(fmt_addr(addr), {})["server_exception"] = repr(e)
            finally:
                s.close()

    def serve(self, s, client, cfg):
        log = self.logs.setdefault(client, {})
        flog = FrameLog(client=False)
        log.update(frames=flog.frames, ws={}, notes=[], requests={})
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        if cfg["enable"]:
            conn.local_settings = h2.settings.Settings(client=False, initial_values={
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
        conn.initiate_connection()
        time.sleep(cfg.get("settings_delay", 0))  # conn 2: the client's CONNECT must come first
        send_logged(s, conn.data_to_send(), flog)
        ws = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r, _, _ = select.select([s], [], [], 0.2)
            if not r:
                continue
            data = s.recv(65536)
            if not data:
                log["notes"].append("server: EOF from client")
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                log["notes"].append(f"server: h2 raised {type(e).__name__}: {e}")
                # h2 has already queued GOAWAY(PROTOCOL_ERROR) itself; send it, then FIN
                send_logged(s, conn.data_to_send(), flog)
                s.shutdown(socket.SHUT_WR)
                log["notes"].append("server: sent what h2 queued (its own GOAWAY) and FIN")
                s.settimeout(5)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
                return
            for ev in events:
                log["notes"].append(f"server event: {type(ev).__name__} stream {getattr(ev, 'stream_id', 0)}"
                                    + (f" error {int(ev.error_code)}" if hasattr(ev, "error_code") and ev.error_code is not None else ""))
                if isinstance(ev, h2.events.RequestReceived):
                    hd = {k.decode(): v.decode() for k, v in ev.headers}
                    sid = ev.stream_id
                    if hd.get(":method") == "CONNECT" and ":protocol" in hd:
                        st = log["ws"][sid] = {"path": hd[":path"], "request_headers": [(k.decode(), v.decode()) for k, v in ev.headers],
                                               "sent": [], "received": [], "notes": []}
                        if not conn.local_settings.enable_connect_protocol:
                            st["notes"].append("extended CONNECT although ENABLE_CONNECT_PROTOCOL was not sent: RST_STREAM(PROTOCOL_ERROR)")
                            conn.reset_stream(sid, h2.errors.ErrorCodes.PROTOCOL_ERROR)
                            st["status"] = None
                        elif hd[":path"] == "/forbidden":
                            st["status"] = 403
                            conn.send_headers(sid, [(b":status", b"403"), (b"content-type", b"text/plain")])
                            conn.send_data(sid, b"no websocket for you\n", end_stream=True)
                            st["notes"].append("403 followed by a DATA frame with END_STREAM")
                        else:
                            resp = [(b":status", b"200")]
                            if "sec-websocket-key" in hd:
                                acc = base64.b64encode(hashlib.sha1(hd["sec-websocket-key"].encode() +
                                                                    b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                                resp.append((b"sec-websocket-accept", acc))
                                st["notes"].append("sec-websocket-accept in the 200 (answering the client's sec-websocket-key)")
                            conn.send_headers(sid, resp)
                            st["status"] = 200
                            st["response_headers"] = [(k.decode(), v.decode()) for k, v in resp]
                            ws[sid] = wsc.Connection(wsc.ConnectionType.SERVER)
                    else:
                        log["requests"][sid] = {"method": hd.get(":method"), "path": hd.get(":path"), "status": 200}
                        conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"text/plain")])
                        conn.send_data(sid, b"ok\n", end_stream=True)
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    w = ws.get(ev.stream_id)
                    if w is None or w.state == wsc.ConnectionState.CLOSED:
                        if ev.data:
                            log["notes"].append(f"server: {len(ev.data)} bytes of DATA on stream {ev.stream_id} after the WebSocket closed")
                        continue
                    st = log["ws"][ev.stream_id]
                    w.receive_data(ev.data)
                    for e in w.events():
                        if isinstance(e, wse.Message):
                            st["partial"] = st.get("partial", "" if isinstance(e, wse.TextMessage) else b"") + e.data
                            if not e.message_finished:
                                continue  # wsproto hands over partial frames; echo whole messages only
                            data = st.pop("partial")
                            out = wse.TextMessage(data=data) if isinstance(e, wse.TextMessage) else wse.BytesMessage(data=data)
                            st["received"].append(ws_event_record(out, False))
                            st["sent"].append(ws_event_record(out, False))
                            conn.send_data(ev.stream_id, w.send(out))
                            if isinstance(e, wse.TextMessage) and e.data == "goaway please":
                                conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=ev.stream_id)
                                st["notes"].append("server GOAWAY(NO_ERROR) while this WebSocket is open")
                                log["goaway_sent"] = True
                        elif isinstance(e, wse.Ping):
                            st["sent"].append(ws_event_record(e.response(), False))
                            conn.send_data(ev.stream_id, w.send(e.response()))
                        elif isinstance(e, wse.CloseConnection):
                            st["received"].append(ws_event_record(e, False))
                            resp = e.response()
                            st["sent"].append(ws_event_record(resp, False))
                            conn.send_data(ev.stream_id, w.send(resp), end_stream=True)
                            st["end_s2c"] = "end_stream"
                elif isinstance(ev, h2.events.StreamReset):
                    if ev.stream_id in log["ws"]:
                        log["ws"][ev.stream_id]["notes"].append(f"client RST_STREAM error {int(ev.error_code)}")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    log["notes"].append(f"server: client GOAWAY error {int(ev.error_code)}")
            try:
                send_logged(s, conn.data_to_send(), flog)
            except OSError as e:
                log["notes"].append(f"server: send failed {e}")
                return
            if log.get("goaway_sent"):
                s.shutdown(socket.SHUT_WR)
                log["notes"].append("server: FIN after its GOAWAY")
                s.settimeout(5)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
                return


# --------------------------------------------------------------------------- client

class Client:
    def __init__(self, wait_settings=True):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.addr = fmt_addr(self.sock.getsockname())
        self.flog = FrameLog(client=True)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False))
        self.conn.initiate_connection()
        self.flush()
        self.events, self.ws, self.streams, self.violations, self.notes = [], {}, {}, [], []
        self.server_settings = None
        self.eof = False
        self.terminated = None
        if wait_settings:
            self.wait(lambda: self.server_settings is not None, "server SETTINGS")

    def flush(self):
        send_logged(self.sock, self.conn.data_to_send(), self.flog)

    def pump(self, t=0.05):
        r, _, _ = select.select([self.sock], [], [], t)
        if not r:
            return
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return
        for ev in self.conn.receive_data(data):
            self.notes.append(f"client event: {type(ev).__name__} stream {getattr(ev, 'stream_id', 0)}"
                              + (f" error {int(ev.error_code)}" if getattr(ev, "error_code", None) is not None else ""))
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.server_settings = {int(k): v.new_value for k, v in ev.changed_settings.items()}
            elif isinstance(ev, h2.events.ResponseReceived):
                st = self.streams[ev.stream_id]
                st["status"] = int(dict(ev.headers)[b":status"])
                st["response_headers"] = [(k.decode(), v.decode()) for k, v in ev.headers]
                if st["status"] == 200 and st.get("ws"):
                    self.ws[ev.stream_id] = wsc.Connection(wsc.ConnectionType.CLIENT)
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                st = self.streams[ev.stream_id]
                w = self.ws.get(ev.stream_id)
                if w is not None and w.state != wsc.ConnectionState.CLOSED:
                    w.receive_data(ev.data)
                    for e in w.events():
                        st["received"].append(ws_event_record(e, False))
                else:
                    st["body"] = st.get("body", b"") + ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                self.streams[ev.stream_id]["remote_ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                self.streams[ev.stream_id]["reset_by_server"] = int(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.terminated = {"error_code": int(ev.error_code), "last_stream_id": ev.last_stream_id}
        try:
            self.flush()
        except OSError:
            pass

    def wait(self, pred, what, timeout=10):
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise TimeoutError(what)
            if self.eof:
                raise ConnectionError(f"EOF waiting for {what}")
            self.pump()

    def settle(self, t):
        end = time.monotonic() + t
        while time.monotonic() < end and not self.eof:
            self.pump()

    def ws_open(self, path, extra=(), wait=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", path),
                (":authority", f"localhost:{PORT}"), ("sec-websocket-version", "13"), *extra]
        self.streams[sid] = {"ws": True, "path": path, "request_headers": hdrs, "sent": [], "received": [], "status": None}
        self.conn.send_headers(sid, [(k.encode(), v.encode()) for k, v in hdrs])
        self.flush()
        if wait:
            self.wait(lambda: self.streams[sid]["status"] is not None or "reset_by_server" in self.streams[sid],
                      f"response on {sid}")
        return sid

    def ws_send(self, sid, ev, end_stream=False):
        self.streams[sid]["sent"].append(ws_event_record(ev, False))
        self.conn.send_data(sid, self.ws[sid].send(ev), end_stream=end_stream)
        self.flush()

    def msgs(self, sid):
        return sum(1 for r in self.streams[sid]["received"] if r["kind"] == "message")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.settimeout(5)
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()


def strip_t(recs):
    return [{k: v for k, v in r.items() if k != "t"} for r in recs]


def ws_entry(sid, c_st, s_st, end, extra=None):
    msgs = [dict(dir="c2s", opcode=r["opcode"], len=r["len"], sha256=r["sha256"], compressed=False)
            for r in c_st["sent"] if r["kind"] == "message"]
    msgs += [dict(dir="s2c", opcode=r["opcode"], len=r["len"], sha256=r["sha256"], compressed=False)
             for r in (s_st or {}).get("sent", []) if r["kind"] == "message"]
    closes = sorted([dict(r, dir="c2s") for r in c_st["sent"] if r["kind"] == "close"] +
                    [dict(r, dir="s2c") for r in (s_st or {}).get("sent", []) if r["kind"] == "close"], key=lambda r: r["t"])
    e = {"stream": sid, "path": c_st["path"], "authority": f"localhost:{PORT}", "scheme": "http",
         "status": (s_st or {}).get("status"), "subprotocol": None, "extensions": [],
         "request_headers": c_st["request_headers"], "response_headers": (s_st or {}).get("response_headers"),
         "messages": msgs, "closes": [{"dir": r["dir"], "code": r["code"], "reason": r["reason"]} for r in closes],
         "pings": [], "end": end, "server_notes": (s_st or {}).get("notes", [])}
    if extra:
        e.update(extra)
    return e


def main():
    port_free(PORT)
    h2lib.hard_timeout(200)
    tmp = tempfile.mkdtemp(prefix=NAME + ".")
    pcap = os.path.join(tmp, NAME + ".pcap")
    srv = Server()
    srv.thread.start()
    conns = []
    with Capture(pcap, ["-i", "lo"], f"tcp port {PORT}", extra=("--immediate-mode",)) as cap:
        # ---- 1: the server never enables extended CONNECT
        srv.configs.append({"enable": False})
        c = Client()
        assert c.conn.remote_settings.enable_connect_protocol == 0
        sid = c.ws_open("/echo")
        c.violations.append({"stream": sid, "by": "client", "what": "extended CONNECT although the server's SETTINGS "
                             "carried ENABLE_CONNECT_PROTOCOL=0 (never enabled)"})
        c.settle(0.2)
        c.conn.close_connection()
        c.flush()
        c.close()
        time.sleep(0.3)
        s = srv.logs[c.addr]
        conns.append({"client": c.addr, "server": f"127.0.0.1:{PORT}", "h2": "prior-knowledge",
                      "server_enable_connect_protocol": False, "tls": None,
                      "websockets": [ws_entry(sid, c.streams[sid], s["ws"].get(sid),
                                              {"c2s": "none", "s2c": "rst_stream"},
                                              {"rst_stream_s2c_error": c.streams[sid].get("reset_by_server")})],
                      "requests": [], "violations": c.violations, "frames_sent": {"c2s": c.flog.frames, "s2c": s["frames"]},
                      "notes": c.notes + s["notes"]})

        # ---- 2: CONNECT before SETTINGS, key/accept, RST mid-message, 403 + DATA, DATA after END_STREAM
        srv.configs.append({"enable": True, "settings_delay": 0.2})
        c = Client(wait_settings=False)
        key = base64.b64encode(os.urandom(16)).decode()
        s1 = c.ws_open("/echo", extra=[("sec-websocket-key", key)], wait=False)
        c.violations.append({"stream": s1, "by": "client", "what": "extended CONNECT sent right after the preface, "
                             "before the server's SETTINGS (ENABLE_CONNECT_PROTOCOL=1) arrived"})
        c.violations.append({"stream": s1, "by": "client", "what": f"sec-websocket-key {key} in an extended CONNECT"})
        c.wait(lambda: c.streams[s1]["status"] is not None, "200 on 1")
        c.violations.append({"stream": s1, "by": "server", "what": "sec-websocket-accept in the 200"})
        c.ws_send(s1, wse.TextMessage(data="first over a too-early CONNECT"))
        c.wait(lambda: c.msgs(s1) == 1, "echo 1")
        c.ws_send(s1, wse.BytesMessage(data=bytes(range(200))))
        c.wait(lambda: c.msgs(s1) == 2, "echo 2")
        partial = "x" * 100
        frame = c.ws[s1].send(wse.TextMessage(data=partial))
        c.conn.send_data(s1, frame[:40])
        c.flush()
        c.conn.reset_stream(s1, h2.errors.ErrorCodes.CANCEL)
        c.flush()
        c.violations.append({"stream": s1, "by": "client", "what": "RST_STREAM(CANCEL) in the middle of a WebSocket frame: "
                             f"a 100-byte text frame ({len(frame)} bytes with header and mask) of which 40 bytes were sent"})
        partial_rec = {"dir": "c2s", "opcode": 1, "len": 100, "sha256": sha256(partial.encode()), "bytes_sent": 40,
                       "frame_len": len(frame)}
        s3 = c.ws_open("/forbidden")
        c.wait(lambda: c.streams[s3].get("remote_ended"), "403 body")
        c.violations.append({"stream": s3, "by": "server", "what": "403 to an extended CONNECT, followed by a DATA frame (body) with END_STREAM"})
        s5 = c.ws_open("/echo")
        c.ws_send(s5, wse.TextMessage(data="normal stream"))
        c.wait(lambda: c.msgs(s5) == 1, "echo on 5")
        c.ws_send(s5, wse.CloseConnection(code=1000, reason="bye"), end_stream=True)
        c.wait(lambda: c.streams[s5].get("remote_ended"), "close echo on 5")
        raw = hf.DataFrame(s5)
        raw.data = b"data after END_STREAM"
        rb = raw.serialize()
        c.flog.feed(rb)
        c.sock.sendall(rb)
        c.violations.append({"stream": s5, "by": "client", "what": "DATA frame (21 bytes, raw: h2 refuses it) on stream 5 "
                             "after both sides sent END_STREAM"})
        c.settle(0.3)
        if not c.eof and c.terminated is None:
            try:
                c.conn.close_connection()
                c.flush()
            except Exception as e:  # noqa: BLE001
                c.notes.append(f"client: no GOAWAY ({e!r})")
        c.close()
        time.sleep(0.3)
        s = srv.logs[c.addr]
        st1 = c.streams[s1]
        conns.append({"client": c.addr, "server": f"127.0.0.1:{PORT}", "h2": "prior-knowledge",
                      "server_enable_connect_protocol": True, "tls": None,
                      "websockets": [
                          ws_entry(s1, st1, s["ws"].get(s1), {"c2s": "rst_stream", "s2c": "none"},
                                   {"partial_messages": [partial_rec], "rst_stream_c2s_error": 8}),
                          ws_entry(s3, c.streams[s3], s["ws"].get(s3), {"c2s": "none", "s2c": "end_stream"},
                                   {"response_body_len": len(c.streams[s3].get("body", b""))}),
                          ws_entry(s5, c.streams[s5], s["ws"].get(s5), {"c2s": "end_stream", "s2c": "end_stream"},
                                   {"data_after_end_stream_c2s": len(raw.data)}),
                      ],
                      "requests": [], "violations": c.violations, "frames_sent": {"c2s": c.flog.frames, "s2c": s["frames"]},
                      "notes": c.notes + s["notes"]})

        # ---- 3: :protocol on a GET
        srv.configs.append({"enable": True})
        c = Client()
        sid = c.conn.get_next_available_stream_id()
        hdrs = [(":method", "GET"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/hello"),
                (":authority", f"localhost:{PORT}")]
        c.streams[sid] = {"path": "/hello", "request_headers": hdrs, "sent": [], "received": [], "status": None}
        c.conn.send_headers(sid, [(k.encode(), v.encode()) for k, v in hdrs], end_stream=True)
        c.flush()
        c.violations.append({"stream": sid, "by": "client", "what": ":protocol websocket on a GET"})
        c.settle(1.0)
        c.close()
        time.sleep(0.3)
        s = srv.logs[c.addr]
        conns.append({"client": c.addr, "server": f"127.0.0.1:{PORT}", "h2": "prior-knowledge",
                      "server_enable_connect_protocol": True, "tls": None, "websockets": [],
                      "requests": [{"stream": sid, "method": "GET", "path": "/hello", "status": None,
                                    "request_headers": hdrs}],
                      "goaway_s2c": c.terminated,
                      "violations": c.violations, "frames_sent": {"c2s": c.flog.frames, "s2c": s["frames"]},
                      "notes": c.notes + s["notes"]})

        # ---- 4: server GOAWAY while a WebSocket is open
        srv.configs.append({"enable": True})
        c = Client()
        sid = c.ws_open("/echo")
        c.ws_send(sid, wse.TextMessage(data="goaway please"))
        c.wait(lambda: c.terminated is not None, "GOAWAY")
        c.violations.append({"stream": sid, "by": "server", "what": "GOAWAY(NO_ERROR, last_stream_id=1) while the "
                             "WebSocket on stream 1 is open; no close frame in either direction"})
        c.close()
        time.sleep(0.3)
        s = srv.logs[c.addr]
        conns.append({"client": c.addr, "server": f"127.0.0.1:{PORT}", "h2": "prior-knowledge",
                      "server_enable_connect_protocol": True, "tls": None,
                      "websockets": [ws_entry(sid, c.streams[sid], s["ws"].get(sid), {"c2s": "none", "s2c": "goaway"})],
                      "requests": [], "goaway_s2c": c.terminated,
                      "violations": c.violations, "frames_sent": {"c2s": c.flog.frames, "s2c": s["frames"]},
                      "notes": c.notes + s["notes"]})
    srv.stop = True
    srv.thread.join(5)
    for cc in conns:
        sl = srv.logs[cc["client"]]
        assert "server_exception" not in sl, sl["server_exception"]
    doc = {"capture": NAME + ".pcap", "generator": NAME + ".gen.py",
           "description": "RFC 8441 oddities between an h2 client with validate_outbound_headers=False and an h2+wsproto "
                          "server script, 4 TCP connections (see violations[] and notes[] per connection; frames_sent = "
                          "every HTTP/2 frame each side wrote, decoded from its own bytes)",
           "keylog": None, "versions": h2lib.versions(), "connections": conns}
    with open(os.path.join(tmp, NAME + ".expected.json"), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    assert "0 packets dropped by kernel" in cap.stderr.decode()
    check_tcp(pcap, PORT, [int(cc["client"].rsplit(":", 1)[1]) for cc in conns])
    # tshark: per connection, the HTTP/2 frame types+streams it decodes == both sides' frame logs
    rows = tshark(pcap, "http2", ["tcp.srcport", "tcp.dstport", "http2.type", "http2.streamid"], ["-d", f"tcp.port=={PORT},http2"])
    for cc in conns:
        p = cc["client"].rsplit(":", 1)[1]
        for d, (a, b) in (("c2s", (p, str(PORT))), ("s2c", (str(PORT), p))):
            got = [(int(t), int(s)) for r in rows if (r[0], r[1]) == (a, b)
                   for t, s in zip(r[2].split("|"), r[3].split("|"))]
            want = [({v: k for k, v in FTYPE.items()}[f["type"]], f["stream"]) for f in cc["frames_sent"][d]]
            assert got == want, f"{cc['client']} {d}: tshark {got} vs log {want}"
    # conn 2: on the wire, the client's extended CONNECT comes before the server's SETTINGS
    p2 = conns[1]["client"].rsplit(":", 1)[1]
    first = tshark(pcap, f"tcp.port=={p2} && (http2.type==1 || http2.type==4)",
                   ["frame.number", "tcp.srcport", "http2.type"], ["-d", f"tcp.port=={PORT},http2"])
    hdr = min(int(r[0]) for r in first if r[1] == p2 and "1" in r[2].split("|"))
    sset = min(int(r[0]) for r in first if r[1] == str(PORT) and "4" in r[2].split("|"))
    assert hdr < sset, (hdr, sset)
    size = os.path.getsize(pcap)
    assert size < 2_000_000
    h2lib.install([NAME + ".pcap", NAME + ".expected.json"], tmp)
    for cc in conns:
        print(cc["client"], [(w["stream"], w["path"], w["status"], w["end"]) for w in cc["websockets"]], cc["requests"] and
              [(r["stream"], r["path"]) for r in cc["requests"]])
        for n in cc["notes"]:
            print("   ", n)
    print(f"{NAME}: ok, {size} bytes")


if __name__ == "__main__":
    main()
