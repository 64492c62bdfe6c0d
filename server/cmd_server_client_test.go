package server

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientLineRE matches one CLIENT LIST / CLIENT INFO line in Redis 7.4's
// format; the groups are id, name, age, idle, flags, multi, cmd, resp,
// lib-name and lib-ver.
var clientLineRE = regexp.MustCompile(`^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=(\S*) ` +
	`age=(\d+) idle=(\d+) flags=(\S+) db=0 sub=0 psub=0 ssub=0 multi=(-?\d+) watch=\d+ qbuf=0 qbuf-free=0 ` +
	`argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=(\S+) user=default ` +
	`redir=-1 resp=([23]) lib-name=(\S*) lib-ver=(\S*)$`)

// clientLines parses a CLIENT LIST reply body into lines of fields.
func clientLines(t *testing.T, body string) [][]string {
	t.Helper()
	if body == "" {
		return nil
	}
	if !strings.HasSuffix(body, "\n") {
		t.Fatalf("CLIENT LIST must end with a newline: %q", body)
	}
	var out [][]string
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		m := clientLineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("bad CLIENT LIST line %q", l)
		}
		out = append(out, m[1:])
	}
	return out
}

// bulkBody strips a bulk string's RESP framing.
func bulkBody(t *testing.T, reply string) string {
	t.Helper()
	hdr, rest, ok := strings.Cut(reply, "\r\n")
	if !ok || hdr[0] != '$' || !strings.HasSuffix(rest, "\r\n") {
		t.Fatalf("not a bulk string: %q", reply)
	}
	body := strings.TrimSuffix(rest, "\r\n")
	if n, _ := strconv.Atoi(hdr[1:]); n != len(body) {
		t.Fatalf("bulk length %d for %d bytes", n, len(body))
	}
	return body
}

func TestClientSimple(t *testing.T) {
	ts := startServer(t, Config{})
	rc := ts.resp(t)
	id := rc.do("CLIENT", "ID")
	if !regexp.MustCompile(`^:\d+\r\n$`).MatchString(id) {
		t.Fatalf("CLIENT ID: %q", id)
	}
	if other := ts.resp(t).do("CLIENT", "ID"); other == id {
		t.Errorf("two connections share ID %q", id)
	}
	bad := respError("ERR Client names cannot contain spaces, newlines or special characters.")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"CLIENT", "GETNAME"}, "$-1\r\n"},
		{[]string{"CLIENT", "SETNAME", "a b"}, bad},
		{[]string{"CLIENT", "SETNAME", "a\nb"}, bad},
		{[]string{"CLIENT", "SETNAME", "caf\xc3\xa9"}, bad},
		{[]string{"CLIENT", "SETNAME", "sess-42:{x}"}, "+OK\r\n"},
		{[]string{"CLIENT", "GETNAME"}, respBulk("sess-42:{x}")},
		{[]string{"CLIENT", "SETNAME", ""}, "+OK\r\n"},
		{[]string{"CLIENT", "GETNAME"}, "$-1\r\n"},
		{[]string{"CLIENT", "GETNAME", "x"}, respError("ERR wrong number of arguments for 'client|getname' command")},
		{[]string{"CLIENT", "SETNAME"}, respError("ERR wrong number of arguments for 'client|setname' command")},
		{[]string{"CLIENT", "SETINFO", "lib-name", "a b"}, respError("ERR lib-name cannot contain spaces, newlines or special characters.")},
		{[]string{"CLIENT", "SETINFO", "LIB-X", "1"}, respError("ERR Unrecognized option 'LIB-X'")},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "mylib"}, "+OK\r\n"},
		{[]string{"CLIENT", "SETINFO", "lib-ver", "1.0"}, "+OK\r\n"},
		{[]string{"CLIENT", "NO-EVICT", "maybe"}, respError("ERR syntax error")},
		{[]string{"CLIENT", "NO-EVICT", "ON"}, "+OK\r\n"},
		{[]string{"CLIENT", "LIST", "TYPE", "bogus"}, respError("ERR Unknown client type 'bogus'")},
		{[]string{"CLIENT", "LIST", "TYPE", "pubsub"}, "$0\r\n\r\n"},
		{[]string{"CLIENT", "LIST", "ID", "1", "abc"}, respError("ERR Invalid client ID")},
		{[]string{"CLIENT", "LIST", "ID"}, respError("ERR syntax error")},
		{[]string{"CLIENT", "LIST", "foo"}, respError("ERR syntax error")},
		{[]string{"CLIENT", "LIST", "ID", "999999"}, "$0\r\n\r\n"},
		{[]string{"CLIENT", "KILL", "1.2.3.4:5"}, respError("ERR No such client")},
		{[]string{"CLIENT", "KILL", "ID", "999999"}, ":0\r\n"},
		{[]string{"CLIENT", "KILL", "ID", "0"}, respError("ERR client-id should be greater than 0")},
		{[]string{"CLIENT", "KILL", "TYPE", "bogus"}, respError("ERR Unknown client type 'bogus'")},
		{[]string{"CLIENT", "KILL", "USER", "alice"}, respError("ERR No such user 'alice'")},
		{[]string{"CLIENT", "KILL", "foo", "bar"}, respError("ERR syntax error")},
		{[]string{"CLIENT", "KILL", "ID", "1", "SKIPME"}, respError("ERR syntax error")},
		{[]string{"CLIENT", "KILL"}, respError("ERR wrong number of arguments for 'client|kill' command")},
		{[]string{"CLIENT", "foo"}, respError("ERR unknown subcommand 'foo'. Try CLIENT HELP.")},
		{[]string{"CLIENT"}, respError("ERR wrong number of arguments for 'client' command")},
		{[]string{"HELLO", "3", "SETNAME", "a b"}, bad},
	}
	for _, tt := range tests {
		if got := rc.do(tt.args...); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
	info := clientLines(t, bulkBody(t, rc.do("CLIENT", "INFO")))
	want := []string{strings.Trim(id, ":\r\n"), "", "0", "0", "e", "-1", "client|info", "2", "mylib", "1.0"}
	if len(info) != 1 || strings.Join(info[0], " ") != strings.Join(want, " ") {
		t.Errorf("CLIENT INFO fields %q, want %q", info, want)
	}
	if help := rc.do("CLIENT", "HELP"); !strings.HasPrefix(help, "*") || !strings.Contains(help, "+SETINFO <option> <value>\r\n") {
		t.Errorf("CLIENT HELP: %q", help)
	}
}

func TestClientList(t *testing.T) {
	ts := startServer(t, Config{})
	a, b := ts.resp(t), ts.resp(t)
	idA, idB := strings.Trim(a.do("CLIENT", "ID"), ":\r\n"), strings.Trim(b.do("CLIENT", "ID"), ":\r\n")
	b.do("CLIENT", "SETNAME", "bee")
	b.do("HELLO", "3")
	ts.clock.Advance(5 * time.Second)
	a.do("PING")

	lines := clientLines(t, bulkBody(t, a.do("CLIENT", "LIST")))
	if len(lines) != 2 || lines[0][0] != idA || lines[1][0] != idB {
		t.Fatalf("CLIENT LIST ids: %q", lines)
	}
	// a: just ran CLIENT LIST; b: named, RESP3, idle since HELLO.
	if l := lines[0]; l[1] != "" || l[2] != "5" || l[3] != "0" || l[6] != "client|list" || l[7] != "2" {
		t.Errorf("own line: %q", l)
	}
	if l := lines[1]; l[1] != "bee" || l[2] != "5" || l[3] != "5" || l[6] != "hello" || l[7] != "3" {
		t.Errorf("other line: %q", l)
	}
	for _, args := range [][]string{{"CLIENT", "LIST", "ID", idB}, {"client", "list", "id", "99999", idB}} {
		lines = clientLines(t, bulkBody(t, a.do(args...)))
		if len(lines) != 1 || lines[0][0] != idB {
			t.Errorf("%q: %q", args, lines)
		}
	}
	lines = clientLines(t, bulkBody(t, a.do("CLIENT", "LIST", "TYPE", "NORMAL")))
	if len(lines) != 2 {
		t.Errorf("TYPE normal: %q", lines)
	}
	// RESP3: a verbatim string.
	if got := b.do("CLIENT", "INFO"); !strings.HasPrefix(got, "=") || !strings.Contains(got, "\r\ntxt:id="+idB+" ") {
		t.Errorf("RESP3 CLIENT INFO: %q", got)
	}

	// go-redis announces itself with CLIENT SETINFO.
	c := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: 2, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`lib-name=go-redis\S* lib-ver=\d+\.\d+\.\d+`).MatchString(list) {
		t.Errorf("go-redis lib-name not shown: %q", list)
	}
}

func TestClientKill(t *testing.T) {
	ts := startServer(t, Config{})
	a, b, c := ts.resp(t), ts.resp(t), ts.resp(t)
	idB := strings.Trim(b.do("CLIENT", "ID"), ":\r\n")
	if got := a.do("CLIENT", "KILL", "ID", idB); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID: %q", got)
	}
	expectClosed(t, b)

	// Old form by address, including the caller itself.
	info := bulkBody(t, c.do("CLIENT", "INFO"))
	addr := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(info)[1]
	if got := a.do("CLIENT", "KILL", addr); got != "+OK\r\n" {
		t.Fatalf("CLIENT KILL addr: %q", got)
	}
	expectClosed(t, c)

	// SKIPME yes (the default) spares the caller; SKIPME no does not, and
	// the caller still gets its reply.
	if got := a.do("CLIENT", "KILL", "TYPE", "normal"); got != ":0\r\n" {
		t.Fatalf("CLIENT KILL TYPE normal: %q", got)
	}
	if got := a.do("CLIENT", "KILL", "USER", "default", "SKIPME", "no"); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL SKIPME no: %q", got)
	}
	expectClosed(t, a)
}

// expectClosed waits for the server to close rc's connection.
func expectClosed(t *testing.T, rc *respConn) {
	t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Errorf("connection not closed by the server: %v", err)
	}
}
