package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// biConn is a raw client connection for byte-exact protocol tests.
type biConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func biDial(t testing.TB, addr string) *biConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &biConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *biConn) send(b string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expect reads exactly len(want) bytes and compares.
func (c *biConn) expect(want string) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	n, err := io.ReadFull(c.br, got)
	if string(got[:n]) != want {
		c.t.Fatalf("got %q (%v), want %q", got[:n], err, want)
	}
}

// expectClosed checks that the server closes the connection, sending
// nothing more.
func (c *biConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("connection still open: read %q", append([]byte{b}, rest...))
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("connection not closed: %v", err)
	}
}

func (c *biConn) ping() {
	c.t.Helper()
	c.send("PING\r\n")
	c.expect("+PONG\r\n")
}

// biCase is one malformed (or oddly formed) request: what Redis 7 answers
// and whether it then closes the connection. When then is set, the server
// must still be waiting after send: then is sent too, and only then does
// the reply come (an early reply would be a different one).
type biCase struct {
	name   string
	send   string
	then   string
	want   string
	closed bool
}

const biMaxBulk = 1 << 20 // Config.ProtoMaxBulkLen in these tests (the minimum Redis allows)

// biCases were all checked against redis-server 7.0 (see
// TestBadInputMatchesRedis, which runs them against one when installed).
func biCases() []biCase {
	big := strings.Repeat("1", 65536)
	perr := func(msg string) string { return "-ERR Protocol error: " + msg + "\r\n" }
	return []biCase{
		{"bare LF after count", "*1\n$4\r\nPING\r\n", "", perr("invalid multibulk length"), true},
		{"count with plus", "*+1\r\n$4\r\nPING\r\n", "", perr("invalid multibulk length"), true},
		{"count -0", "*-0\r\n", "", perr("invalid multibulk length"), true},
		{"count empty", "*\r\n", "", perr("invalid multibulk length"), true},
		{"count over INT_MAX", "*2147483648\r\n", "", perr("invalid multibulk length"), true},
		{"count line too long", "*" + big, "", perr("too big mbulk count string"), true},
		{"expected $", "*1\r\nX\r\n", "", perr("expected '$', got 'X'"), true},
		{"expected $, got CR", "*1\r\n\r\n", "", perr("expected '$', got ' '"), true},
		{"expected $, got high byte", "*1\r\n\xff\r\n", "", perr("expected '$', got '\xff'"), true},
		{"bulk with leading zero", "*1\r\n$04\r\nPING\r\n", "", perr("invalid bulk length"), true},
		{"bulk -1", "*1\r\n$-1\r\n", "", perr("invalid bulk length"), true},
		{"bulk over int64", "*1\r\n$99999999999999999999\r\n", "", perr("invalid bulk length"), true},
		{"bulk over proto-max-bulk-len", fmt.Sprintf("*2\r\n$4\r\nECHO\r\n$%d\r\n", biMaxBulk+1), "", perr("invalid bulk length"), true},
		{"bulk line too long", "*1\r\n$" + big, "", perr("too big bulk count string"), true},
		{"inline too long", "x" + big, "", perr("too big inline request"), true},
		{"inline NUL hides the newline", "PING\x00" + big + "\n", "", perr("too big inline request"), true},
		{"unbalanced quotes", "ECHO \"ab\r\n", "", perr("unbalanced quotes in request"), true},
		{"text after closing quote", "ECHO 'ab'c\r\n", "", perr("unbalanced quotes in request"), true},
		{"replies before the error", "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\nX\r\n", "", "+PONG\r\n+PONG\r\n" + perr("expected '$', got 'X'"), true},
		{"NUL in count line waits", "*1\x00\r\n$4\r\nPING\r\n", big, perr("too big mbulk count string"), true},
		{"bare LF count waits for a CR", "*1\n", big, perr("too big mbulk count string"), true},
		{"no $ yet waits for the CR", "*1\r\nX", big, perr("too big bulk count string"), true},
		{"count CR waits for one more byte", "*1\r", "\n$4\r\nPING\r\n", "+PONG\r\n", false},
		{"bulk at proto-max-bulk-len", fmt.Sprintf("*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n", biMaxBulk, strings.Repeat("e", biMaxBulk)), "",
			fmt.Sprintf("$%d\r\n%s\r\n", biMaxBulk, strings.Repeat("e", biMaxBulk)), false},
		{"bytes after bulk unchecked", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", "", "+PONG\r\n+PONG\r\n", false},
		{"any byte after count CR", "*1\rX$4\r\nPING\r\n", "", "+PONG\r\n", false},
		{"empty multibulks ignored", "*0\r\n*-1\r\n*-5\r\nPING\r\n", "", "+PONG\r\n", false},
		{"blank inline lines ignored", "\r\n\n   \r\nPING\r\r\n", "", "+PONG\r\n", false},
		{"inline quoting", "ECHO \"a\\x41\\x4g\\n\\z\"\r\nECHO 'a\\'b\\n'\r\n", "", "$7\r\naAx4g\nz\r\n$5\r\na'b\\n\r\n", false},
		{"inline VT inside a word", "ECHO a\vb\r\n", "", "$3\r\na\vb\r\n", false},
	}
}

// runBICase sends one case on a fresh connection and checks the reply and
// what follows: the close, or that the connection still takes commands.
func runBICase(t *testing.T, addr string, tc biCase) {
	c := biDial(t, addr)
	c.send(tc.send)
	if tc.then != "" {
		// No write error check: a server that wrongly closed already
		// shows in the reply.
		c.nc.Write([]byte(tc.then))
	}
	c.expect(tc.want)
	if !tc.closed {
		// Still parsing requests (QUIT needs no AUTH).
		c.send("QUIT\r\n")
		c.expect("+OK\r\n")
	}
	c.expectClosed()
}

// TestBadInput sends each malformed request on its own connection while a
// bystander keeps using its own: each gets Redis's exact error line and is
// closed, and the bystander never notices.
func TestBadInput(t *testing.T) {
	collectAfter(t)
	ts := startServer(t, Config{ProtoMaxBulkLen: biMaxBulk})
	by := biDial(t, ts.addr)
	for i, tc := range biCases() {
		t.Run(tc.name, func(t *testing.T) {
			runBICase(t, ts.addr, tc)
			by.send(fmt.Sprintf("SET by %d\r\nGET by\r\n", i))
			by.expect(fmt.Sprintf("+OK\r\n$%d\r\n%d\r\n", len(strconv.Itoa(i)), i))
		})
	}
}

// TestBadInputUnauthenticated checks the limits Redis puts on clients that
// have not authenticated yet when requirepass is set.
func TestBadInputUnauthenticated(t *testing.T) {
	ts := startServer(t, Config{RequirePass: "pw"})
	for _, tc := range biAuthCases() {
		t.Run(tc.name, func(t *testing.T) { runBICase(t, ts.addr, tc) })
	}
}

func biAuthCases() []biCase {
	perr := func(msg string) string { return "-ERR Protocol error: " + msg + "\r\n" }
	val := strings.Repeat("v", 16385)
	return []biCase{
		{"count 11", "*11\r\n", "", perr("unauthenticated multibulk length"), true},
		{"bulk 16385", "*10\r\n$16385\r\n", "", perr("unauthenticated bulk length"), true},
		{"invalid count wins", "*11x\r\n", "", perr("invalid multibulk length"), true},
		{"negative count is fine", "*-5\r\nPING\r\n", "", "-NOAUTH Authentication required.\r\n", false},
		{"bulk 16384 is fine", "*2\r\n$4\r\nECHO\r\n$16384\r\n" + strings.Repeat("p", 16384) + "\r\n", "",
			"-NOAUTH Authentication required.\r\n", false},
		{"limits lift after AUTH in the same read", "AUTH pw\r\n*2\r\n$4\r\nECHO\r\n$16385\r\n" + val + "\r\n", "",
			"+OK\r\n$16385\r\n" + val + "\r\n", false},
	}
}

// biRedis starts a real redis-server on a free port and returns its
// address, or skips the test when none is installed.
func biRedis(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir()}, args...)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err == nil {
			nc.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBadInputMatchesRedis runs the same cases against a real redis-server,
// so the expectations above are Redis's and not ours.
func TestBadInputMatchesRedis(t *testing.T) {
	addr := biRedis(t, "--proto-max-bulk-len", strconv.Itoa(biMaxBulk))
	for _, tc := range biCases() {
		t.Run(tc.name, func(t *testing.T) { runBICase(t, addr, tc) })
	}
	authAddr := biRedis(t, "--requirepass", "pw")
	for _, tc := range biAuthCases() {
		t.Run("auth/"+tc.name, func(t *testing.T) { runBICase(t, authAddr, tc) })
	}
}

// clientCount returns how many connections the server holds.
func (ts *testServer) clientCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.clients)
}

// waitClients polls until the server holds n connections.
func (ts *testServer) waitClients(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for ts.clientCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d connections, want %d", ts.clientCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// collectAfter runs a garbage collection when t ends, after the server
// it is about to start has closed (cleanups run last-in first-out): the
// heavy tests here should not leave garbage that later tests, which
// measure the process's heap, would count.
func collectAfter(t testing.TB) { t.Cleanup(runtime.GC) }

// heapInUse returns the bytes of heap and goroutine stacks in use after a
// full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// TestHugeMultibulkClientVanishes announces a million arguments, sends
// some of them and disconnects: the server keeps serving and the memory
// the half-read request held is released.
func TestHugeMultibulkClientVanishes(t *testing.T) {
	collectAfter(t)
	ts := startServer(t, Config{})
	by := biDial(t, ts.addr)
	by.ping()
	base := heapInUse()

	c := biDial(t, ts.addr)
	c.send("*1000000\r\n")
	arg := strings.Repeat("$3\r\nabc\r\n", 1000)
	for i := 0; i < 500; i++ { // half a million arguments, 4.5 MB
		c.send(arg)
	}
	by.ping() // served while the big request is half read
	held := heapInUse()
	c.nc.Close()
	ts.waitClients(t, 1)
	by.ping()

	const slack = 4 << 20
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := heapInUse()
		if now < base+slack {
			t.Logf("heap+stacks: %d before, %d while the request was half read, %d after", base, held, now)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap+stacks %d after the client left, baseline %d (held %d while connected)", now, base, held)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientVanishesMidPipeline pipelines many commands with big replies
// and disconnects without reading them: the server drops the connection
// and keeps serving.
func TestClientVanishesMidPipeline(t *testing.T) {
	collectAfter(t)
	ts := startServer(t, Config{})
	by := biDial(t, ts.addr)
	val := strings.Repeat("x", 64<<10)
	by.send(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n", len(val), val))
	by.expect("+OK\r\n")
	base := heapInUse()

	c := biDial(t, ts.addr)
	var pipe bytes.Buffer
	for i := 0; i < 5000; i++ { // 320 MB of replies if anyone read them
		pipe.WriteString("GET k\r\n")
	}
	pipe.WriteString("*2\r\n$3\r\nGET\r\n$1\r\n") // and half a command
	c.send(pipe.String())
	c.expect("$65536\r\n") // the server has started answering
	c.nc.Close()           // unread replies: the close resets the connection
	ts.waitClients(t, 1)
	by.send("GET k\r\n")
	by.expect(fmt.Sprintf("$%d\r\n%s\r\n", len(val), val))
	if now := heapInUse(); now > base+4<<20 {
		t.Fatalf("heap+stacks %d after the client left, baseline %d", now, base)
	}
}

// TestMaxClients fills the server to maxclients: the next connection gets
// Redis's error and is closed; once a client leaves there is room again.
func TestMaxClients(t *testing.T) {
	ts := startServer(t, Config{MaxClients: 2})
	a, b := biDial(t, ts.addr), biDial(t, ts.addr)
	a.ping()
	b.ping()
	c := biDial(t, ts.addr)
	c.expect("-ERR max number of clients reached\r\n")
	c.expectClosed()
	a.ping() // the others are unaffected
	a.nc.Close()
	ts.waitClients(t, 1)
	d := biDial(t, ts.addr)
	d.ping()
	b.ping()
}

// TestIdleTimeout checks that the timeout setting closes a client that
// sends nothing, and one that stops in the middle of a command, without a
// reply; others connect and are served as usual.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{Timeout: 200 * time.Millisecond})
	idle := biDial(t, ts.addr)
	idle.ping()
	partial := biDial(t, ts.addr)
	partial.send("*2\r\n$4\r\nECHO\r\n$5\r\nab")
	idle.expectClosed()
	partial.expectClosed()
	fresh := biDial(t, ts.addr)
	fresh.ping()
}

// biRoleEnv turns TestIdleConnectionsHelper into one of the processes of
// TestTenThousandIdleConnections: "server" or "clients".
const biRoleEnv = "SESSIOND_IDLE_HELPER"

// TestIdleConnectionsHelper is not a test on its own. Run by
// TestTenThousandIdleConnections in a child process, it is either the
// server (it prints its address, then answers "heap" and "clients" lines
// on stdin with the heap in use and the connections held) or the clients
// (it opens N connections, prints "ready", and holds them). Either ends
// when its stdin closes. Keeping both sides out of the test process keeps
// within the file descriptor limit and leaves no trace of 10,000
// goroutines (the runtime never frees their descriptors) for later tests.
func TestIdleConnectionsHelper(t *testing.T) {
	role := os.Getenv(biRoleEnv)
	if role == "" {
		t.Skip("helper process for TestTenThousandIdleConnections")
	}
	raiseFileLimit(t)
	in := bufio.NewScanner(os.Stdin)
	switch role {
	case "server":
		n, _ := strconv.Atoi(os.Getenv(biRoleEnv + "_N"))
		ts := startServer(t, Config{MaxClients: n + 10})
		fmt.Println(ts.addr)
		for in.Scan() {
			switch in.Text() {
			case "heap":
				fmt.Println(heapInUse())
			case "clients":
				fmt.Println(ts.clientCount())
			}
		}
	case "clients":
		addr := os.Getenv(biRoleEnv + "_ADDR")
		n, _ := strconv.Atoi(os.Getenv(biRoleEnv + "_N"))
		conns := make([]net.Conn, 0, n)
		for i := 0; i < n; i++ {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				fmt.Printf("dial %d: %v\n", i, err)
				os.Exit(1)
			}
			conns = append(conns, nc)
		}
		fmt.Println("ready")
		for in.Scan() {
		}
		for _, nc := range conns {
			nc.Close()
		}
	}
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and
// returns it.
func raiseFileLimit(t *testing.T) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		t.Cleanup(func() {
			lim.Cur = old
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		})
	}
	return lim.Max
}

// biHelper is a child process running TestIdleConnectionsHelper.
type biHelper struct {
	t     *testing.T
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startBIHelper starts a helper in role with extra environment, and stops
// it (closing its stdin, then killing it if it lingers) when t ends.
func startBIHelper(t *testing.T, role string, env ...string) *biHelper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleConnectionsHelper$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), biRoleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &biHelper{t: t, stdin: stdin, out: bufio.NewReader(stdout)}
}

// line reads the helper's next output line.
func (h *biHelper) line() string {
	h.t.Helper()
	l, err := h.out.ReadString('\n')
	if err != nil {
		h.t.Fatalf("helper output: %q, %v", l, err)
	}
	return strings.TrimSpace(l)
}

// ask sends a request line to the server helper and returns its number.
func (h *biHelper) ask(q string) int64 {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, q+"\n"); err != nil {
		h.t.Fatalf("helper: %v", err)
	}
	l := h.line()
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		h.t.Fatalf("helper answered %q to %q", l, q)
	}
	return n
}

// waitClients polls the server helper until it holds n connections.
func (h *biHelper) waitClients(n int64) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for h.ask("clients") != n {
		if time.Now().After(deadline) {
			h.t.Fatalf("server holds %d connections, want %d", h.ask("clients"), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTenThousandIdleConnections holds 10,000 idle connections (server and
// clients each in a child process) and checks that the server still
// serves, and what each idle connection costs: its goroutine's stack, the
// reader's 4 KiB buffer, the client state and the socket.
func TestTenThousandIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections")
	}
	n := int64(10000)
	if max := raiseFileLimit(t); max < uint64(n)+500 {
		n = int64(max) - 500
		t.Logf("RLIMIT_NOFILE hard limit %d: using %d connections", max, n)
	}
	count := "_N=" + strconv.FormatInt(n, 10)
	srv := startBIHelper(t, "server", biRoleEnv+count)
	addr := srv.line()
	base := srv.ask("heap")

	cli := startBIHelper(t, "clients", biRoleEnv+"_ADDR="+addr, biRoleEnv+count)
	if l := cli.line(); l != "ready" {
		t.Fatalf("clients helper: %q", l)
	}
	srv.waitClients(n)
	per := (srv.ask("heap") - base) / n
	t.Logf("%d idle connections cost %d bytes each (heap and stacks)", n, per)
	if per > 24<<10 {
		t.Fatalf("an idle connection costs %d bytes", per)
	}

	fresh := biDial(t, addr)
	fresh.send("SET k v\r\nGET k\r\n")
	fresh.expect("+OK\r\n$1\r\nv\r\n")
	cli.stdin.Close() // the clients leave
	srv.waitClients(1)
	fresh.ping()
}
