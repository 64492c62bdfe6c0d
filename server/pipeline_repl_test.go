package server

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReplicatedPipelineOrder sends one pipeline of writes and reads,
// some on keys the writes name (they must wait for them) and some not
// (they may be answered ahead, their replies held back), to a Raft
// node: every reply must be the one Redis gives, in order.
func TestReplicatedPipelineOrder(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	steps := []struct{ cmd, want string }{
		{"SET other o", "+OK"},
		{"SET a 1", "+OK"},
		{"GET a", "$1\r\n1"},
		{"SET a 2", "+OK"},
		{"GET other", "$1\r\no"},
		{"GET a", "$1\r\n2"},
		{"GET b", "$-1"},
		{"HSET h f v", ":1"},
		{"HGETALL other", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"HGETALL h", "*2\r\n$1\r\nf\r\n$1\r\nv"},
		{"INCR n", ":1"},
		{"INCR n", ":2"},
		{"GET n", "$1\r\n2"},
		{"EXISTS a b other", ":2"},
		{"SET hx x", "+OK"},
		{"HEXPIRE hx 10 FIELDS 2 a", "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"FLUSHALL", "+OK"},
		{"GET other", "$-1"},
		{"SET a 3", "+OK"},
		{"PING", "+PONG"},
		{"GET a", "$1\r\n3"},
	}
	var ps []pipeStep
	for _, s := range steps {
		ps = append(ps, pipeStep{strings.Fields(s.cmd), s.want})
	}
	pipelineRounds(t, tc.leader().addr, 20, ps)
}

// pipeStep is a command of a pipeline and its expected reply (without
// the final CRLF).
type pipeStep struct {
	args []string
	want string
}

// pipelineRounds sends steps rounds times to the server at addr, over
// one connection in one write, and checks every reply, in order.
func pipelineRounds(t *testing.T, addr string, rounds int, steps []pipeStep) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var req, want strings.Builder
	for range rounds {
		for _, s := range steps {
			req.WriteString("*" + strconv.Itoa(len(s.args)) + "\r\n")
			for _, a := range s.args {
				req.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
			}
			want.WriteString(s.want + "\r\n")
		}
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(bufio.NewReader(nc), got); err != nil {
		t.Fatalf("reading replies: %v (got %q)", err, got)
	}
	if string(got) != want.String() {
		g, w := strings.Split(string(got), "\r\n"), strings.Split(want.String(), "\r\n")
		for i := range w {
			if i >= len(g) || g[i] != w[i] {
				t.Fatalf("reply line %d: got %q, want %q", i, g[min(i, len(g)-1)], w[i])
			}
		}
	}
}

// TestPipelinedReadOpsOfWriteCommandsKeepOrder: a write command whose op
// is a read (GETEX, LSET or ZUNIONSTORE with an argument error Redis
// reports only once it finds the key; EVAL of a no-writes script) sent
// behind writes still in flight is answered after them and sees them.
// Its reply overtook theirs (found by the pipelined random differential
// test).
func TestPipelinedReadOpsOfWriteCommandsKeepOrder(t *testing.T) {
	tc := startCluster(t, 1, Config{}, nil)
	const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value"
	steps := []pipeStep{
		{[]string{"SET", "b", "x"}, "+OK"},
		{[]string{"LPUSH", "b", "2"}, wrongType},
		{[]string{"GETEX", "missing", "PX", "-1"}, "$-1"},
		{[]string{"LPUSH", "b", "2"}, wrongType},
		{[]string{"LSET", "missing", "abc", "v"}, "-ERR no such key"},
		{[]string{"LPUSH", "b", "2"}, wrongType},
		{[]string{"ZUNIONSTORE", "d", "1", "missing", "WEIGHTS", "x"}, "-ERR weight value is not a float"},
		{[]string{"SET", "k", "v1"}, "+OK"},
		{[]string{"EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", "1", "k"}, "$2\r\nv1"},
		{[]string{"SET", "k", "v2"}, "+OK"},
		{[]string{"EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", "1", "k"}, "$2\r\nv2"},
	}
	pipelineRounds(t, tc.leader().addr, 20, steps)
}
