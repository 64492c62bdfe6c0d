package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessiond/server"
)

// TestClusterModeTools runs Redis's own cluster tools, unmodified, against
// three real nodes started with --cluster-enabled yes (three shard groups,
// one led by each node): redis-cli --cluster check (which parses CLUSTER
// NODES and INFO of every node), redis-cli -c (which follows -MOVED) and
// redis-benchmark --cluster (which needs two masters or more).
func TestClusterModeTools(t *testing.T) {
	for _, tool := range []string{"redis-cli", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s is not installed (make deps installs it): %v", tool, err)
		}
	}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--cluster-enabled", "yes")
	waitClusterNodes(t, nodes)
	// "sess:{42}" is slot 8000, in the second group, which n2 leads once
	// the leaderships are spread: n1 is a replica of it.
	leader, follower := nodes[1], nodes[0]
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
	out := run("redis-benchmark", "--cluster", "-p", port(follower), "-t", "set,get,hset", "-n", "3000", "-c", "10", "-q")
	for _, want := range []string{"Cluster has 3 master nodes", "SET: ", "GET: ", "HSET: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("redis-benchmark --cluster: no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rror") {
		t.Fatalf("redis-benchmark --cluster reported errors:\n%s", out)
	}
}

// waitClusterNodes waits until every node's CLUSTER NODES lists all of
// nodes, each the master of its own group's slots (n1 of 0-5460, n2 of
// 5461-10922, n3 of 10923-16383: the leaderships are spread by node ID),
// and every CLUSTER SLOTS range lists all three nodes (followers' addresses
// reach the others through the log).
func waitClusterNodes(t *testing.T, nodes []*node) {
	t.Helper()
	ranges := []string{"0-5460", "5461-10922", "10923-16383"}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range nodes {
		c := newClient(n.addr(), 5*time.Second)
		for {
			out, err := c.ClusterNodes(context.Background()).Result()
			ok := err == nil && strings.Count(out, " connected") == len(nodes)
			for i, m := range nodes {
				ok = ok && strings.Contains(out, fmt.Sprintf("127.0.0.1:%d@", m.port)) &&
					strings.Contains(lineOf(out, fmt.Sprintf(":%d@", m.port)), "master - ") &&
					strings.HasSuffix(lineOf(out, fmt.Sprintf(":%d@", m.port)), " "+ranges[i])
			}
			if ok {
				slots, serr := c.ClusterSlots(context.Background()).Result()
				ok = serr == nil && len(slots) == 3
				for _, s := range slots {
					ok = ok && len(s.Nodes) == len(nodes)
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("%s: CLUSTER NODES never listed %d nodes: %q %v", n.id, len(nodes), out, err)
			}
			time.Sleep(50 * time.Millisecond) // polling for the node entries, bounded
		}
		c.Close()
	}
}

// TestClusterModeKillNode drives a go-redis ClusterClient against three
// real nodes in cluster mode, three shard groups of three replicas each:
// 100,000 keys over all slots, then kill -9 of n2 (the master of the
// second group's slots). The client must find the group's new master by
// itself (CLUSTER SLOTS, MOVED); every slot must be writable again; every
// acknowledged key must be readable; the restarted node must catch up to
// the same data in every group. It logs, per group, how long writes were
// unavailable (only the dead node's group should see any).
func TestClusterModeKillNode(t *testing.T) {
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--cluster-enabled", "yes")
	waitClusterNodes(t, nodes)
	victim := nodes[1]
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	cc := newClusterClient(addrs)
	defer cc.Close()
	ctx := context.Background()
	w := &clusterWrites{cc: cc}
	const before = 100000
	w.write(ctx, 0, before)
	if len(w.acked) != before {
		t.Fatalf("%d of %d writes acknowledged before any failure", len(w.acked), before)
	}

	victim.kill()
	// One prober per group writes keys of that group's slots until one is
	// acknowledged.
	downFor := probeGroups(ctx, t, cc, 3, time.Now())
	for g, d := range downFor {
		lo, hi := server.SlotRange(g, 3)
		t.Logf("group %d (slots %d-%d): first write acknowledged %v after kill -9 of %s", g, lo, hi,
			d.Round(time.Millisecond), victim.id)
	}
	w.write(ctx, before, before+5000)
	w.verify(ctx, t)
	restart(t, victim)
	waitDigestsEqual(t, nodes, 60*time.Second)
	for g := range 3 {
		var ds []string
		for _, n := range nodes {
			c := newClient(n.addr(), 5*time.Second)
			d, err := c.Do(ctx, "debug", "digest-group", g).Text()
			c.Close()
			if err != nil {
				t.Fatalf("DEBUG DIGEST-GROUP %d on %s: %v", g, n.id, err)
			}
			ds = append(ds, d)
		}
		if ds[0] != ds[1] || ds[0] != ds[2] {
			t.Fatalf("group %d digests differ: %v", g, ds)
		}
	}
	// The restarted node takes its group's leadership back.
	waitClusterNodes(t, nodes)
}

// systemPython is Debian's interpreter, which sees the python3-redis
// package (a pyenv python earlier on PATH does not).
const systemPython = "/usr/bin/python3"

// TestClusterModeRedisPy runs testdata/rediscluster.py, redis-py's
// RedisCluster unmodified (primary and replica reads, hash tags,
// CROSSSLOT), against three real nodes in cluster mode.
func TestClusterModeRedisPy(t *testing.T) {
	if err := exec.Command(systemPython, "-c", "import redis").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import redis (python3-redis): %v", systemPython, err)
		}
		t.Skipf("SKIP: %s cannot import redis (install python3-redis, or run `make deps`): %v", systemPython, err)
	}
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--cluster-enabled", "yes")
	findLeader(t, nodes, 30*time.Second)
	waitClusterNodes(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, systemPython, "testdata/rediscluster.py", strconv.Itoa(nodes[1].port)).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 77 {
		t.Skipf("SKIP: %s", strings.TrimSpace(string(out)))
	}
	if err != nil || !strings.Contains(string(out), "ok: redis-py") {
		t.Fatalf("redis-py RedisCluster: %v\n%s", err, out)
	}
	t.Log(string(out[strings.LastIndex(string(out), "ok: redis-py"):]))
}

// lineOf returns the line of out that contains sub, or "".
func lineOf(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
