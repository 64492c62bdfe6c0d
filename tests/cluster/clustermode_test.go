package cluster

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClusterModeTools runs Redis's own cluster tools, unmodified, against
// three real nodes started with --cluster-enabled yes: redis-cli --cluster
// check (which parses CLUSTER NODES and INFO of every node) and redis-cli
// -c (which follows -MOVED from a replica). redis-benchmark --cluster
// needs at least two masters, so it waits for slots over several groups.
func TestClusterModeTools(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skipf("SKIP: redis-cli is not installed (make deps installs it): %v", err)
	}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--cluster-enabled", "yes")
	leader := findLeader(t, nodes, 30*time.Second)
	var follower *node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	port := func(n *node) string { return strconv.Itoa(n.port) }

	// Every node must list all three (followers' addresses reach the
	// others through the log) before check can pass.
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			out := run("redis-cli", "-p", port(n), "cluster", "nodes")
			if strings.Count(out, " connected") == 3 && strings.Contains(out, "0-16383") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: CLUSTER NODES never listed 3 nodes:\n%s", n.id, out)
			}
			time.Sleep(50 * time.Millisecond) // polling for the node entries, bounded
		}
	}

	for _, n := range []*node{leader, follower} {
		out := run("redis-cli", "--cluster", "check", n.addr())
		for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
			if !strings.Contains(out, want) {
				t.Fatalf("redis-cli --cluster check %s: no %q in:\n%s", n.addr(), want, out)
			}
		}
	}

	if out := run("redis-cli", "-c", "-p", port(follower), "set", "sess:{42}", "v1"); strings.TrimSpace(out) != "OK" {
		t.Fatalf("redis-cli -c SET through a replica: %q", out)
	}
	if out := run("redis-cli", "-c", "-p", port(follower), "get", "sess:{42}"); strings.TrimSpace(out) != "v1" {
		t.Fatalf("redis-cli -c GET through a replica: %q", out)
	}
}
