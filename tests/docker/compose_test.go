package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	startTimeout    = 60 * time.Second // compose up to a leader
	failoverTimeout = 30 * time.Second // partition to the majority's first acknowledged write
	convergeTimeout = 60 * time.Second // reconnect to every node serving every key
	keysPerPhase    = 50
)

// keys returns n distinct keys with prefix and their values.
func keys(prefix string, n int) map[string]string {
	kv := make(map[string]string, n)
	for i := range n {
		kv[fmt.Sprintf("%s:%d", prefix, i)] = fmt.Sprintf("v-%s-%d", prefix, i)
	}
	return kv
}

// redirect sends one SET to addr and returns its error (a follower in
// cluster mode answers -MOVED).
func redirect(ctx context.Context, addr string) error {
	c := newClient(addr, 3*time.Second)
	defer c.Close()
	return c.Set(ctx, "sess:moved", "x", 0).Err()
}

// TestComposePartition runs docker-compose.yml (three nodes, three shard
// groups of three replicas), cuts the first group's leader off the
// cluster network, and checks that the isolated node acknowledges no
// write for the group it led, that the majority elects a leader for it
// and takes writes for every group, and that after the network is back
// every node serves every acknowledged key.
func TestComposePartition(t *testing.T) {
	requireDocker(t)
	redis.SetLogger(quietLogger{})
	root := repoRoot(t)
	image := buildImage(t, root)
	c := startCluster(t, root, image)
	if err := waitSpread(c.nodes, startTimeout); err != nil {
		t.Fatal(err)
	}

	leader, states := findLeader(c.nodes, startTimeout)
	if leader == nil {
		t.Fatalf("no single leader within %v: %s", startTimeout, states)
	}
	t.Logf("leader %s (%s)", leader.service, states)

	// The announced addresses are the containers' compose-network IPs.
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lc := newClient(leader.clientAddr(), 3*time.Second)
		defer lc.Close()
		slots, err := lc.ClusterSlots(ctx).Result()
		for err == nil && len(slots) != 3 && ctx.Err() == nil {
			<-time.After(100 * time.Millisecond) // poll interval, bounded by ctx
			slots, err = lc.ClusterSlots(ctx).Result()
		}
		if err != nil {
			t.Fatalf("CLUSTER SLOTS: %v", err)
		}
		if len(slots) != 3 || slots[0].Start != 0 || slots[0].End != 5460 || len(slots[0].Nodes) == 0 ||
			slots[0].Nodes[0].Addr != leader.announced() {
			t.Errorf("CLUSTER SLOTS = %+v, want three ranges, 0-5460 served by %s", slots, leader.announced())
		}
		// "sess:moved" is slot 11132, in the third group.
		var master string
		for _, s := range slots {
			if s.Start <= 11132 && 11132 <= s.End && len(s.Nodes) > 0 {
				master = s.Nodes[0].Addr
			}
		}
		for _, n := range c.nodes {
			if n.announced() == master {
				continue
			}
			// A follower may not know the leader for a moment.
			err := redirect(ctx, n.clientAddr())
			for err != nil && strings.HasPrefix(err.Error(), "CLUSTERDOWN") && ctx.Err() == nil {
				<-time.After(100 * time.Millisecond) // poll interval, bounded by ctx
				err = redirect(ctx, n.clientAddr())
			}
			if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") || !strings.HasSuffix(err.Error(), " "+master) {
				t.Errorf("SET on replica %s: %v, want -MOVED to %s", n.service, err, master)
			}
		}
	}()

	acked := keys("before", keysPerPhase)
	if err := writeAll(c.nodes, acked, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	// Partition: the old leader keeps only the test's client network.
	c.partition(leader)
	t.Logf("disconnected %s from %s", leader.service, c.raftNet)
	isolatedWrite := func(key string) {
		t.Helper()
		ic := newClient(leader.clientAddr(), 5*time.Second)
		defer ic.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := ic.Set(ctx, key, "lost", 0).Err() // the key is in the group it led
		if err == nil {
			t.Errorf("isolated %s acknowledged SET %s", leader.service, key)
			return
		}
		t.Logf("isolated %s refused SET %s: %v", leader.service, key, err)
	}
	isolatedWrite("isolated:{b}:early") // {b}: slot 3300, the first group

	var majority []*node
	for _, n := range c.nodes {
		if n != leader {
			majority = append(majority, n)
		}
	}
	start := time.Now()
	newLeader, states := findLeader(majority, failoverTimeout)
	if newLeader == nil {
		t.Fatalf("majority elected no leader within %v: %s", failoverTimeout, states)
	}
	after := keys("after", keysPerPhase)
	if err := writeAll(majority, after, failoverTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("majority leader %s; %d writes acknowledged %v after the partition", newLeader.service, len(after), time.Since(start).Round(time.Millisecond))
	for k, v := range after {
		acked[k] = v
	}
	isolatedWrite("isolated:{b}:late")

	c.heal(leader)
	t.Logf("reconnected %s to %s at %s", leader.service, c.raftNet, leader.raftIP)
	deadline := time.Now().Add(convergeTimeout)
	for {
		ok, why := converged(c.nodes, acked)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged %v after reconnecting: %s", convergeTimeout, why)
		}
		<-time.After(200 * time.Millisecond) // poll interval, bounded by deadline
	}
	if final, states := findLeader(c.nodes, startTimeout); final == nil {
		t.Errorf("no single leader after healing: %s", states)
	}
	c.checkNoCrash()
}
