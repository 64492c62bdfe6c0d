package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upArgs turns strings into a command's arguments.
func upArgs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// upRedis starts a real redis-server on a free 127.0.0.1 port (retrying if
// another process takes the port first) and returns its address. It skips
// the test if redis-server is not on PATH. The server is killed by handle
// in t.Cleanup.
func upRedis(t *testing.T, password string, extra ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH: skipping the test against a real Redis")
	}
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir(), "--enable-debug-command", "yes"}
		if password != "" {
			args = append(args, "--requirepass", password)
		}
		args = append(args, extra...)
		cmd := exec.Command(path, args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if upRedisIsOurs(addr, password, cmd.Process.Pid, exited) {
			return addr
		}
		cmd.Process.Kill()
		<-exited
	}
	t.Fatal("could not start redis-server on a free port after 5 attempts")
	return ""
}

// upRedisIsOurs polls addr until the redis-server there reports pid as its
// process_id, the process exits, or 10 s pass.
func upRedisIsOurs(addr, password string, pid int, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		var req []byte
		if password != "" {
			req = upstreamAppendCommand(req, upArgs("AUTH", password))
		}
		req = upstreamAppendCommand(req, upArgs("INFO", "server"))
		_, err = nc.Write(req)
		var got []byte
		if err == nil {
			br := bufio.NewReader(nc)
			for range bytes.Count(req, []byte("*")) {
				if got, err = upstreamReadReply(br, got[:0]); err != nil {
					break
				}
			}
		}
		nc.Close()
		if err == nil {
			return bytes.Contains(got, []byte("process_id:"+strconv.Itoa(pid)+"\r\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

const upMarker = "upstream-test-marker-6b1f0c"

// upRaw runs args on a fresh raw socket to addr (after AUTH and HELLO 3 as
// configured) and returns exactly the bytes redis-server sent in answer. It
// finds the end of the reply without parsing RESP: the command is followed
// by ECHO of a marker, and the reply is everything before the marker's echo.
func upRaw(t *testing.T, addr string, proto int, password string, args ...string) []byte {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	echo := []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(upMarker), upMarker))
	roundTrip := func(req []byte) []byte {
		req = upstreamAppendCommand(req, upArgs("ECHO", upMarker))
		if _, err := nc.Write(req); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 64<<10)
		for !bytes.HasSuffix(got, echo) {
			n, err := nc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("raw read after %q: %v", got, err)
			}
		}
		return got[:len(got)-len(echo)]
	}
	var hs []byte
	if password != "" {
		hs = upstreamAppendCommand(hs, upArgs("AUTH", password))
	}
	if proto == 3 {
		hs = upstreamAppendCommand(hs, upArgs("HELLO", "3"))
	}
	roundTrip(hs)
	return roundTrip(upstreamAppendCommand(nil, upArgs(args...)))
}

// upDo runs one command through p and fails the test on a transport error.
func upDo(t *testing.T, p *upstreamPool, addr string, proto int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, sent, err := p.do(ctx, addr, proto, upArgs(args...), nil)
	if err != nil {
		t.Fatalf("do %q (proto %d): sent=%v err=%v", args, proto, sent, err)
	}
	if !sent {
		t.Fatalf("do %q: sent=false on success", args)
	}
	return got
}

func newTestUpstreamPool(t *testing.T, cfg upstreamConfig) *upstreamPool {
	p := newUpstreamPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

// TestUpstreamRelayMatchesRedis checks that replies of every type
// redis-server can send, in RESP2 and RESP3, are relayed byte for byte.
func TestUpstreamRelayMatchesRedis(t *testing.T) {
	addr := upRedis(t, "")
	p := newTestUpstreamPool(t, upstreamConfig{})
	big := strings.Repeat("0123456789abcdef", 20000) // 320 KB: several reads
	setup := [][]string{
		{"SET", "k", "v"}, {"SET", "big", big}, {"HSET", "h", "f1", "v1", "f2", "v2"},
		{"SADD", "s", "a", "b", "c"}, {"RPUSH", "l", "x", "y"}, {"ZADD", "z", "1.5", "a", "2", "b"},
		{"XADD", "st", "1-1", "f", "v"},
	}
	for _, c := range setup {
		upDo(t, p, addr, 2, c...)
	}
	cmds := [][]string{
		{"PING"}, {"SET", "k", "v"}, {"GET", "k"}, {"GET", "missing"}, {"GET", "big"},
		{"INCRBY", "n", "0"}, {"HGETALL", "h"}, {"HGET", "h", "nof"}, {"SMEMBERS", "s"},
		{"LRANGE", "l", "0", "-1"}, {"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZSCORE", "z", "a"},
		{"XRANGE", "st", "-", "+"}, {"CONFIG", "GET", "maxmemory"}, {"COMMAND", "INFO", "get"},
		{"NOSUCHCOMMAND"}, {"LPUSH", "k", "x"}, {"EXEC"}, {"BLPOP", "nolist", "0.01"},
		{"EXISTS", "k"}, {"SISMEMBER", "s", "a"},
	}
	for _, typ := range []string{"string", "integer", "double", "bignum", "null", "array", "set",
		"map", "attrib", "push", "verbatim", "true", "false"} {
		cmds = append(cmds, []string{"DEBUG", "PROTOCOL", typ})
	}
	for _, proto := range []int{2, 3} {
		seen := map[byte]bool{}
		for _, c := range cmds {
			want := upRaw(t, addr, proto, "", c...)
			got := upDo(t, p, addr, proto, c...)
			if !bytes.Equal(got, want) {
				t.Errorf("proto %d %q:\n got %q\nwant %q", proto, c, upTrunc(got), upTrunc(want))
			}
			seen[want[0]] = true
		}
		wantTypes := "+-:$*"
		if proto == 3 {
			wantTypes = "+-:$*_,#=(%~>|"
		}
		for _, ch := range []byte(wantTypes) {
			if !seen[ch] {
				t.Errorf("proto %d: no reply of type %q was exercised", proto, ch)
			}
		}
	}
	// Spot-check the nulls, so that a relay and a raw socket agreeing on
	// something else would still fail.
	for _, tc := range []struct {
		proto int
		args  []string
		want  string
	}{
		{2, []string{"GET", "missing"}, "$-1\r\n"},
		{3, []string{"GET", "missing"}, "_\r\n"},
		{2, []string{"BLPOP", "nolist", "0.01"}, "*-1\r\n"},
		{3, []string{"HGETALL", "h"}, "%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n"},
	} {
		if got := upDo(t, p, addr, tc.proto, tc.args...); string(got) != tc.want {
			t.Errorf("proto %d %q = %q, want %q", tc.proto, tc.args, got, tc.want)
		}
	}
}

func upTrunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// TestUpstreamAuth checks AUTH on new connections against requirepass.
func TestUpstreamAuth(t *testing.T) {
	addr := upRedis(t, "s3cret")
	ctx := context.Background()
	good := newTestUpstreamPool(t, upstreamConfig{Password: "s3cret"})
	for _, proto := range []int{2, 3} {
		if got := upDo(t, good, addr, proto, "PING"); string(got) != "+PONG\r\n" {
			t.Errorf("proto %d PING with password = %q", proto, got)
		}
	}
	// Without a password, RESP2 commands are relayed and refused by Redis...
	none := newTestUpstreamPool(t, upstreamConfig{})
	if got := upDo(t, none, addr, 2, "GET", "k"); !bytes.HasPrefix(got, []byte("-NOAUTH ")) {
		t.Errorf("GET without password = %q, want -NOAUTH", got)
	}
	// ...while HELLO 3 fails in the handshake, before the command is sent.
	if _, sent, err := none.do(ctx, addr, 3, upArgs("GET", "k"), nil); err == nil || sent {
		t.Errorf("RESP3 without password: sent=%v err=%v, want handshake error and sent=false", sent, err)
	}
	bad := newTestUpstreamPool(t, upstreamConfig{Password: "wrong"})
	_, sent, err := bad.do(ctx, addr, 2, upArgs("PING"), nil)
	if err == nil || sent || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: sent=%v err=%v, want WRONGPASS and sent=false", sent, err)
	}
}

// TestUpstreamPinnedMultiExec runs WATCH/MULTI/EXEC over a pinned
// connection, and checks release's reuse and close.
func TestUpstreamPinnedMultiExec(t *testing.T) {
	addr := upRedis(t, "")
	p := newTestUpstreamPool(t, upstreamConfig{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		pc, err := p.pin(ctx, addr, proto)
		if err != nil {
			t.Fatal(err)
		}
		run := func(args ...string) string {
			t.Helper()
			got, sent, err := pc.do(ctx, upArgs(args...), nil)
			if err != nil || !sent {
				t.Fatalf("pinned %q: sent=%v err=%v", args, sent, err)
			}
			return string(got)
		}
		id := run("CLIENT", "ID")
		steps := []struct{ args, want string }{
			{"WATCH w", "+OK\r\n"}, {"MULTI", "+OK\r\n"}, {"SET w v", "+QUEUED\r\n"}, {"GET w", "+QUEUED\r\n"},
			{"EXEC", "*2\r\n+OK\r\n$1\r\nv\r\n"},
		}
		for _, s := range steps {
			if got := run(strings.Fields(s.args)...); got != s.want {
				t.Errorf("proto %d %s = %q, want %q", proto, s.args, got, s.want)
			}
		}
		// A WATCHed key changed by another connection aborts EXEC.
		run("WATCH", "w")
		upDo(t, p, addr, proto, "SET", "w", "other")
		run("MULTI")
		run("SET", "w", "mine")
		wantNil := map[int]string{2: "*-1\r\n", 3: "_\r\n"}[proto]
		if got := run("EXEC"); got != wantNil {
			t.Errorf("proto %d EXEC after conflict = %q, want %q", proto, got, wantNil)
		}
		pc.release(true)
		if got := string(upDo(t, p, addr, proto, "CLIENT", "ID")); got != id {
			t.Errorf("proto %d: after release(true) CLIENT ID = %q, want the pinned %q", proto, got, id)
		}
		pc, err = p.pin(ctx, addr, proto)
		if err != nil {
			t.Fatal(err)
		}
		if got := run("CLIENT", "ID"); got != id {
			t.Errorf("proto %d: pin after release(true) got CLIENT ID %q, want %q", proto, got, id)
		}
		pc.release(false)
		if got := string(upDo(t, p, addr, proto, "CLIENT", "ID")); got == id {
			t.Errorf("proto %d: connection released with ok=false was reused", proto)
		}
	}
}

// TestUpstreamConcurrentRedis runs 8 goroutines through one pool against a
// real redis-server.
func TestUpstreamConcurrentRedis(t *testing.T) {
	addr := upRedis(t, "")
	p := newTestUpstreamPool(t, upstreamConfig{MaxIdle: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			proto := 2 + g%2
			var buf []byte
			for i := range 50 {
				key, val := fmt.Sprintf("c%d", g), fmt.Sprintf("v%d-%d", g, i)
				var err error
				if buf, _, err = p.do(ctx, addr, proto, upArgs("SET", key, val), buf[:0]); err != nil || string(buf) != "+OK\r\n" {
					errs <- fmt.Errorf("SET %s: %q %v", key, buf, err)
					return
				}
				want := fmt.Sprintf("$%d\r\n%s\r\n", len(val), val)
				if buf, _, err = p.do(ctx, addr, proto, upArgs("GET", key), buf[:0]); err != nil || string(buf) != want {
					errs <- fmt.Errorf("GET %s = %q %v, want %q", key, buf, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// upFake is a fake TCP server on 127.0.0.1:0 that counts accepted
// connections and serves each with handle.
type upFake struct {
	addr    string
	accepts atomic.Int64
}

func upFakeServer(t *testing.T, handle func(id int64, nc net.Conn)) *upFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &upFake{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			id := f.accepts.Add(1)
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				handle(id, nc)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return f
}

// upReadRequest reads one RESP multibulk request.
func upReadRequest(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not a multibulk: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 || n > 1024 {
		return nil, fmt.Errorf("bad count %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = br.ReadString('\n'); err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || l < 0 || l > 1<<20 {
			return nil, fmt.Errorf("bad length %q", line)
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}

// upServeID answers HELLO with a small map and every other request with
// reply(id, args).
func upServeID(reply func(id int64, args []string) string) func(int64, net.Conn) {
	return func(id int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		for {
			args, err := upReadRequest(br)
			if err != nil {
				return
			}
			out := "%1\r\n+proto\r\n:3\r\n"
			if !strings.EqualFold(args[0], "HELLO") {
				out = reply(id, args)
			}
			if _, err := io.WriteString(nc, out); err != nil {
				return
			}
		}
	}
}

func upIDReply(id int64, _ []string) string { return ":" + strconv.FormatInt(id, 10) + "\r\n" }

// TestUpstreamPoolReuse checks that idle connections are reused per
// (address, protocol) and that dst is appended to.
func TestUpstreamPoolReuse(t *testing.T) {
	f := upFakeServer(t, upServeID(upIDReply))
	p := newTestUpstreamPool(t, upstreamConfig{})
	ctx := context.Background()
	dst := []byte("prefix")
	dst, _, err := p.do(ctx, f.addr, 2, upArgs("PING"), dst)
	if err != nil || string(dst) != "prefix:1\r\n" {
		t.Fatalf("first do = %q, %v", dst, err)
	}
	if got := upDo(t, p, f.addr, 2, "PING"); string(got) != ":1\r\n" {
		t.Errorf("second do served by %q, want connection 1 again", got)
	}
	if got := upDo(t, p, f.addr, 3, "PING"); string(got) != ":2\r\n" {
		t.Errorf("RESP3 do served by %q, want a new connection 2", got)
	}
	if got := upDo(t, p, f.addr, 3, "PING"); string(got) != ":2\r\n" {
		t.Errorf("second RESP3 do served by %q, want connection 2 again", got)
	}
	if n := f.accepts.Load(); n != 2 {
		t.Errorf("accepts = %d, want 2", n)
	}
}

// TestUpstreamConcurrentFake runs 8 goroutines through one pool: no more
// connections than concurrent users are ever opened, and every reply is the
// one for its own request.
func TestUpstreamConcurrentFake(t *testing.T) {
	f := upFakeServer(t, upServeID(upEcho))
	p := newTestUpstreamPool(t, upstreamConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := range 100 {
				msg := fmt.Sprintf("g%d-%d", g, i)
				var err error
				buf, _, err = p.do(context.Background(), f.addr, 2+g%2, upArgs("ECHO", msg), buf[:0])
				if want := fmt.Sprintf("$%d\r\n%s\r\n", len(msg), msg); err != nil || string(buf) != want {
					errs <- fmt.Errorf("ECHO %s = %q %v", msg, buf, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.accepts.Load(); n < 1 || n > 8 {
		t.Errorf("accepts = %d, want 1..8", n)
	}
}

// TestUpstreamDialFailureNotSent checks sent=false when nothing listens.
func TestUpstreamDialFailureNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newTestUpstreamPool(t, upstreamConfig{DialTimeout: 5 * time.Second})
	_, sent, err := p.do(context.Background(), addr, 2, upArgs("PING"), nil)
	if err == nil || sent {
		t.Fatalf("do to a closed port: sent=%v err=%v, want an error with sent=false", sent, err)
	}
	if _, err := p.pin(context.Background(), addr, 3); err == nil {
		t.Fatal("pin to a closed port succeeded")
	}
}

// TestUpstreamServerDiesMidRequest checks sent=true when the peer reads the
// request and closes, and that the failed connection is not reused.
func TestUpstreamServerDiesMidRequest(t *testing.T) {
	f := upFakeServer(t, func(id int64, nc net.Conn) {
		br := bufio.NewReader(nc)
		if id == 1 {
			upReadRequest(br) // then close without replying
			return
		}
		upServeID(upIDReply)(id, nc)
	})
	p := newTestUpstreamPool(t, upstreamConfig{})
	dst := []byte("keep")
	got, sent, err := p.do(context.Background(), f.addr, 2, upArgs("SET", "k", "v"), dst)
	if err == nil || !sent {
		t.Fatalf("peer died mid-request: sent=%v err=%v, want an error with sent=true", sent, err)
	}
	if string(got) != "keep" {
		t.Errorf("dst after error = %q, want it unchanged", got)
	}
	if got := upDo(t, p, f.addr, 2, "PING"); string(got) != ":2\r\n" {
		t.Errorf("after failure served by %q, want a new connection 2", got)
	}
	// A partial reply then close is also an error with sent=true.
	f2 := upFakeServer(t, func(_ int64, nc net.Conn) {
		upReadRequest(bufio.NewReader(nc))
		io.WriteString(nc, "*2\r\n+a\r\n")
	})
	if _, sent, err := p.do(context.Background(), f2.addr, 2, upArgs("PING"), nil); err == nil || !sent {
		t.Errorf("partial reply: sent=%v err=%v, want an error with sent=true", sent, err)
	}
}

// TestUpstreamContextEnds checks that a ctx deadline or cancellation ends a
// request to a peer that never replies, with sent=true and ctx's error.
func TestUpstreamContextEnds(t *testing.T) {
	silent := func(got chan<- struct{}) func(int64, net.Conn) {
		return func(_ int64, nc net.Conn) {
			br := bufio.NewReader(nc)
			if _, err := upReadRequest(br); err != nil {
				return
			}
			got <- struct{}{}
			io.Copy(io.Discard, br) // never reply; return when closed
		}
	}
	p := newTestUpstreamPool(t, upstreamConfig{IOTimeout: time.Hour})

	// Deadline: dial first, so that the deadline can only end the request.
	f1 := upFakeServer(t, silent(make(chan struct{}, 1)))
	pc, err := p.pin(context.Background(), f1.addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, sent, err := pc.do(ctx, upArgs("GET", "k"), nil)
	pc.release(err == nil)
	if !sent || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: sent=%v err=%v, want sent=true and DeadlineExceeded", sent, err)
	}

	// Cancellation once the peer has the request.
	got := make(chan struct{}, 1)
	f2 := upFakeServer(t, silent(got))
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel2()
	}()
	_, sent, err = p.do(ctx2, f2.addr, 2, upArgs("GET", "k"), nil)
	if !sent || !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: sent=%v err=%v, want sent=true and Canceled", sent, err)
	}

	// An already-ended ctx sends nothing.
	if _, sent, err := p.do(ctx2, f2.addr, 2, upArgs("GET", "k"), nil); sent || err == nil {
		t.Errorf("ended ctx: sent=%v err=%v, want an error with sent=false", sent, err)
	}
}

// TestUpstreamClose checks that Close fails later calls fast and closes
// connections in use.
func TestUpstreamClose(t *testing.T) {
	f := upFakeServer(t, upServeID(upIDReply))
	p := newUpstreamPool(upstreamConfig{})
	ctx := context.Background()
	upDo(t, p, f.addr, 2, "PING")
	pc, err := p.pin(ctx, f.addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, sent, err := p.do(ctx, f.addr, 2, upArgs("PING"), nil); sent || !errors.Is(err, errUpstreamClosed) {
		t.Errorf("do after Close: sent=%v err=%v", sent, err)
	}
	if _, err := p.pin(ctx, f.addr, 2); !errors.Is(err, errUpstreamClosed) {
		t.Errorf("pin after Close: err=%v", err)
	}
	if _, _, err := pc.do(ctx, upArgs("PING"), nil); err == nil {
		t.Error("pinned connection still works after Close")
	}
	pc.release(true) // must not panic or resurrect the connection
	pc.release(true)
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestUpstreamPushAndExtraData checks that RESP3 pushes before a reply are
// relayed with it, and that a connection that received more than one reply
// for one command is not reused.
func TestUpstreamPushAndExtraData(t *testing.T) {
	f := upFakeServer(t, upServeID(func(id int64, args []string) string {
		if args[0] == "PUSH" {
			return ">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n"
		}
		return ":" + strconv.FormatInt(id, 10) + "\r\n+EXTRA\r\n"
	}))
	p := newTestUpstreamPool(t, upstreamConfig{})
	if got := upDo(t, p, f.addr, 3, "PUSH"); string(got) != ">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n" {
		t.Errorf("push relay = %q", got)
	}
	if got := upDo(t, p, f.addr, 2, "X"); string(got) != ":2\r\n" {
		t.Errorf("first = %q, want :2", got)
	}
	if got := upDo(t, p, f.addr, 2, "X"); string(got) != ":3\r\n" {
		t.Errorf("after extra data served by %q, want a new connection 3", got)
	}
}

// upReplyCases are complete replies the reader must return byte for byte.
var upReplyCases = []string{
	"+OK\r\n", "+\r\n", "-ERR bad\r\n", ":0\r\n", ":-9223372036854775808\r\n", "$-1\r\n", "$0\r\n\r\n",
	"$5\r\na\r\nbc\r\n", "*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n", "_\r\n", ",3.14\r\n", ",inf\r\n",
	"#t\r\n", "#f\r\n", "!5\r\nERR x\r\n", "=7\r\ntxt:abc\r\n", "(123456789012345678901234567890\r\n",
	"%1\r\n+k\r\n%1\r\n+a\r\n~1\r\n_\r\n", "~2\r\n+a\r\n+b\r\n", ">2\r\n+message\r\n$1\r\nx\r\n",
	"|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.5\r\n$2\r\nok\r\n", "|0\r\n:1\r\n",
	"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", "%0\r\n",
	strings.Repeat("*1\r\n", upstreamMaxDepth) + ":1\r\n",
}

// upBadReplies are malformed or over-limit replies: the reader must error.
var upBadReplies = []string{
	"", "\r\n", "+OK\n", "+OK", "?x\r\n", ":\r\n", ":12a\r\n", ":99999999999999999999\r\n", "_x\r\n", "#x\r\n",
	",\r\n", "(\r\n", "$\r\n", "$-2\r\n", "$x\r\n", "$3\r\nab\r\n", "$3\r\nabcd\r\n", "$3\r\nabc", "!-1\r\n",
	"=-1\r\n", "*-2\r\n", "%-1\r\n", "*1\r\n", "*2\r\n:1\r\n", "%1\r\n+a\r\n", "|1\r\n+a\r\n+b\r\n", "*?\r\n",
	"$?\r\n", "$2000000000\r\n", "*2000000000\r\n", "%600000000\r\n" + ":1\r\n",
	strings.Repeat("*1\r\n", upstreamMaxDepth+1) + ":1\r\n",
	"+" + strings.Repeat("x", upstreamMaxLine) + "\r\n",
}

func TestUpstreamReadReplyTable(t *testing.T) {
	for _, c := range upReplyCases {
		br := bufio.NewReaderSize(bytes.NewReader([]byte(c+"+next\r\n")), 16)
		got, err := upstreamReadReply(br, []byte("pre"))
		if err != nil || string(got) != "pre"+c {
			t.Errorf("%q: got %q, %v", upTrunc([]byte(c)), upTrunc(got), err)
			continue
		}
		if next, err := upstreamReadReply(br, nil); err != nil || string(next) != "+next\r\n" {
			t.Errorf("%q: reply after it = %q, %v", upTrunc([]byte(c)), next, err)
		}
	}
	for _, c := range upBadReplies {
		got, err := upstreamReadReply(bufio.NewReaderSize(bytes.NewReader([]byte(c)), 16), nil)
		if err == nil {
			t.Errorf("%q: no error, got %q", upTrunc([]byte(c)), upTrunc(got))
		}
		if cap(got) > 2*upstreamMaxLine+64<<10 {
			t.Errorf("%q: allocated %d bytes", upTrunc([]byte(c)), cap(got))
		}
	}
	// Over-limit lengths are protocol errors, not I/O errors.
	for _, c := range []string{"$2000000000\r\n", "*2000000000\r\n", strings.Repeat("*1\r\n", 65) + ":1\r\n"} {
		if _, err := upstreamReadReply(bufio.NewReader(strings.NewReader(c)), nil); !errors.Is(err, errUpstreamProtocol) {
			t.Errorf("%q: err = %v, want errUpstreamProtocol", upTrunc([]byte(c)), err)
		}
	}
}

// FuzzUpstreamReadReply: the reader never panics or hangs, and what it
// accepts is a prefix of its input that it reads back identically.
func FuzzUpstreamReadReply(f *testing.F) {
	for _, c := range upReplyCases {
		f.Add([]byte(c))
	}
	for _, c := range upBadReplies {
		if len(c) < 4096 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := upstreamReadReply(bufio.NewReaderSize(bytes.NewReader(in), 16), nil)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, got) || len(got) == 0 {
			t.Fatalf("accepted %q, not a prefix of the input %q", got, in)
		}
		again, err := upstreamReadReply(bufio.NewReader(bytes.NewReader(got)), nil)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-reading %q: %q, %v", got, again, err)
		}
	})
}

// upEcho answers every command with its last argument, so that a caller
// can tell its reply from another's.
func upEcho(_ int64, args []string) string {
	return fmt.Sprintf("$%d\r\n%s\r\n", len(args[len(args)-1]), args[len(args)-1])
}
