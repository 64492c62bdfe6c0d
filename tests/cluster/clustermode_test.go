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

	"github.com/redis/go-redis/v9"
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

	waitClusterNodes(t, nodes)

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

// waitClusterNodes waits until every node's CLUSTER NODES lists all of
// nodes, one of them serving every slot (followers' addresses reach the
// others through the log).
func waitClusterNodes(t *testing.T, nodes []*node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		c := newClient(n.addr(), 5*time.Second)
		for {
			out, err := c.ClusterNodes(context.Background()).Result()
			if err == nil && strings.Count(out, " connected") == len(nodes) && strings.Contains(out, "0-16383") {
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

// TestClusterModeKillLeader drives a go-redis ClusterClient against three
// real nodes in cluster mode: 100,000 keys over all slots, then kill -9 of
// the leader (the master of every slot). The client must find the new
// master by itself (CLUSTER SLOTS, MOVED); every acknowledged key must be
// readable; the restarted node must catch up to the same digest. It logs
// how long writes were unavailable.
func TestClusterModeKillLeader(t *testing.T) {
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true, "--cluster-enabled", "yes")
	leader := findLeader(t, nodes, 30*time.Second)
	waitClusterNodes(t, nodes)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	// go-redis sends a slot's writes to the master its last CLUSTER SLOTS
	// named until it reloads them (on MOVED, or every
	// ClusterStateReloadInterval, 60 s by default): a dead master is
	// noticed at the next reload. README recommends about a second.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second, MaxRedirects: 8,
		ClusterStateReloadInterval: time.Second})
	defer cc.Close()
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("sess:%d", i) }
	var acked []int
	write := func(from, to int) {
		for b := from; b < to; b += 200 {
			cmds, _ := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := b; i < min(b+200, to); i++ {
					p.Set(ctx, key(i), i, 0)
				}
				return nil
			})
			for j, c := range cmds {
				if c.Err() == nil {
					acked = append(acked, b+j)
				}
			}
		}
	}
	const before = 100000
	write(0, before)
	if len(acked) != before {
		t.Fatalf("%d of %d writes acknowledged before any failure", len(acked), before)
	}

	leader.kill()
	killed := time.Now()
	next := before
	for {
		err := cc.Set(ctx, key(next), next, 0).Err()
		if err == nil {
			acked = append(acked, next)
			next++
			break
		}
		next++
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no write acknowledged within 30s of killing the leader: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // retry interval while the survivors elect
	}
	t.Logf("writes unavailable for %v after kill -9 of the leader %s", time.Since(killed).Round(time.Millisecond), leader.id)
	write(next, next+5000)

	missing := 0
	for b := 0; b < len(acked); b += 500 {
		batch := acked[b:min(b+500, len(acked))]
		cmds, _ := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range batch {
				p.Get(ctx, key(i))
			}
			return nil
		})
		for j, c := range cmds {
			if v, err := c.(*redis.StringCmd).Int(); err != nil || v != batch[j] {
				missing++
				if missing <= 5 {
					t.Errorf("acknowledged %s: got %d, %v", key(batch[j]), v, err)
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acked))
	}
	restart(t, leader)
	waitDigestsEqual(t, nodes, 60*time.Second)
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
