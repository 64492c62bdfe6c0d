package diff

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"sessiond/server"
)

// TestDifferentialCluster runs testdata/cluster/*.redis against a one-node
// Redis Cluster that holds all 16384 slots and a one-node sessiond started
// with cluster-enabled yes: the replies cluster clients parse (KEYSLOT,
// COUNTKEYSINSLOT, GETKEYSINSLOT, CROSSSLOT, the transaction rules, the
// errors) must match byte for byte. Replies that name nodes (MOVED,
// CLUSTER NODES, SLOTS) differ by design and are tested in server and
// tests/cluster.
func TestDifferentialCluster(t *testing.T) {
	files, err := filepath.Glob("testdata/cluster/*.redis")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata/cluster: %v", err)
	}
	sort.Strings(files)
	redisAddr := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if err := assignAllSlots(redisAddr); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	sessiondAddr := startSessiondNode(t, server.Config{ClusterEnabled: "yes"})
	for _, f := range files {
		sc, err := parseScript(f, filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		for _, proto := range sc.protos {
			t.Run(fmt.Sprintf("%s/RESP%d", sc.name, proto), func(t *testing.T) {
				runScript(t, sc, proto, redisAddr, sessiondAddr)
			})
		}
	}
}

// assignAllSlots gives a lone Redis Cluster node every slot and waits
// until it reports cluster_state:ok.
func assignAllSlots(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	do := func(args ...string) (string, error) {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := nc.Write([]byte(b.String())); err != nil {
			return "", err
		}
		r, err := readReply(br)
		if err != nil {
			return "", err
		}
		return string(r.raw()), nil
	}
	if r, err := do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil || r != "+OK\r\n" {
		return fmt.Errorf("CLUSTER ADDSLOTSRANGE: %q %v", r, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if strings.Contains(r, "cluster_state:ok") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster_state not ok: %q", r)
		}
		time.Sleep(20 * time.Millisecond) // polling the cluster state, bounded
	}
}

// startSessiondNode serves an in-process one-node sessiond (with its Raft
// group) on a loopback port until the test ends and returns its address.
func startSessiondNode(t *testing.T, cfg server.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sessiond: listen: %v", err)
	}
	cfg.Dir = t.TempDir()
	cfg.Bind = "127.0.0.1"
	cfg.RaftPort = freePort(t)
	n, err := server.OpenNode(cfg, ln, server.NodeOptions{})
	if err != nil {
		ln.Close()
		t.Fatalf("sessiond: OpenNode: %v", err)
	}
	n.WaitSingleLeader(10 * time.Second)
	done := make(chan error, 1)
	go func() { done <- n.Server.Serve(ln) }()
	t.Cleanup(func() {
		n.Server.Close()
		n.Group.Close()
		if err := <-done; err != nil {
			t.Errorf("sessiond: Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
