package compat

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliEnv keeps redis-cli away from the user's history and rc files.
var cliEnv = []string{"REDISCLI_HISTFILE=/dev/null", "REDISCLI_RCFILE=/dev/null", "TERM=dumb"}

// redisCLI runs redis-cli against n with args (and stdin) and returns its
// stdout. The run must succeed and print nothing on stderr: redis-cli's
// own startup (connecting, and anything it asks the server first) must
// not produce errors.
func redisCLI(t *testing.T, cli string, n *node, stdin string, args ...string) string {
	t.Helper()
	args = append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(n.port)}, args...)
	res := run(t, time.Minute, stdin, cliEnv, cli, args...)
	if res.err != nil || res.stderr != "" {
		t.Fatalf("redis-cli %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.err, res.stdout, res.stderr)
	}
	return res.stdout
}

// TestRedisCLI drives redis-cli the ways people use it on a session
// cache: interactively, with commands on stdin, and one command per run
// with typed (--no-raw, -3) and raw output.
func TestRedisCLI(t *testing.T) {
	cli := needTool(t, "redis-cli", "redis-tools")
	n := startNode(t)

	t.Run("Interactive", func(t *testing.T) {
		// A pseudo-terminal makes redis-cli run its interactive REPL,
		// which asks the server for COMMAND DOCS at startup to build its
		// hints. TERM=dumb keeps linenoise from sending terminal queries.
		script := needTool(t, "script", "bsdutils")
		input := []string{
			"PING",
			"HSET sess:cli user u1 csrf t9",
			"EXPIRE sess:cli 1800",
			"TTL sess:cli",
			"HGETALL sess:cli",
			"INCR sess:cli",
			`SET "sess:quoted key" "a b"`,
			`GET "sess:quoted key"`,
			`DEL sess:cli "sess:quoted key"`,
			"GET sess:cli",
			"HGETALL sess:cli",
		}
		want := []string{
			"PONG",
			"(integer) 2",
			"(integer) 1",
			"(integer) TTL", // checked separately
			`1) "user"`, `2) "u1"`, `3) "csrf"`, `4) "t9"`,
			"(error) WRONGTYPE Operation against a key holding the wrong kind of value",
			"OK",
			`"a b"`,
			"(integer) 2",
			"(nil)",
			"(empty array)",
		}
		shell := fmt.Sprintf("'%s' -h 127.0.0.1 -p %d", cli, n.port)
		res := run(t, time.Minute, strings.Join(input, "\n")+"\n", cliEnv, script, "-qec", shell, "/dev/null")
		if res.err != nil {
			t.Fatalf("interactive redis-cli: %v\noutput:\n%s\nstderr:\n%s", res.err, res.stdout, res.stderr)
		}
		prompt := fmt.Sprintf("127.0.0.1:%d> ", n.port)
		if !strings.Contains(res.stdout, prompt) {
			t.Fatalf("interactive redis-cli never showed the prompt %q (not connected?):\n%s", prompt, res.stdout)
		}
		var got []string
		for _, line := range strings.Split(res.stdout, "\n") {
			line = strings.TrimRight(strings.ReplaceAll(line, prompt, ""), "\r ")
			if line == "" || slices.Contains(input, line) { // the terminal's echo of our input
				continue
			}
			got = append(got, line)
		}
		if len(got) > 3 {
			if ttl, ok := strings.CutPrefix(got[3], "(integer) "); ok {
				if v, err := strconv.ParseInt(ttl, 10, 64); err == nil && ttlInRange(v, 1800) {
					got[3] = "(integer) TTL"
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("interactive redis-cli replies:\n%s\nwant:\n%s\nfull transcript:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.stdout)
		}
	})

	t.Run("Stdin", func(t *testing.T) {
		// Commands piped to redis-cli: replies in raw form, one per line.
		out := redisCLI(t, cli, n, "SET sess:pipe v1\nGET sess:pipe\nEXPIRE sess:pipe 1800\nHSET sess:pipe-h f v\nHGETALL sess:pipe-h\nDEL sess:pipe sess:pipe-h\nEXISTS sess:pipe\n")
		want := "OK\nv1\n1\n1\nf\nv\n2\n0\n"
		if out != want {
			t.Fatalf("piped redis-cli output %q, want %q", out, want)
		}
	})

	t.Run("InfoServer", func(t *testing.T) {
		out := redisCLI(t, cli, n, "", "INFO", "server")
		for _, want := range []string{"# Server\r\n", "redis_version:", "redis_mode:standalone\r\n", fmt.Sprintf("process_id:%d\r\n", n.pid()), fmt.Sprintf("tcp_port:%d\r\n", n.port)} {
			if !strings.Contains(out, want) {
				t.Errorf("INFO server lacks %q", want)
			}
		}
		if strings.Contains(out, "# Keyspace") {
			t.Errorf("INFO server includes other sections:\n%s", out)
		}
		if t.Failed() {
			t.Logf("INFO server output:\n%s", out)
		}
	})

	t.Run("InfoKeyspace", func(t *testing.T) {
		redisCLI(t, cli, n, "", "FLUSHALL")
		redisCLI(t, cli, n, "", "SET", "sess:info-a", "v", "EX", "1800")
		redisCLI(t, cli, n, "", "SET", "sess:info-b", "v")
		out := redisCLI(t, cli, n, "", "INFO", "keyspace")
		if !regexp.MustCompile(`(?m)^# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=\d+(,subexpiry=0)?\r$`).MatchString(out) {
			t.Errorf("INFO keyspace = %q, want db0:keys=2,expires=1,avg_ttl=...", out)
		}
		redisCLI(t, cli, n, "", "DEL", "sess:info-a", "sess:info-b")
	})

	t.Run("ConfigGet", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"CONFIG", "GET", "maxmemory"}, "maxmemory\n0\n"},
			{[]string{"--no-raw", "CONFIG", "GET", "maxmemory"}, "1) \"maxmemory\"\n2) \"0\"\n"},
			{[]string{"-3", "--no-raw", "CONFIG", "GET", "maxmemory"}, "1# \"maxmemory\" => \"0\"\n"},
			// The command-line flags the server was started with.
			{[]string{"CONFIG", "GET", "port"}, fmt.Sprintf("port\n%d\n", n.port)},
			{[]string{"CONFIG", "GET", "bind"}, "bind\n127.0.0.1\n"},
			{[]string{"CONFIG", "GET", "dir"}, fmt.Sprintf("dir\n%s\n", n.dir)},
		} {
			if got := redisCLI(t, cli, n, "", tc.args...); got != tc.want {
				t.Errorf("redis-cli %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})

	t.Run("CommandDocs", func(t *testing.T) {
		// A clean reply: either docs (redis-cli's hints) or an empty one.
		out := redisCLI(t, cli, n, "", "--no-raw", "COMMAND", "DOCS", "GET")
		if out != "(empty array)\n" && !(strings.HasPrefix(out, "1) \"get\"\n") && strings.Contains(out, "\"summary\"")) {
			t.Errorf("COMMAND DOCS GET = %q; want the docs of get or an empty array", out)
		}
		out = redisCLI(t, cli, n, "", "-3", "--no-raw", "COMMAND", "DOCS", "GET")
		if out != "(empty hash)\n" && !(strings.HasPrefix(out, "1# \"get\" => ") && strings.Contains(out, "\"summary\" => ")) {
			t.Errorf("COMMAND DOCS GET over RESP3 = %q; want the docs of get as a map or an empty map", out)
		}
		out = redisCLI(t, cli, n, "", "--no-raw", "COMMAND", "DOCS")
		if strings.Contains(out, "(error)") {
			t.Errorf("COMMAND DOCS = %q; want a clean reply", out)
		}
	})

	t.Run("TypedOutput", func(t *testing.T) {
		redisCLI(t, cli, n, "", "HSET", "sess:typed", "user", "u1", "csrf", "t9")
		redisCLI(t, cli, n, "", "EXPIRE", "sess:typed", "1800")
		ttlLine := regexp.MustCompile(`^\(integer\) (\d+)\n$`)
		for _, proto := range []string{"-2", "-3"} {
			if out := redisCLI(t, cli, n, "", proto, "--no-raw", "TTL", "sess:typed"); !ttlLine.MatchString(out) {
				t.Errorf("redis-cli %s --no-raw TTL = %q, want (integer) N", proto, out)
			} else if v, _ := strconv.ParseInt(ttlLine.FindStringSubmatch(out)[1], 10, 64); !ttlInRange(v, 1800) {
				t.Errorf("redis-cli %s --no-raw TTL = %d, want near 1800", proto, v)
			}
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--no-raw", "HGETALL", "sess:typed"}, "1) \"user\"\n2) \"u1\"\n3) \"csrf\"\n4) \"t9\"\n"},
			{[]string{"-3", "--no-raw", "HGETALL", "sess:typed"}, "1# \"user\" => \"u1\"\n2# \"csrf\" => \"t9\"\n"},
			{[]string{"--no-raw", "HGETALL", "sess:none"}, "(empty array)\n"},
			{[]string{"-3", "--no-raw", "HGETALL", "sess:none"}, "(empty hash)\n"},
			{[]string{"--no-raw", "HGET", "sess:typed", "nosuch"}, "(nil)\n"},
			{[]string{"-3", "--no-raw", "HGET", "sess:typed", "nosuch"}, "(nil)\n"},
			{[]string{"--no-raw", "HMGET", "sess:typed", "user", "nosuch"}, "1) \"u1\"\n2) (nil)\n"},
			{[]string{"--no-raw", "TTL", "sess:none"}, "(integer) -2\n"},
			{[]string{"--no-raw", "TYPE", "sess:typed"}, "hash\n"},
			{[]string{"--no-raw", "EXISTS", "sess:typed", "sess:none"}, "(integer) 1\n"},
			{[]string{"--no-raw", "SCAN", "0", "MATCH", "sess:typ*", "COUNT", "100"}, "1) \"0\"\n2) 1) \"sess:typed\"\n"},
			{[]string{"-3", "--no-raw", "SCAN", "0", "MATCH", "sess:typ*", "COUNT", "100"}, "1) \"0\"\n2) 1) \"sess:typed\"\n"},
			{[]string{"--no-raw", "GET", "sess:typed"}, "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n"},
			{[]string{"--no-raw", "SET", "sess:typed-s", "v", "EX", "1800"}, "OK\n"},
			{[]string{"--no-raw", "GETEX", "sess:typed-s", "EX", "3600"}, "\"v\"\n"},
			{[]string{"--no-raw", "DEL", "sess:typed", "sess:typed-s", "sess:none"}, "(integer) 2\n"},
			{[]string{"--no-raw", "GET", "sess:typed-s"}, "(nil)\n"},
		} {
			if got := redisCLI(t, cli, n, "", tc.args...); got != tc.want {
				t.Errorf("redis-cli %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})

	t.Run("ScanMode", func(t *testing.T) {
		redisCLI(t, cli, n, "", "FLUSHALL")
		want := map[string]bool{}
		var mset []string
		for _, id := range sessionIDs("c", 250) {
			mset = append(mset, "sess:"+id, "v")
			want["sess:"+id] = true
		}
		if out := redisCLI(t, cli, n, "", append([]string{"MSET"}, mset...)...); out != "OK\n" {
			t.Fatalf("MSET = %q", out)
		}
		redisCLI(t, cli, n, "", "SET", "other:1", "v")
		got := map[string]bool{}
		for _, k := range strings.Fields(redisCLI(t, cli, n, "", "--scan", "--pattern", "sess:*")) {
			got[k] = true
		}
		if missing, extra := setDiff(got, want); len(missing)+len(extra) > 0 {
			t.Fatalf("redis-cli --scan --pattern sess:* found %d keys, want %d: missing %v, unexpected %v", len(got), len(want), firstN(missing, 10), firstN(extra, 10))
		}
		out := redisCLI(t, cli, n, "", "--bigkeys")
		if !strings.Contains(out, "Sampled 251 keys in the keyspace!") || !strings.Contains(out, "251 strings with 251 bytes") {
			t.Fatalf("redis-cli --bigkeys does not report 251 string keys:\n%s", out)
		}
	})
}
