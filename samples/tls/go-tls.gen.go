// Generator for tls/go-tls.pcap (run by go-tls.gen.sh, which builds it in GOPATH mode against
// Debian's golang-github-gorilla-websocket-dev, makes the certificate and runs tcpdump around it).
//
// A gorilla/websocket server (net/http on a crypto/tls listener, ALPN http/1.1, self-signed
// certificate for wsd.test) on 127.0.0.1:8471 and a gorilla/websocket client (Dialer with
// TLSClientConfig{ServerName: "wsd.test", NextProtos: ["http/1.1"], InsecureSkipVerify}) in the
// same process. Go's TLS defaults otherwise (TLS 1.3; the suite is Go's choice). Key log:
// tls.Config.KeyLogWriter of the client (OUT.keys) and of the server (must be the same lines).
//
// Messages are logged as the code passes them to WriteMessage; control frames as passed to
// WriteControl, including the close echo, which the generator's close handler sends exactly as
// gorilla's default one does (the code, and an EMPTY reason). gorilla's client writes a message
// through a 4096-byte write buffer and flushes a frame each time it is full, so a client message
// of n > 4096 bytes goes out as ceil(n/4096) frames (first frame + continuations; "fragments" in
// expected.json, derived from that rule and checked against tshark); the server's WriteMessage
// fast path always writes one frame.
//
// Usage: go-tls CERT.pem KEY.pem OUT.expected.json OUT.keys OUT-server.keys
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	host     = "127.0.0.1"
	port     = 8471
	sni      = "wsd.test"
	writeBuf = 4096 // gorilla's default write buffer size (client fragment size)
)

type msg struct {
	Dir       string `json:"dir"`
	Opcode    int    `json:"opcode"`
	Len       int    `json:"len"`
	Sha256    string `json:"sha256"`
	Fragments int    `json:"fragments"`
}
type closeRec struct {
	Dir    string  `json:"dir"`
	Code   *int    `json:"code"`
	Reason string  `json:"reason"`
}
type pingRec struct {
	Dir string `json:"dir"`
	Len int    `json:"len"`
}
type tlsRec struct {
	Version      string  `json:"version"`
	Cipher       string  `json:"cipher"`
	SNI          *string `json:"sni"`
	ALPN         *string `json:"alpn"`
	Resumed      bool    `json:"resumed"`
	Keyed        bool    `json:"keyed"`
	ClientRandom string  `json:"client_random"`
}
type conn struct {
	Client      string     `json:"client"`
	Server      string     `json:"server"`
	Status      int        `json:"status"`
	Subprotocol *string    `json:"subprotocol"`
	Extensions  []string   `json:"extensions"`
	Messages    []msg      `json:"messages"`
	Closes      []closeRec `json:"closes"`
	Pings       []pingRec  `json:"pings"`
	TLS         *tlsRec    `json:"tls"`
	serverTLS   *tlsRec
}

var (
	mu      sync.Mutex
	records []*conn
	byAddr  = map[string]*conn{}
)

func record(client string) *conn {
	mu.Lock()
	defer mu.Unlock()
	c := byAddr[client]
	if c == nil {
		c = &conn{Client: client, Server: fmt.Sprintf("%s:%d", host, port), Extensions: []string{},
			Messages: []msg{}, Closes: []closeRec{}, Pings: []pingRec{}}
		byAddr[client] = c
		records = append(records, c)
	}
	return c
}

func (c *conn) logMsg(dir string, typ int, data []byte) {
	frags := 1
	if dir == "c2s" && len(data) > writeBuf {
		frags = (len(data) + writeBuf - 1) / writeBuf
	}
	h := sha256.Sum256(data)
	mu.Lock()
	c.Messages = append(c.Messages, msg{dir, typ, len(data), hex.EncodeToString(h[:]), frags})
	mu.Unlock()
}
func (c *conn) logPing(dir string, n int) {
	mu.Lock()
	c.Pings = append(c.Pings, pingRec{dir, n})
	mu.Unlock()
}
func (c *conn) logClose(dir string, code int, reason string) {
	mu.Lock()
	var p *int
	if code != websocket.CloseNoStatusReceived {
		p = &code
	}
	c.Closes = append(c.Closes, closeRec{dir, p, reason})
	mu.Unlock()
}

// gorilla's default close handler (echo the code, empty reason), plus the log entry
func closeHandler(ws *websocket.Conn, c *conn, dir string) func(int, string) error {
	return func(code int, text string) error {
		message := websocket.FormatCloseMessage(code, "")
		if err := ws.WriteControl(websocket.CloseMessage, message, time.Now().Add(time.Second)); err == nil {
			c.logClose(dir, code, "")
		}
		return nil
	}
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	}
	return fmt.Sprintf("0x%04x", v)
}

func facts(st tls.ConnectionState, sniSeen string) *tlsRec {
	r := &tlsRec{Version: versionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite),
		Resumed: st.DidResume, Keyed: true}
	if sniSeen != "" {
		s := sniSeen
		r.SNI = &s
	}
	if st.NegotiatedProtocol != "" {
		a := st.NegotiatedProtocol
		r.ALPN = &a
	}
	return r
}

// exact-size payloads (same idea as lib/pyws.py)
func textPayload(n int, unit string) string {
	var b strings.Builder
	for b.Len() < n {
		for _, ch := range unit {
			s := string(ch)
			if b.Len()+len(s) > n {
				break
			}
			b.WriteString(s)
		}
		if b.Len()+len(string([]rune(unit)[0])) > n {
			break
		}
	}
	for b.Len() < n {
		b.WriteByte('.')
	}
	return b.String()
}

type payload struct {
	typ  int
	data []byte
}

func text(n int, unit string) payload { return payload{websocket.TextMessage, []byte(textPayload(n, unit))} }
func bin(n int, rng *rand.Rand) payload {
	b := make([]byte, n)
	rng.Read(b)
	return payload{websocket.BinaryMessage, b}
}

const unit = "héllo ☃ 🎉 "

type keyLog struct {
	mu    sync.Mutex
	lines []string
}

func (k *keyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		k.lines = append(k.lines, l)
	}
	return len(p), nil
}
func (k *keyLog) randoms() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, l := range k.lines {
		f := strings.Fields(l)
		if len(f) == 3 && !seen[f[1]] {
			seen[f[1]] = true
			out = append(out, strings.ToLower(f[1]))
		}
	}
	return out
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-tls:", err)
		os.Exit(1)
	}
}

func run() error {
	certFile, keyFile, out, keysOut, serverKeysOut := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	clientKeys, serverKeys := &keyLog{}, &keyLog{}

	// ---- server
	var sniMu sync.Mutex
	sniSeen := map[string]string{} // client address -> ServerName from its ClientHello
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"},
		KeyLogWriter: serverKeys,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sniMu.Lock()
			sniSeen[h.Conn.RemoteAddr().String()] = h.ServerName
			sniMu.Unlock()
			return nil, nil
		}}
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return err
	}
	upgrader := websocket.Upgrader{}
	var serverDone sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serverDone.Add(1)
		defer serverDone.Done()
		defer ws.Close()
		c := record(r.RemoteAddr)
		c.Status = 101
		sniMu.Lock()
		c.serverTLS = facts(*r.TLS, sniSeen[r.RemoteAddr])
		sniMu.Unlock()
		ws.SetCloseHandler(closeHandler(ws, c, "s2c"))
		n := 0
		for {
			typ, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			c.logMsg("s2c", typ, data)
			if err := ws.WriteMessage(typ, data); err != nil {
				return
			}
			n++
			if n == 1 {
				c.logPing("s2c", len("srv-ping"))
				ws.WriteControl(websocket.PingMessage, []byte("srv-ping"), time.Now().Add(time.Second))
			}
			if r.URL.Path == "/server-closes" && n == 4 {
				c.logClose("s2c", 4002, "gorilla server closes")
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4002, "gorilla server closes"),
					time.Now().Add(time.Second))
			}
		}
	})
	httpSrv := &http.Server{Handler: mux}
	go httpSrv.Serve(tls.NewListener(ln, srvCfg))

	// ---- client
	dial := func(path string, msgs []payload, burst []payload, clientCloses bool) error {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: &tls.Config{
			ServerName: sni, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: true, KeyLogWriter: clientKeys}}
		before := len(clientKeys.randoms())
		ws, resp, err := d.Dial(fmt.Sprintf("wss://%s:%d%s", host, port, path), nil)
		if err != nil {
			return err
		}
		defer ws.Close()
		c := record(ws.LocalAddr().String())
		c.Status = resp.StatusCode
		tc := ws.UnderlyingConn().(*tls.Conn)
		c.TLS = facts(tc.ConnectionState(), sni)
		rs := clientKeys.randoms()
		if len(rs) != before+1 {
			return fmt.Errorf("expected one new client random, got %v", rs[before:])
		}
		c.TLS.ClientRandom = rs[before]
		ws.SetCloseHandler(closeHandler(ws, c, "c2s"))
		pong := make(chan struct{}, 1)
		ws.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
		inbox := make(chan payload, 16)
		readErr := make(chan error, 1)
		go func() {
			for {
				typ, data, err := ws.ReadMessage()
				if err != nil {
					readErr <- err
					close(inbox)
					return
				}
				inbox <- payload{typ, data}
			}
		}()
		recv := func(want payload) error {
			select {
			case got, ok := <-inbox:
				if !ok || got.typ != want.typ || !bytes.Equal(got.data, want.data) {
					return errors.New("bad echo")
				}
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("recv timeout")
			}
		}
		ping := func() error {
			c.logPing("c2s", 4)
			if err := ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
				return err
			}
			select {
			case <-pong:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("no pong")
			}
		}
		if !clientCloses {
			if err := ping(); err != nil {
				return err
			}
		}
		for _, m := range msgs {
			c.logMsg("c2s", m.typ, m.data)
			if err := ws.WriteMessage(m.typ, m.data); err != nil {
				return err
			}
			if err := recv(m); err != nil {
				return err
			}
		}
		for _, m := range burst {
			c.logMsg("c2s", m.typ, m.data)
			if err := ws.WriteMessage(m.typ, m.data); err != nil {
				return err
			}
		}
		for _, m := range burst {
			if err := recv(m); err != nil {
				return err
			}
		}
		if clientCloses {
			if err := ping(); err != nil {
				return err
			}
			c.logClose("c2s", 1000, "bye from go")
			if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye from go"),
				time.Now().Add(time.Second)); err != nil {
				return err
			}
		}
		select {
		case err := <-readErr:
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				return fmt.Errorf("client read ended with %v", err)
			}
			fmt.Printf("%s: closed %d %q\n", path, ce.Code, ce.Text)
		case <-time.After(5 * time.Second):
			return errors.New("no close")
		}
		return nil
	}

	rng := rand.New(rand.NewSource(8471))
	full := []payload{text(14, "hello from go "), text(0, unit), {websocket.BinaryMessage, []byte{}},
		text(125, unit), bin(125, rng), text(126, unit), bin(126, rng), bin(65536, rng), text(102400, unit)}
	burst := []payload{text(1, "x"), bin(2, rng), text(30, unit), bin(200, rng), text(7, "burst. ")}
	small := []payload{text(8, "hello #2"), bin(16, rng), text(300, unit), bin(1000, rng)}
	if err := dial("/echo", full, burst, true); err != nil {
		return err
	}
	if err := dial("/server-closes", small, nil, false); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	serverDone.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	httpSrv.Shutdown(ctx)

	for _, c := range records {
		s := c.serverTLS
		if s == nil || c.TLS == nil {
			return fmt.Errorf("%s: missing TLS facts", c.Client)
		}
		if s.Version != c.TLS.Version || s.Cipher != c.TLS.Cipher || *s.SNI != *c.TLS.SNI ||
			*s.ALPN != *c.TLS.ALPN || s.Resumed != c.TLS.Resumed {
			return fmt.Errorf("%s: client and server disagree on TLS facts", c.Client)
		}
	}
	a := append([]string{}, clientKeys.lines...)
	b := append([]string{}, serverKeys.lines...)
	if strings.Join(sorted(a), "\n") != strings.Join(sorted(b), "\n") {
		return errors.New("client and server key logs differ")
	}
	os.WriteFile(keysOut, []byte(strings.Join(clientKeys.lines, "\n")+"\n"), 0o644)
	os.WriteFile(serverKeysOut, []byte(strings.Join(serverKeys.lines, "\n")+"\n"), 0o644)

	doc := map[string]interface{}{
		"capture":   "go-tls.pcap",
		"generator": "go-tls.gen.sh",
		"description": fmt.Sprintf("%s crypto/tls, gorilla/websocket 1.5.0 (Debian golang-github-gorilla-websocket-dev) "+
			"client and server, wss://127.0.0.1:%d, SNI wsd.test, ALPN http/1.1, Go TLS defaults (TLS 1.3, Go picks the suite). "+
			"Conn 1 /echo: text 14, empty text, empty binary, text 125, binary 125, text 126, binary 126, binary 65536, text 102400, "+
			"each echoed, then 5 small messages (1, 2, 30, 200, 7 B) written back to back and echoed; server ping 'srv-ping' after its "+
			"first echo; client ping 'ping'; client close 1000 'bye from go', which the server's gorilla-default close handler echoes "+
			"as 1000 with an EMPTY reason. Conn 2 /server-closes: client ping first, text 'hello #2', binary 16, text 300, binary 1000, "+
			"echoed; the server closes with 4002 'gorilla server closes' after its 4th echo, the client echoes 4002 ''. "+
			"Client messages over 4096 bytes are sent by gorilla as ceil(n/4096) frames (\"fragments\").", runtime.Version(), port),
		"keylog":      "go-tls.keys",
		"tls_library": runtime.Version() + " crypto/tls",
		"connections": records,
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d connection(s)\n", out, len(records))
	return f.Close()
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
