package cluster

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPartialJoinLeave runs four real nodes in cluster mode (four shard
// groups of three replicas), then starts a fifth with --join, killed with
// kill -9 while it takes its first replica and restarted: it takes its
// share of the replicas (two groups), redis-cli --cluster check accepts
// the five-node cluster, and it keeps them across kill -9 and restart.
// SESSIOND-LEAVE then moves another node's replicas away before that
// node is stopped. A ClusterClient's acknowledged writes, before and
// between the changes, must all read back.
func TestPartialJoinLeave(t *testing.T) {
	nodes := startNodes(t, []string{"n1", "n2", "n3", "n4"}, true, "--cluster-enabled", "yes")
	ctx := context.Background()
	held := func(n *node) string {
		c := newClient(n.addr(), 5*time.Second)
		defer c.Close()
		m, err := info(ctx, c, "raft")
		if err != nil {
			return err.Error()
		}
		return m["raft_groups_held"]
	}
	waitHeld := func(n *node, want string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for got := held(n); got != want; got = held(n) {
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %s groups, want %s", n.id, got, want)
			}
			time.Sleep(100 * time.Millisecond) // polling for the moves, bounded
		}
	}
	var extra []*node
	check := func(from *node) {
		t.Helper()
		if _, err := exec.LookPath("redis-cli"); err != nil {
			t.Logf("SKIP part: redis-cli is not installed (make deps installs it): %v", err)
			return
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, _ := exec.CommandContext(ctx, "redis-cli", "--cluster", "check", from.addr()).CombinedOutput()
			ok := strings.Contains(string(out), "[OK] All nodes agree about slots configuration.") &&
				strings.Contains(string(out), "[OK] All 16384 slots covered.")
			if ok {
				return
			}
			if time.Now().After(deadline) {
				for _, n := range append(nodes, extra...) {
					if !n.running() {
						continue
					}
					cn, _ := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(n.port), "cluster", "nodes").CombinedOutput()
					ri, _ := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(n.port), "info", "raft").CombinedOutput()
					t.Logf("%s CLUSTER NODES:\n%s\nINFO raft:\n%s", n.id, cn, ri)
				}
				t.Fatalf("redis-cli --cluster check never passed:\n%s", out)
			}
			time.Sleep(200 * time.Millisecond) // polling for the views to agree, bounded
		}
	}
	for _, n := range nodes {
		waitHeld(n, "3")
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr())
	}
	cc := newClusterClient(addrs)
	defer cc.Close()
	w := &clusterWrites{cc: cc}
	writeEach(ctx, w, 0, 3000)

	n5 := startNodes(t, []string{"n5"}, false, "--join", nodes[1].addr(), "--cluster-enabled", "yes")[0]
	extra = append(extra, n5)
	// kill -9 the new node while it takes its first replica; restarted
	// with the same flags, it carries on with its join.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(n5.log.String(), "moves: taking a replica") {
		if time.Now().After(deadline) {
			t.Fatalf("n5 never started taking a replica; log:\n%s", tail(n5.log.String(), 4000))
		}
		time.Sleep(10 * time.Millisecond) // polling the log, bounded
	}
	n5.kill()
	restart(t, n5)
	waitHeld(n5, "2")
	check(n5)
	writeEach(ctx, w, 3000, 4000)
	verifyEach(ctx, t, w)

	n5.kill()
	restart(t, n5)
	waitHeld(n5, "2")
	check(nodes[0])

	c0 := newClient(nodes[0].addr(), 3*time.Minute)
	defer c0.Close()
	if err := c0.Do(ctx, "SESSIOND-LEAVE", "n2").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n2: %v", err)
	}
	waitHeld(nodes[1], "0")
	// The drained node, still up, holds nothing: it shows itself as a
	// master of no slots (redis-cli --cluster check needs a myself line)
	// and cannot forget itself.
	c1 := newClient(nodes[1].addr(), 5*time.Second)
	defer c1.Close()
	cn, err := c1.ClusterNodes(ctx).Result()
	if err != nil || !strings.Contains(cn, "myself,master") {
		t.Fatalf("CLUSTER NODES of the drained node: %v\n%s", err, cn)
	}
	myID := ""
	for _, line := range strings.Split(cn, "\n") {
		if strings.Contains(line, "myself") {
			myID = strings.Fields(line)[0]
		}
	}
	if err := c1.Do(ctx, "CLUSTER", "FORGET", myID).Err(); err == nil || !strings.Contains(err.Error(), "can't forget myself") {
		t.Fatalf("CLUSTER FORGET of itself: %v", err)
	}
	if _, err := exec.LookPath("redis-cli"); err == nil {
		if out, err := exec.CommandContext(ctx, "redis-cli", "--cluster", "check", nodes[1].addr()).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "[ERR]") {
			t.Fatalf("redis-cli --cluster check against the drained node: %v\n%s", err, out)
		}
	}
	nodes[1].kill()
	check(nodes[0])
	writeEach(ctx, w, 4000, 5000)
	verifyEach(ctx, t, w)
	if len(w.acked) < 4500 {
		t.Fatalf("only %d of 5000 writes acknowledged", len(w.acked))
	}
	total := 0
	for _, n := range []*node{nodes[0], nodes[2], nodes[3], n5} {
		v := held(n)
		total += int(v[0] - '0')
		t.Logf("%s holds %s groups", n.id, v)
	}
	if total != 12 {
		t.Fatalf("the four remaining nodes hold %d replicas, want 12 (four groups of three)", total)
	}
}

// writeEach is clusterWrites.write one command at a time: go-redis's
// ClusterClient pipelines race on their own commands (the race detector
// reports two node goroutines writing one command) when redirections
// overlap, as they do while leaderships move.
func writeEach(ctx context.Context, w *clusterWrites, from, to int) {
	for i := from; i < to; i++ {
		if w.cc.Set(ctx, clusterKey(i), i, 0).Err() == nil {
			w.acked = append(w.acked, i)
		}
	}
}

// verifyEach is clusterWrites.verify one command at a time.
func verifyEach(ctx context.Context, t *testing.T, w *clusterWrites) {
	t.Helper()
	missing := 0
	for _, i := range w.acked {
		if v, err := w.cc.Get(ctx, clusterKey(i)).Int(); err != nil || v != i {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged %s: got %d, %v", clusterKey(i), v, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(w.acked))
	}
}
