// Package diff runs the same command scripts against a real redis-server
// and against an in-process sessiond and compares the replies byte for
// byte, error strings included, in RESP2 and in RESP3.
//
// # Running
//
//	go test -race -count=1 ./tests/diff
//	go test -count=1 ./tests/diff -run 'TestDifferential/strings.redis/RESP3' -v
//	DIFF_VERBOSE=1 go test -count=1 ./tests/diff -run ... -v   # every reply
//
// The test starts its own redis-server (from PATH) on a free loopback port
// in a temporary directory, without persistence, with one database and
// the standard redis.conf's hash-max-listpack-entries (128), like
// sessiond, and stops it at the end.
// Without redis-server it is skipped, except when CI=true, where that is a
// failure.
//
// # Scripts
//
// Every testdata/*.redis file is a script. Each runs once per protocol:
// in RESP2, and in RESP3, where every connection the harness opens first
// sends HELLO 3 (its reply is checked to be a map, not compared). Before
// each run both servers get FLUSHALL and all connections are new. A
// mismatch is reported with the file, the line, the command and both
// replies quoted, and the script goes on, so one run shows every mismatch.
//
// One line is one command, written as in redis-cli: words separated by
// spaces; "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes;
// 'single quotes' take \'. Blank lines and lines starting with # are
// ignored; there are no comments after a command. Lines starting with #!
// are pragmas for the whole file:
//
//	#! resp2     run the script in RESP2 only
//	#! resp3     run the script in RESP3 only
//
// A command may be preceded by modifiers, which start with @ and stand
// before the first argument (quote an argument that starts with @):
//
//	@conn2 GET k          send on connection 2 (@conn1 .. @conn9; default 1).
//	                      Connections open on first use; one that the
//	                      server closed is opened again on its next use.
//	@unordered KEYS *     compare the elements as a sorted multiset (a RESP3
//	                      map: its entries).
//	@unordered=pairs      the same, taking a flat array as field, value pairs
//	                      (an array of 2-element arrays sorts as it is).
//	@unordered=scan       the reply is [cursor, elements]: sort the elements.
//	@unordered=scanpairs  the same with field, value pairs (HSCAN).
//	@scanall SCAN 0 ...   call the command again with each returned cursor
//	                      until it is 0, and compare the set of all elements
//	                      returned (duplicates, which SCAN allows, are
//	                      dropped) as the reply ["0", sorted elements].
//	                      @scanall=pairs takes field, value pairs (HSCAN).
//	@approx=N TTL k       integers anywhere in the reply may differ by N.
//	@shape TIME           compare only the reply's shape: types, element
//	                      counts, null or not; not the contents.
//	@stats INFO commandstats errorstats
//	                      compare only the cmdstat_ and errorstat_ lines of
//	                      an INFO reply, without the usec and usec_per_call
//	                      fields and without INFO's own line.
//	@type SCAN -1         compare only the reply's type (its first byte):
//	                      an error or not, an array or not.
//	@mask=id,version      do not compare the values of these keys of a map
//	                      reply (RESP3 map or RESP2 flat array). HELLO gets
//	                      @mask=id,version unless it says otherwise, as the
//	                      two servers differ in both by design.
//	@until=-2 PTTL k      send the command again (every 10ms, for up to 5s)
//	                      until its reply is the integer, simple string or
//	                      bulk string given, then compare the last reply:
//	                      for waiting out a real TTL on both servers.
//	@ignore COMMAND COUNT send and read the reply, do not compare it.
//	@raw "PING\r\n"       send the arguments concatenated, as they are,
//	                      instead of as a RESP command: inline commands,
//	                      malformed RESP, pipelines.
//	@replies=N            with @raw: read N replies (default 1; may be 0).
//	@eof                  the server must close the connection after the
//	                      replies (protocol errors, QUIT); compared too.
//
// Examples:
//
//	SET k v EX 100 NX
//	@approx=1 TTL k
//	HELLO 3
//	@conn2 SET watched x
//	@raw @replies=2 @eof "*1\r\n$4\r\nPING\r\n*x\r\n"
//
// HELLO 3 or HELLO 2 inside a script switches that connection's protocol
// (in both runs), and RESET goes back to RESP2, as on any server; a
// reopened connection starts again in the run's protocol.
//
// # Coverage
//
// The test fails when the scripts hold fewer than minCommands commands or
// leave out one of requiredCommands, so coverage cannot shrink unnoticed.
// Keep replies deterministic: unordered replies get @unordered or
// @scanall, real time gets @approx or @until, and server-specific values
// (ids, versions, cursors) get @mask, @shape or @type. Commands sessiond
// leaves out by design (lists, sets, pub/sub, scripting, HSCAN NOVALUES
// and the other Redis 7.4 additions) do not belong here.
package diff

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sessiond/server"
)

// replyTimeout bounds the wait for one reply. Both servers answer in
// microseconds; the bound only ends a run where a server never answers.
const replyTimeout = 5 * time.Second

// verbose (DIFF_VERBOSE=1) logs every step with both replies.
var verbose = os.Getenv("DIFF_VERBOSE") == "1"

// minCommands is the least number of commands the scripts must hold.
const minCommands = 300

// requiredCommands must each appear in some script.
var requiredCommands = strings.Fields(`
	ping echo quit reset hello select client auth
	get set setex psetex setnx getex getdel getset mget mset msetnx incr incrby
	decr decrby incrbyfloat append strlen getrange setrange
	hset hsetnx hmset hget hmget hgetall hdel hlen hexists hkeys hvals hincrby
	hincrbyfloat hstrlen hscan hrandfield
	del unlink exists type touch rename renamenx expire pexpire expireat
	pexpireat ttl pttl expiretime pexpiretime persist scan keys randomkey dbsize
	flushdb flushall
	multi exec discard watch unwatch
	time config command`)

func TestDifferential(t *testing.T) {
	files, err := filepath.Glob("testdata/*.redis")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	sort.Strings(files)
	var scripts []*script
	seen := map[string]bool{}
	total := 0
	for _, f := range files {
		sc, err := parseScript(f, filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		scripts = append(scripts, sc)
		for _, st := range sc.steps {
			total++
			if !st.raw {
				seen[strings.ToLower(string(st.args[0]))] = true
			}
		}
	}
	t.Logf("%d scripts, %d commands", len(scripts), total)
	if total < minCommands {
		t.Errorf("the scripts hold %d commands, want at least %d", total, minCommands)
	}
	for _, name := range requiredCommands {
		if !seen[name] {
			t.Errorf("no script uses %s", strings.ToUpper(name))
		}
	}

	redisAddr := startRedis(t)
	sessiondAddr := startSessiond(t)
	for _, sc := range scripts {
		for _, proto := range sc.protos {
			t.Run(fmt.Sprintf("%s/RESP%d", sc.name, proto), func(t *testing.T) {
				runScript(t, sc, proto, redisAddr, sessiondAddr)
			})
		}
	}
}

// target is one server under comparison with the script's connections.
type target struct {
	t     *testing.T
	name  string
	addr  string
	proto int
	conns [maxConns + 1]*tconn
}

type tconn struct {
	nc net.Conn
	br *bufio.Reader
}

// openTargets returns redis-server and sessiond as targets in protocol
// proto, both emptied by FLUSHALL.
func openTargets(t *testing.T, proto int, redisAddr, sessiondAddr string) []*target {
	t.Helper()
	targets := []*target{
		{t: t, name: "redis", addr: redisAddr, proto: proto},
		{t: t, name: "sessiond", addr: sessiondAddr, proto: proto},
	}
	for _, tg := range targets {
		if r := tg.flushAll(); r.String() != strconv.Quote("+OK\r\n") {
			t.Fatalf("%s: FLUSHALL answered %s", tg.name, r)
		}
	}
	return targets
}

// closeTargets closes the targets' connections.
func closeTargets(targets []*target) {
	for _, tg := range targets {
		tg.closeAll()
	}
}

func runScript(t *testing.T, sc *script, proto int, redisAddr, sessiondAddr string) {
	targets := openTargets(t, proto, redisAddr, sessiondAddr)
	defer closeTargets(targets)
	for i := range sc.steps {
		st := &sc.steps[i]
		want := targets[0].run(st)
		got := targets[1].run(st)
		if verbose {
			t.Logf("%s:%d: %s\n\tredis:    %v\n\tsessiond: %v", sc.name, st.line, st.text, want, got)
		}
		if st.ignore {
			continue
		}
		if len(want) != len(got) {
			t.Errorf("%s:%d (RESP%d): %s\n\tredis:    %d replies\n\tsessiond: %d replies", sc.name, st.line, proto, st.text, len(want), len(got))
			continue
		}
		for j := range want {
			a, b := st.view(want[j]), st.view(got[j])
			if st.equal(a, b) {
				continue
			}
			as, bs := describe(a, b)
			if st.shape {
				as, bs = shape(a), shape(b)
			}
			which := ""
			if len(want) > 1 {
				which = fmt.Sprintf(" [reply %d]", j+1)
			}
			t.Errorf("%s:%d (RESP%d): %s%s\n\tredis:    %s\n\tsessiond: %s", sc.name, st.line, proto, st.text, which, as, bs)
		}
	}
}

// view applies the step's masking and ordering to a reply.
func (st *step) view(r *reply) *reply {
	if st.mask != nil {
		r = mask(r, st.mask)
	}
	if st.stats {
		r = statsLines(r)
	}
	switch st.order {
	case "elems", "pairs":
		r = sortReply(r, st.order == "pairs")
	case "scan", "scanpairs":
		if r.kind == '*' && len(r.elems) == 2 {
			c := *r
			c.elems = []*reply{r.elems[0], sortReply(r.elems[1], st.order == "scanpairs")}
			r = &c
		}
	}
	return r
}

// usecFields are the timing fields of a cmdstat_ line, which differ.
var usecFields = regexp.MustCompile(`usec=\d+,usec_per_call=\d+\.\d\d,`)

// statsLines is @stats' view of an INFO reply (a bulk or verbatim
// string): its cmdstat_ and errorstat_ lines, INFO's own and the timing
// fields left out. Other replies are left as they are.
func statsLines(r *reply) *reply {
	if r.kind != '$' && r.kind != '=' || r.body == nil {
		return r
	}
	var keep []string
	for _, l := range strings.Split(string(r.body), "\r\n") {
		if (strings.HasPrefix(l, "cmdstat_") || strings.HasPrefix(l, "errorstat_")) && !strings.HasPrefix(l, "cmdstat_info:") {
			keep = append(keep, usecFields.ReplaceAllString(l, ""))
		}
	}
	slices.Sort(keep) // Redis lists commands in its dict's order
	body := []byte(strings.Join(keep, "\n"))
	return &reply{kind: '$', head: strconv.Itoa(len(body)), body: body}
}

// maxShown bounds how much of a long reply a report quotes.
const maxShown = 400

// describe quotes two differing replies for a report. Long ones are cut
// to a window around their first difference.
func describe(a, b *reply) (string, string) {
	if a.kind == 0 || b.kind == 0 {
		return a.String(), b.String()
	}
	ra, rb := a.raw(), b.raw()
	if len(ra) <= maxShown && len(rb) <= maxShown {
		return a.String(), b.String()
	}
	i := 0
	for i < len(ra) && i < len(rb) && ra[i] == rb[i] {
		i++
	}
	start := max(i-maxShown/4, 0)
	cut := func(r []byte) string {
		end := min(start+maxShown, len(r))
		s := strconv.Quote(string(r[start:end]))
		if start > 0 {
			s = "..." + s
		}
		if end < len(r) {
			s += "..."
		}
		return fmt.Sprintf("%s (%d bytes, first difference at byte %d)", s, len(r), i)
	}
	return cut(ra), cut(rb)
}

// equal compares two viewed replies as the step asks.
func (st *step) equal(a, b *reply) bool {
	switch {
	case st.typ:
		return a.kind == b.kind
	case st.shape:
		return shape(a) == shape(b)
	case st.approx > 0:
		return approxEqual(a, b, st.approx)
	}
	return bytes.Equal(a.raw(), b.raw())
}

// flushAll empties the server through a connection of its own.
func (tg *target) flushAll() *reply {
	c, err := tg.dial(2)
	if err != nil {
		return &reply{head: "<" + err.Error() + ">"}
	}
	defer c.nc.Close()
	if _, err := c.nc.Write(encode([][]byte{[]byte("FLUSHALL")})); err != nil {
		return &reply{head: "<" + err.Error() + ">"}
	}
	r, _ := readOrDescribe(c.br)
	return r
}

func (tg *target) closeAll() {
	for i, c := range tg.conns {
		if c != nil {
			c.nc.Close()
			tg.conns[i] = nil
		}
	}
}

// dial opens a connection in protocol proto.
func (tg *target) dial(proto int) (*tconn, error) {
	nc, err := net.DialTimeout("tcp", tg.addr, replyTimeout)
	if err != nil {
		return nil, err
	}
	c := &tconn{nc: nc, br: bufio.NewReader(nc)}
	if proto == 3 {
		nc.SetDeadline(time.Now().Add(replyTimeout))
		nc.Write(encode([][]byte{[]byte("HELLO"), []byte("3")}))
		r, _ := readOrDescribe(c.br)
		if r.kind != '%' {
			nc.Close()
			return nil, fmt.Errorf("HELLO 3 answered %s", r)
		}
	}
	return c, nil
}

// conn returns connection n, opening it when needed.
func (tg *target) conn(n int) (*tconn, *reply) {
	if tg.conns[n] == nil {
		c, err := tg.dial(tg.proto)
		if err != nil {
			return nil, &reply{head: "<connect: " + err.Error() + ">"}
		}
		tg.conns[n] = c
	}
	return tg.conns[n], nil
}

func (tg *target) drop(n int) {
	if c := tg.conns[n]; c != nil {
		c.nc.Close()
		tg.conns[n] = nil
	}
}

// run executes one step and returns its replies (and, with @eof, whether
// the connection closed).
func (tg *target) run(st *step) []*reply {
	c, failed := tg.conn(st.conn)
	if failed != nil {
		return []*reply{failed}
	}
	if st.scanAll != "" {
		return []*reply{tg.scanAll(c, st)}
	}
	if st.until != nil {
		return []*reply{tg.poll(c, st)}
	}
	var out []byte
	if st.raw {
		out = bytes.Join(st.args, nil)
	} else {
		out = encode(st.args)
	}
	c.nc.SetDeadline(time.Now().Add(replyTimeout))
	if _, err := c.nc.Write(out); err != nil {
		tg.drop(st.conn)
		return []*reply{{head: "<write: " + err.Error() + ">"}}
	}
	var replies []*reply
	for i := 0; i < st.replies; i++ {
		r, broken := readOrDescribe(c.br)
		replies = append(replies, r)
		if broken {
			tg.drop(st.conn)
			if st.eof && r == replyClosed {
				replies = append(replies, replyClosed)
			}
			return replies
		}
	}
	if st.eof {
		r, _ := readOrDescribe(c.br)
		if r != replyClosed {
			if r.kind == 0 {
				r = replyOpen
			} else {
				r = &reply{head: "<connection still open, sent " + r.String() + ">"}
			}
		}
		replies = append(replies, r)
		tg.drop(st.conn)
	}
	return replies
}

// untilTimeout bounds how long @until repeats a command.
const untilTimeout = 5 * time.Second

// poll sends the step's command until the reply's value is st.until or
// untilTimeout passes, and returns the last reply.
func (tg *target) poll(c *tconn, st *step) *reply {
	deadline := time.Now().Add(untilTimeout)
	for {
		c.nc.SetDeadline(time.Now().Add(replyTimeout))
		if _, err := c.nc.Write(encode(st.args)); err != nil {
			tg.drop(st.conn)
			return &reply{head: "<write: " + err.Error() + ">"}
		}
		r, broken := readOrDescribe(c.br)
		if broken {
			tg.drop(st.conn)
			return r
		}
		v, ok := r.text()
		if r.kind == ':' {
			v, ok = r.head, true
		}
		if ok && v == *st.until || time.Now().After(deadline) {
			return r
		}
		time.Sleep(10 * time.Millisecond) // a real TTL is running out
	}
}

// scanAll follows a SCAN-family cursor to its end and returns the
// elements seen as ["0", sorted elements without duplicates].
func (tg *target) scanAll(c *tconn, st *step) *reply {
	args := append([][]byte(nil), st.args...)
	idx := scanCursorIndex(args)
	size := 1
	if st.scanAll == "pairs" {
		size = 2
	}
	seen := map[string]bool{}
	var elems []*reply
	for iter := 0; iter < 100000; iter++ {
		c.nc.SetDeadline(time.Now().Add(replyTimeout))
		if _, err := c.nc.Write(encode(args)); err != nil {
			tg.drop(st.conn)
			return &reply{head: "<write: " + err.Error() + ">"}
		}
		r, broken := readOrDescribe(c.br)
		if broken {
			tg.drop(st.conn)
			return r
		}
		if r.kind != '*' || len(r.elems) != 2 || !isAggregate(r.elems[1].kind) {
			return r // an error, or not a SCAN reply: compared as it is
		}
		cursor, ok := r.elems[0].text()
		if !ok {
			return r
		}
		page := r.elems[1].elems
		for i := 0; i+size <= len(page); i += size {
			var k []byte
			for _, e := range page[i : i+size] {
				k = e.appendRaw(k)
			}
			if !seen[string(k)] {
				seen[string(k)] = true
				elems = append(elems, page[i:i+size]...)
			}
		}
		if cursor == "0" {
			sortElems(elems, size)
			return &reply{kind: '*', head: "2", elems: []*reply{
				{kind: '$', head: "1", body: []byte("0")},
				{kind: '*', head: strconv.Itoa(len(elems)), elems: elems},
			}}
		}
		args[idx] = []byte(cursor)
	}
	return &reply{head: "<cursor did not return to 0>"}
}

// encode writes args as a RESP multibulk command.
func encode(args [][]byte) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// startSessiond serves an in-process sessiond on a loopback port until the
// test ends and returns its address.
func startSessiond(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{Dir: t.TempDir()}, nil, nil)
	if err != nil {
		t.Fatalf("sessiond: New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sessiond: listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("sessiond: Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// startRedis starts redis-server on a free loopback port, without
// persistence, in a temporary directory, with extra arguments appended,
// and stops it when the test ends.
func startRedis(t *testing.T, extra ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not installed, and CI=true requires the differential test to run: %v", err)
		}
		t.Skip("SKIPPED: redis-server is not installed (Debian: apt-get install redis-server); the differential test did not run")
	}
	var failures []string
	for attempt := 0; attempt < 2; attempt++ { // a second try covers a port taken between probe and bind
		addr, msg := launchRedis(t, path, extra...)
		if addr != "" {
			return addr
		}
		failures = append(failures, msg)
	}
	t.Fatalf("redis-server did not start:\n%s", strings.Join(failures, "\n---\n"))
	return ""
}

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (lb *lockedBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.Write(p)
}

func (lb *lockedBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// launchRedis makes one attempt to start redis-server. It returns the
// address once the server answers PING, or "" and what went wrong.
func launchRedis(t *testing.T, path string, extra ...string) (addr, failure string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "probe a free port: " + err.Error()
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		// As in sessiond: one database, so that SELECT 1 fails on both,
		// and the compact-hash limit of the standard redis.conf (the
		// compiled-in default, used without a config file, is 512).
		"--databases", "1", "--hash-max-listpack-entries", "128")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Dir = t.TempDir()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", "start: " + err.Error()
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if pingOK(addr) {
			t.Cleanup(stop)
			return addr, ""
		}
		if time.Now().After(deadline) {
			stop()
			return "", "no PONG within 15s; output:\n" + out.String()
		}
		select {
		case <-exited:
			return "", "exited early; output:\n" + out.String()
		case <-tick.C:
		}
	}
}

// pingOK reports whether a server at addr answers PING.
func pingOK(addr string) bool {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Second))
	if _, err := nc.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	r, err := readReply(bufio.NewReader(nc))
	return err == nil && r.kind == '+' && r.head == "PONG"
}
