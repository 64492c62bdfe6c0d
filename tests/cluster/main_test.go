package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/internal/proctest"
)

// serverBin is the sessiond binary under test. TestMain sets it once,
// before any test runs; tests only read it.
var serverBin string

// TestMain builds cmd/sessiond into a temporary directory (with the race
// detector when CLUSTER_RACE=1) unless -short skips every test here.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	// go-redis logs every failed dial of its pool; the tests kill nodes on
	// purpose and count the failures themselves.
	redis.SetLogger(quietLogger{})
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "sessiond-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if serverBin, err = proctest.BuildSessiond(ctx, dir, os.Getenv("CLUSTER_RACE") == "1"); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	return m.Run()
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// run is one incarnation of a node's process.
type run struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // exit status; valid once done is closed
}

// alive reports whether the process has not exited yet.
func (r *run) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// node is one sessiond node: fixed ports, flags and data directory, and
// the process currently running it (nil before the first start). Only
// the test goroutine uses a node's fields.
type node struct {
	id       string
	port     int
	raftPort int
	dir      string
	args     []string         // the full command line after the binary
	log      *proctest.Output // stdout and stderr of every incarnation
	cur      *run
	starts   int
}

func (n *node) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// running reports whether the node's current process is alive.
func (n *node) running() bool { return n.cur != nil && n.cur.alive() }

// launch starts a new process for n without waiting for it to be ready.
func (n *node) launch(t testing.TB) {
	t.Helper()
	if n.running() {
		t.Fatalf("%s: launch while running", n.id)
	}
	n.starts++
	fmt.Fprintf(n.log, "=== start #%d of %s\n", n.starts, n.id)
	r := &run{cmd: exec.Command(serverBin, n.args...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = n.log, n.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", serverBin, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	n.cur = r
}

// kill sends SIGKILL to the node's process and waits for it to exit.
func (n *node) kill() {
	if n.cur == nil {
		return
	}
	n.cur.cmd.Process.Kill()
	<-n.cur.done
}

// waitPing polls the node with PING until it answers, its process exits
// or timeout passes, and reports whether it answered.
func (n *node) waitPing(timeout time.Duration) bool {
	c := newClient(n.addr(), time.Second)
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !n.running() {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		select {
		case <-n.cur.done:
			return false
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
	return false
}

// freePorts returns k distinct ports that were free on 127.0.0.1 a
// moment ago.
func freePorts(t testing.TB, k int) []int {
	t.Helper()
	ports, err := proctest.FreePorts(k)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// inUse reports whether a node's log says it could not bind a port.
func inUse(log string) bool {
	return strings.Contains(strings.ToLower(log), "address already in use")
}

// startNodes starts len(ids) nodes on free ports, each with a data
// directory under base; peers says whether they form one Raft group
// (--peers) or each runs alone. extra is appended to every command line.
// It retries with other ports when one was taken meanwhile. Every
// process is killed when the test ends, and on failure the nodes' logs
// are printed.
func startNodes(t testing.TB, ids []string, peers bool, extra ...string) []*node {
	t.Helper()
	base := t.TempDir()
	var last string
	for attempt := range 4 {
		ports := freePorts(t, 2*len(ids))
		nodes := make([]*node, len(ids))
		var peerList []string
		for i, id := range ids {
			nodes[i] = &node{id: id, port: ports[2*i], raftPort: ports[2*i+1],
				dir: filepath.Join(base, fmt.Sprintf("%s-%d", id, attempt)), log: &proctest.Output{}}
			peerList = append(peerList, fmt.Sprintf("%s=127.0.0.1:%d", id, nodes[i].raftPort))
		}
		for _, n := range nodes {
			n.args = []string{"--node-id", n.id, "--bind", "127.0.0.1", "--port", strconv.Itoa(n.port),
				"--raft-port", strconv.Itoa(n.raftPort), "--dir", n.dir}
			if peers {
				n.args = append(n.args, "--peers", strings.Join(peerList, ","))
			}
			n.args = append(n.args, extra...)
			n.launch(t)
		}
		ok := true
		for _, n := range nodes {
			if !n.waitPing(30 * time.Second) {
				ok = false
			}
		}
		if ok {
			t.Cleanup(func() {
				for _, n := range nodes {
					n.kill()
					// A panic, or a data race in a CLUSTER_RACE=1 build, is
					// a bug even if every check passed.
					log := n.log.String()
					for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
						if i := strings.Index(log, bad); i >= 0 {
							t.Errorf("%s's log has %q:\n%s", n.id, bad, tail(log[i:], 4000))
						}
					}
				}
				if t.Failed() {
					for _, n := range nodes {
						t.Logf("--- log of %s (last 6000 bytes):\n%s", n.id, tail(n.log.String(), 6000))
					}
				}
			})
			return nodes
		}
		collided := false
		last = ""
		for _, n := range nodes {
			n.kill()
			if inUse(n.log.String()) {
				collided = true
			}
			last += fmt.Sprintf("--- %s:\n%s\n", n.id, tail(n.log.String(), 4000))
		}
		if !collided {
			break
		}
	}
	t.Fatalf("nodes did not start; logs:\n%s", last)
	return nil
}

// restart starts n again on its ports, flags and data directory and
// waits until it answers PING, retrying a few times if its port was
// taken meanwhile.
func restart(t testing.TB, n *node) {
	t.Helper()
	for range 5 {
		before := len(n.log.String())
		n.launch(t)
		if n.waitPing(30 * time.Second) {
			return
		}
		n.kill()
		if !inUse(n.log.String()[before:]) {
			break
		}
	}
	t.Fatalf("%s did not restart; log:\n%s", n.id, tail(n.log.String(), 6000))
}

func tail(s string, k int) string {
	if len(s) > k {
		return "..." + s[len(s)-k:]
	}
	return s
}

// newClient returns a go-redis client for addr that never retries (so an
// OK reply means exactly one attempt was acknowledged) and gives up on a
// reply after readTimeout.
func newClient(addr string, readTimeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		MaxRetries:      -1,
		PoolSize:        1,
		DialTimeout:     time.Second,
		ReadTimeout:     readTimeout,
		WriteTimeout:    2 * time.Second,
		DisableIdentity: true,
	})
}

// info returns the fields of an INFO section as a map.
func info(ctx context.Context, c *redis.Client, section string) (map[string]string, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	return m, nil
}

// raftInfo is the part of INFO raft the tests use.
type raftInfo struct {
	state   string
	leader  string
	term    uint64
	applied uint64
}

func getRaftInfo(ctx context.Context, addr string) (raftInfo, error) {
	c := newClient(addr, 2*time.Second)
	defer c.Close()
	m, err := info(ctx, c, "raft")
	if err != nil {
		return raftInfo{}, err
	}
	var ri raftInfo
	ri.state, ri.leader = m["raft_state"], m["raft_leader_id"]
	if ri.term, err = strconv.ParseUint(m["raft_term"], 10, 64); err != nil {
		return raftInfo{}, fmt.Errorf("raft_term %q: %w", m["raft_term"], err)
	}
	if ri.applied, err = strconv.ParseUint(m["raft_applied_index"], 10, 64); err != nil {
		return raftInfo{}, fmt.Errorf("raft_applied_index %q: %w", m["raft_applied_index"], err)
	}
	return ri, nil
}

// role returns the first element of ROLE's reply ("master" or "slave").
func role(ctx context.Context, addr string) (string, error) {
	c := newClient(addr, 2*time.Second)
	defer c.Close()
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", err
	}
	if len(v) == 0 {
		return "", errors.New("empty ROLE reply")
	}
	s, _ := v[0].(string)
	return s, nil
}

// digest returns the node's DEBUG DIGEST.
func digest(ctx context.Context, addr string) (string, error) {
	c := newClient(addr, 5*time.Second)
	defer c.Close()
	return c.Do(ctx, "DEBUG", "DIGEST").Text()
}
