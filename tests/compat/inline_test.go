package compat

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestInlineCommands types commands the way telnet and nc users do: the
// inline protocol, with quoting, extra spaces, bare LF line ends and empty
// lines, several commands in one write.
func TestInlineCommands(t *testing.T) {
	n := startNode(t)
	steps := []struct {
		send string
		want string // a regexp for the whole reply
	}{
		{"PING\r\n", `\+PONG\r\n`},
		{"SET sess:i \"a b\"\r\n", `\+OK\r\n`},
		{"GET sess:i\r\n", `\$3\r\na b\r\n`},
		{"HSET sess:h user u1 csrf t9\n", `:2\r\n`},
		{"EXPIRE sess:i 1800\r\n", `:1\r\n`},
		{"TTL sess:i\r\n", `:(1800|17[4-9]\d)\r\n`},
		{"GET   sess:none  \r\n", `\$-1\r\n`},
		{"\r\n", ``},
		{"SET sess:q 'x\\ny'\r\n", `\+OK\r\n`},
		{"STRLEN sess:q\r\n", `:4\r\n`},
		{"SET sess:dq \"x\\ny\\x41\"\r\n", `\+OK\r\n`},
		{"GET sess:dq\r\n", `\$4\r\nx\nyA\r\n`},
		{"HGET sess:h csrf\r\n", `\$2\r\nt9\r\n`},
		{"SET sess:bad \"unbalanced\r\n", `-ERR Protocol error: unbalanced quotes in request\r\n`},
	}
	var send strings.Builder
	var want strings.Builder
	for _, s := range steps {
		send.WriteString(s.send)
		want.WriteString(s.want)
	}
	nc, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write([]byte(send.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	// A protocol error closes the connection, so everything up to EOF is
	// the reply.
	got, err := io.ReadAll(bufio.NewReader(nc))
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if !regexp.MustCompile(`\A` + want.String() + `\z`).Match(got) {
		t.Fatalf("inline commands:\nsent %q\ngot  %q\nwant %q", send.String(), got, want.String())
	}
}
