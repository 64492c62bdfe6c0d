package diff

import (
	"bufio"
	"strings"
	"testing"
)

// The harness's own parts, tested without servers.

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: an error
	}{
		{`SET k v`, []string{"SET", "k", "v"}},
		{`  GET   k  `, []string{"GET", "k"}},
		{`SET k "a b"`, []string{"SET", "k", "a b"}},
		{`SET k ""`, []string{"SET", "k", ""}},
		{`ECHO "\x00\xff\r\n\t\"\\"`, []string{"ECHO", "\x00\xff\r\n\t\"\\"}},
		{`ECHO 'it\'s'`, []string{"ECHO", "it's"}},
		{`ECHO 'no \n escape'`, []string{"ECHO", `no \n escape`}},
		{`ECHO "unbalanced`, nil},
		{`ECHO "a"b`, nil},
		{`ECHO 'a'b`, nil},
	}
	for _, tc := range tests {
		got, err := splitArgs(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("splitArgs(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("splitArgs(%q)[%d] = %q, want %q", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestParseStep(t *testing.T) {
	st, err := parseStep(`@conn2 @approx=3 TTL k`)
	if err != nil || st.conn != 2 || st.approx != 3 || string(st.args[0]) != "TTL" {
		t.Errorf("got %+v, %v", st, err)
	}
	st, err = parseStep(`@raw @replies=2 @eof "PING\r\n" "PING\r\n"`)
	if err != nil || !st.raw || st.replies != 2 || !st.eof || len(st.args) != 2 {
		t.Errorf("got %+v, %v", st, err)
	}
	st, err = parseStep(`HELLO 3`)
	if err != nil || strings.Join(st.mask, ",") != "id,version" {
		t.Errorf("HELLO is not masked by default: %+v, %v", st, err)
	}
	st, err = parseStep(`@until=-2 @unordered=scanpairs HSCAN h 0`)
	if err != nil || st.until == nil || *st.until != "-2" || st.order != "scanpairs" {
		t.Errorf("got %+v, %v", st, err)
	}
	for _, bad := range []string{
		`@nosuch GET k`, `@conn0 GET k`, `@conn10 GET k`, `@replies=2 GET k`,
		`@approx=x TTL k`, `@unordered=sideways KEYS *`, `@scanall GET k`, `@conn2`,
		`@raw @until=1 "PING\r\n"`, `@shape=1 TIME`,
	} {
		if _, err := parseStep(bad); err == nil {
			t.Errorf("parseStep(%q) succeeded; want an error", bad)
		}
	}
}

func parseReply(t *testing.T, s string) *reply {
	t.Helper()
	r, err := readReply(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatalf("readReply(%q): %v", s, err)
	}
	return r
}

func TestReadReplyRoundTrips(t *testing.T) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":-5\r\n", "$-1\r\n", "$0\r\n\r\n", "$3\r\na\r\n\r\n",
		"*-1\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n", "_\r\n", ",1.5\r\n", "#t\r\n",
		"(123\r\n", "%1\r\n$1\r\nk\r\n$1\r\nv\r\n", "~1\r\n+a\r\n", "=8\r\ntxt:abcd\r\n",
		">2\r\n+message\r\n+x\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n",
	} {
		if got := string(parseReply(t, s).raw()); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
	for _, bad := range []string{"?x\r\n", ":x\r\n", "$2\r\nabc\r\n", "+OK\n", "*1\r\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readReply(%q) succeeded; want an error", bad)
		}
	}
}

func TestViews(t *testing.T) {
	a := parseReply(t, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n")
	if got := string(sortReply(a, false).raw()); got != "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n" {
		t.Errorf("sorted elements: %q", got)
	}
	p := parseReply(t, "*4\r\n$1\r\nz\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n")
	if got := string(sortReply(p, true).raw()); got != "*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n1\r\n" {
		t.Errorf("sorted pairs: %q", got)
	}
	m := parseReply(t, "%2\r\n$1\r\nz\r\n:1\r\n$1\r\na\r\n:2\r\n")
	if got := string(sortReply(m, false).raw()); got != "%2\r\n$1\r\na\r\n:2\r\n$1\r\nz\r\n:1\r\n" {
		t.Errorf("sorted map: %q", got)
	}
	n := parseReply(t, "*2\r\n*2\r\n$1\r\nz\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n")
	if got := string(sortReply(n, true).raw()); got != "*2\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n*2\r\n$1\r\nz\r\n$1\r\n1\r\n" {
		t.Errorf("sorted RESP3 pairs: %q", got)
	}
	h := parseReply(t, "%2\r\n$2\r\nid\r\n:7\r\n$5\r\nproto\r\n:3\r\n")
	if got := string(mask(h, []string{"id"}).raw()); got != "%2\r\n$2\r\nid\r\n+<masked>\r\n$5\r\nproto\r\n:3\r\n" {
		t.Errorf("masked: %q", got)
	}
	if got := shape(parseReply(t, "*3\r\n$10\r\n1700000000\r\n$-1\r\n:5\r\n")); got != "*[$ $-1 :]" {
		t.Errorf("shape: %q", got)
	}
	x, y := parseReply(t, "*2\r\n:100\r\n+OK\r\n"), parseReply(t, "*2\r\n:99\r\n+OK\r\n")
	if !approxEqual(x, y, 1) || approxEqual(x, y, 0) || approxEqual(x, parseReply(t, "*2\r\n:100\r\n+KO\r\n"), 5) {
		t.Error("approxEqual compares wrongly")
	}
}
