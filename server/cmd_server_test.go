package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// respConn is a raw connection that reads whole RESP replies, for tests
// whose replies are not known byte for byte in advance.
type respConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func (ts *testServer) resp(t testing.TB) *respConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &respConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends args as a multibulk command and returns the raw reply.
func (rc *respConn) do(args ...string) string {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.nc.Write([]byte(b.String())); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	var out bytes.Buffer
	if err := readRESP(rc.br, &out); err != nil {
		rc.t.Fatalf("%q: reading reply: %v (got %q)", args, err, out.String())
	}
	return out.String()
}

// readRESP copies one complete RESP2/RESP3 value from br to out.
func readRESP(br *bufio.Reader, out *bytes.Buffer) error {
	line, err := br.ReadString('\n')
	out.WriteString(line)
	if err != nil {
		return err
	}
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		_, err := io.ReadFull(br, buf)
		out.Write(buf)
		return err
	case '*', '~', '>', '%', '|':
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := readRESP(br, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// respBulk returns s as a RESP bulk string.
func respBulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// respError returns msg as a RESP error line.
func respError(msg string) string { return "-" + msg + "\r\n" }

func TestConfigGet(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"CONFIG", "GET", "maxmemory"}, "*2\r\n" + respBulk("maxmemory") + respBulk("0")},
		{[]string{"config", "get", "save", "appendonly", "appendfsync"},
			"*6\r\n" + respBulk("save") + respBulk("") + respBulk("appendonly") + respBulk("no") + respBulk("appendfsync") + respBulk("everysec")},
		{[]string{"CONFIG", "GET", "nosuch"}, "*0\r\n"},
		{[]string{"CONFIG", "GET", "no*such"}, "*0\r\n"},
		// Exact names are echoed as spelled; each directive appears once.
		{[]string{"CONFIG", "GET", "MAXMEMORY", "maxmemory"}, "*2\r\n" + respBulk("MAXMEMORY") + respBulk("0")},
		{[]string{"CONFIG", "GET", "maxmemory-policy", "maxmemory-*"},
			"*4\r\n" + respBulk("maxmemory-policy") + respBulk("volatile-lru") + respBulk("maxmemory-samples") + respBulk("5")},
		{[]string{"CONFIG", "GET", "hash-max-*"}, "*8\r\n" +
			respBulk("hash-max-listpack-entries") + respBulk("128") + respBulk("hash-max-ziplist-entries") + respBulk("128") +
			respBulk("hash-max-listpack-value") + respBulk("64") + respBulk("hash-max-ziplist-value") + respBulk("64")},
		{[]string{"CONFIG", "GET", "databases", "timeout", "maxclients"},
			"*6\r\n" + respBulk("databases") + respBulk("1") + respBulk("timeout") + respBulk("0") + respBulk("maxclients") + respBulk("10000")},
		{[]string{"CONFIG", "GET", "proto-max-bulk-len"}, "*2\r\n" + respBulk("proto-max-bulk-len") + respBulk("536870912")},
		{[]string{"CONFIG", "GET"}, respError("ERR wrong number of arguments for 'config|get' command")},
		{[]string{"CONFIG"}, respError("ERR wrong number of arguments for 'config' command")},
		{[]string{"CONFIG", "FOO"}, respError("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")},
		{[]string{"config", "foo"}, respError("ERR unknown subcommand 'foo'. Try CONFIG HELP.")},
	}
	for _, tt := range tests {
		if got := rc.do(tt.args...); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
	if got := rc.do("HELLO", "3"); !strings.HasPrefix(got, "%7\r\n") {
		t.Fatalf("HELLO 3: %q", got)
	}
	if got, want := rc.do("CONFIG", "GET", "maxmemory", "appendonly"),
		"%2\r\n"+respBulk("maxmemory")+respBulk("0")+respBulk("appendonly")+respBulk("no"); got != want {
		t.Errorf("RESP3 CONFIG GET:\n got %q\nwant %q", got, want)
	}

	// go-redis reads the map in both protocols.
	for _, proto := range []int{2, 3} {
		all, err := ts.goRedis(t, proto).ConfigGet(context.Background(), "*").Result()
		if err != nil {
			t.Fatalf("RESP%d ConfigGet: %v", proto, err)
		}
		for name, want := range map[string]string{"save": "", "appendonly": "no", "databases": "1",
			"port": "0", "bind": "127.0.0.1", "maxmemory-policy": "volatile-lru", "loglevel": "notice"} {
			if got, ok := all[name]; !ok || got != want {
				t.Errorf("RESP%d CONFIG GET * [%s] = %q, %v; want %q", proto, name, got, ok, want)
			}
		}
		if len(all) != len(directives())+3 { // three aliases
			t.Errorf("RESP%d CONFIG GET * returned %d entries", proto, len(all))
		}
	}
}

func TestConfigSet(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	failed := func(arg, msg string) string {
		return respError("ERR CONFIG SET failed (possibly related to argument '" + arg + "') - " + msg)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"CONFIG", "SET", "foo", "bar"}, respError("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")},
		{[]string{"CONFIG", "SET", "maxmemory", "abc"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"CONFIG", "SET", "maxmemory", "-1"}, failed("maxmemory", "argument must be a memory value")},
		{[]string{"CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "bogus"}, failed("maxmemory-policy",
			"argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")},
		// All or nothing: maxmemory was not changed by the failed SET.
		{[]string{"CONFIG", "GET", "maxmemory"}, "*2\r\n" + respBulk("maxmemory") + respBulk("0")},
		{[]string{"CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"}, failed("maxmemory", "duplicate parameter")},
		{[]string{"CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"},
			failed("hash-max-listpack-entries", "duplicate parameter")},
		{[]string{"CONFIG", "SET", "port", "1"}, failed("port", "can't set immutable config")},
		{[]string{"CONFIG", "SET", "databases", "2", "foo", "bar"}, failed("databases", "can't set immutable config")},
		{[]string{"CONFIG", "SET", "foo", "bar", "databases", "2"}, respError("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")},
		{[]string{"CONFIG", "SET", "maxmemory", "x", "foo", "bar"}, respError("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")},
		{[]string{"CONFIG", "SET", "dir", "/tmp"}, failed("dir", "can't set protected config")},
		{[]string{"CONFIG", "SET", "maxmemory"}, respError("ERR wrong number of arguments for 'config|set' command")},
		{[]string{"CONFIG", "SET", "maxmemory", "1", "maxclients"}, respError("ERR wrong number of arguments for 'config|set' command")},
		{[]string{"CONFIG", "SET", "loglevel", "bogus"}, failed("loglevel", "argument(s) must be one of the following: debug, verbose, notice, warning")},
		{[]string{"CONFIG", "SET", "maxclients", "0"}, failed("maxclients", "argument must be between 1 and 4294967295 inclusive")},
		{[]string{"CONFIG", "SET", "maxclients", "1kb"}, failed("maxclients", "argument couldn't be parsed into an integer")},
		{[]string{"CONFIG", "SET", "timeout", "-1"}, failed("timeout", "argument must be between 0 and 2147483647 inclusive")},
		{[]string{"CONFIG", "SET", "proto-max-bulk-len", "1"}, failed("proto-max-bulk-len", "argument must be between 1048576 and 9223372036854775807 inclusive")},
		{[]string{"CONFIG", "SET", "appendonly", "yes"}, failed("appendonly", "sessiond does not write an append-only file: only appendonly no is accepted")},
		{[]string{"CONFIG", "SET", "save", "3600 1"}, failed("save", `sessiond does not write RDB snapshots: only save "" is accepted`)},
		{[]string{"CONFIG", "SET", "save", ""}, "+OK\r\n"},
		{[]string{"CONFIG", "SET", "appendonly", "NO"}, "+OK\r\n"},
		{[]string{"CONFIG", "SET", "maxmemory", "1GB", "maxmemory-policy", "ALLKEYS-LRU", "MaxMemory-Samples", "10"}, "+OK\r\n"},
		{[]string{"CONFIG", "GET", "maxmemory*"}, "*6\r\n" + respBulk("maxmemory") + respBulk("1073741824") +
			respBulk("maxmemory-policy") + respBulk("allkeys-lru") + respBulk("maxmemory-samples") + respBulk("10")},
		{[]string{"CONFIG", "SET", "hash-max-ziplist-entries", "100", "hash-max-listpack-value", "32"}, "+OK\r\n"},
		{[]string{"CONFIG", "GET", "hash-max-listpack-entries", "hash-max-ziplist-value"}, "*4\r\n" +
			respBulk("hash-max-listpack-entries") + respBulk("100") + respBulk("hash-max-ziplist-value") + respBulk("32")},
		{[]string{"CONFIG", "SET", "timeout", "30", "maxclients", "77", "loglevel", "warning"}, "+OK\r\n"},
	}
	for _, tt := range tests {
		if got := rc.do(tt.args...); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
	cfg := ts.config()
	if cfg.MaxMemory != 1<<30 || cfg.MaxMemoryPolicy != "allkeys-lru" || cfg.MaxMemorySamples != 10 ||
		cfg.HashMaxListpackEntries != 100 || cfg.HashMaxListpackValue != 32 ||
		cfg.Timeout != 30*time.Second || cfg.MaxClients != 77 || cfg.LogLevel != "warning" {
		t.Errorf("live config after CONFIG SET: %+v", *cfg)
	}
}

func TestConfigSetLive(t *testing.T) {
	var logBuf lockedLog
	ts := startServer(t, Config{Logger: NewLogger(&logBuf, "notice")})
	rc := ts.resp(t)
	ctx := context.Background()

	// loglevel changes the running logger's level.
	if ts.log.Enabled(ctx, slog.LevelDebug) {
		t.Fatal("debug enabled at notice")
	}
	if got := rc.do("CONFIG", "SET", "loglevel", "debug"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET loglevel: %q", got)
	}
	if !ts.log.Enabled(ctx, slog.LevelDebug) {
		t.Error("CONFIG SET loglevel debug did not enable debug logging")
	}
	rc.do("CONFIG", "SET", "loglevel", "warning")
	if ts.log.Enabled(ctx, slog.LevelInfo) {
		t.Error("CONFIG SET loglevel warning left info logging on")
	}

	// requirepass applies to new connections.
	if got := rc.do("CONFIG", "SET", "requirepass", "s3cret"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass: %q", got)
	}
	rc2 := ts.resp(t)
	if got := rc2.do("PING"); got != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("PING without AUTH after requirepass: %q", got)
	}
	if got := rc2.do("AUTH", "s3cret"); got != "+OK\r\n" {
		t.Errorf("AUTH: %q", got)
	}
	rc.do("CONFIG", "SET", "requirepass", "")

	// maxclients refuses connections beyond the limit.
	if got := rc.do("CONFIG", "SET", "maxclients", "2"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET maxclients: %q", got)
	}
	rc3 := ts.resp(t)
	if got := rc3.do("PING"); got != "-ERR max number of clients reached\r\n" {
		t.Errorf("third client with maxclients 2: %q", got)
	}
}

// lockedLog is a bytes.Buffer safe for concurrent writers.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestConfigSetConcurrent(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		c := ts.goRedis(t, 2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				mem := strconv.Itoa((g*1000 + i) * 1000)
				if err := c.ConfigSet(ctx, "maxmemory", mem).Err(); err != nil {
					errs <- err
					return
				}
				if err := c.ConfigGet(ctx, "maxmemory*").Err(); err != nil {
					errs <- err
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
	if ts.config().MaxMemory%1000 != 0 {
		t.Errorf("maxmemory %d is not one of the values set", ts.config().MaxMemory)
	}
}

func TestConfigResetStat(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.goRedis(t, 2)
	ctx := context.Background()
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	c.Get(ctx, "missing")
	before := infoFields(t, c.Info(ctx, "stats").Val())
	if before["total_commands_processed"] == "0" || before["keyspace_hits"] != "1" || before["keyspace_misses"] != "1" {
		t.Fatalf("stats before reset: %v", before)
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	after := infoFields(t, c.Info(ctx, "stats").Val())
	for k, want := range map[string]string{"total_commands_processed": "1", "keyspace_hits": "0",
		"keyspace_misses": "0", "total_connections_received": "0", "total_error_replies": "0"} {
		if after[k] != want {
			t.Errorf("after CONFIG RESETSTAT %s = %q, want %q", k, after[k], want)
		}
	}
}

func TestConfigRewrite(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	if got, want := rc.do("CONFIG", "REWRITE"), respError("ERR The server is running without a config file"); got != want {
		t.Errorf("REWRITE without file: %q", got)
	}

	path := filepath.Join(t.TempDir(), "sessiond.conf")
	orig := "# my settings\nport 0\nmaxmemory 5mb\nloglevel notice\nmaxmemory 6mb\n\nhash-max-ziplist-entries 50\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clock = nil
	ts = startServer(t, cfg)
	rc = ts.resp(t)
	if got := rc.do("CONFIG", "SET", "maxmemory", "2mb", "maxclients", "99", "requirepass", "a b\"c"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	if got := rc.do("AUTH", "a b\"c"); got != "+OK\r\n" {
		t.Fatalf("AUTH: %q", got)
	}
	if got := rc.do("CONFIG", "REWRITE"); got != "+OK\r\n" {
		t.Fatalf("CONFIG REWRITE: %q", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# my settings\nport 0\nmaxmemory 2097152\nloglevel notice\n\nhash-max-listpack-entries 50\n" +
		"# Generated by CONFIG REWRITE\nrequirepass \"a b\\\"c\"\nmaxclients 99\n"
	if string(data) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", data, want)
	}
	back, err := LoadConfig([]string{path})
	if err != nil {
		t.Fatalf("reloading the rewritten file: %v", err)
	}
	if back.MaxMemory != 2<<20 || back.MaxClients != 99 || back.RequirePass != "a b\"c" || back.HashMaxListpackEntries != 50 {
		t.Errorf("reloaded: %+v", back)
	}
}

func TestConfigHelp(t *testing.T) {
	ts := startServer(t, Config{})
	got := ts.resp(t).do("CONFIG", "HELP")
	if !strings.HasPrefix(got, "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n") {
		t.Errorf("CONFIG HELP: %q", got)
	}
}

func TestTimeAndLastSave(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	if got, want := rc.do("TIME"), "*2\r\n"+respBulk("1700000000")+respBulk("0"); got != want {
		t.Errorf("TIME: %q, want %q", got, want)
	}
	ts.clock.Advance(1500 * time.Millisecond)
	if got, want := rc.do("TIME"), "*2\r\n"+respBulk("1700000001")+respBulk("500000"); got != want {
		t.Errorf("TIME: %q, want %q", got, want)
	}
	if got := rc.do("LASTSAVE"); got != ":1700000000\r\n" {
		t.Errorf("LASTSAVE: %q", got)
	}
	if got := rc.do("TIME", "x"); got != respError("ERR wrong number of arguments for 'time' command") {
		t.Errorf("TIME x: %q", got)
	}
}
