package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/shard"
)

// startSharded starts n nodes with g shard groups and waits until every
// group has a ready leader.
func startSharded(t *testing.T, n, g int, cfg Config) *testCluster {
	t.Helper()
	cfg.Shards = g
	tc := startCluster(t, n, cfg, nil)
	for i := 0; i < g; i++ {
		tc.groupLeader(i)
	}
	return tc
}

// TestShardsOneEndpoint checks the one-endpoint semantics over three
// groups: any node takes any key (forwarding each to its group's
// leader), the keys land in the group of their slot, and every replica
// of every group ends with the same data.
func TestShardsOneEndpoint(t *testing.T) {
	tc := startSharded(t, 3, 3, Config{})
	ctx := context.Background()
	const keys = 300
	for i, tn := range tc.nodes {
		c := tc.client(tn)
		for k := i; k < keys; k += len(tc.nodes) {
			if err := c.Set(ctx, fmt.Sprintf("k%d", k), k, 0).Err(); err != nil {
				t.Fatalf("SET k%d via %s: %v", k, tn.id, err)
			}
		}
	}
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		for k := 0; k < keys; k++ {
			v, err := c.Get(ctx, fmt.Sprintf("k%d", k)).Result()
			if err != nil || v != fmt.Sprint(k) {
				t.Fatalf("GET k%d via %s = %q, %v", k, tn.id, v, err)
			}
		}
	}
	tc.converge()
	s := tc.nodes[0].node.Server
	total := 0
	for _, u := range s.units {
		n, _ := u.store.Len()
		if n == 0 {
			t.Errorf("group %d (slots %d-%d) holds no key", u.idx, u.lo, u.hi)
		}
		total += n
		for k := 0; k < keys; k++ {
			key := []byte(fmt.Sprintf("k%d", k))
			slot := shard.KeySlot(key)
			r := u.store.Read(&shard.Op{Kind: shard.KindGet, Key: key})
			if in := slot >= u.lo && slot <= u.hi; in != (r.Kind == shard.RStr) {
				t.Fatalf("key %s (slot %d) in group %d (%d-%d): %v", key, slot, u.idx, u.lo, u.hi, r.Kind)
			}
		}
	}
	if total != keys {
		t.Fatalf("groups hold %d keys in all, want %d", total, keys)
	}
	for i := range s.units {
		var digests []string
		for _, tn := range tc.nodes {
			digests = append(digests, tn.node.Server.units[i].store.Digest())
		}
		if digests[0] != digests[1] || digests[0] != digests[2] {
			t.Fatalf("group %d digests differ across nodes: %v", i, digests)
		}
	}
}

// TestShardsClusterMode checks Redis Cluster's view of three groups: one
// CLUSTER SLOTS range per group with all three nodes, MOVED to the
// group's leader, and a ClusterClient that writes and reads keys of every
// group.
func TestShardsClusterMode(t *testing.T) {
	tc := startSharded(t, 3, 3, Config{ClusterEnabled: "yes"})
	ctx := context.Background()
	c := tc.client(tc.nodes[0])
	deadline := time.Now().Add(20 * time.Second)
	var slots []redis.ClusterSlot
	for {
		var err error
		slots, err = c.ClusterSlots(ctx).Result()
		full := err == nil && len(slots) == 3
		for _, s := range slots {
			full = full && len(s.Nodes) == 3
		}
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CLUSTER SLOTS never showed 3 groups of 3 nodes: %v %v", slots, err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the follower links, bounded
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Start < slots[j].Start })
	want := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, s := range slots {
		if s.Start != want[i][0] || s.End != want[i][1] {
			t.Fatalf("range %d = %d-%d, want %v", i, s.Start, s.End, want[i])
		}
		if l := tc.groupLeader(i); s.Nodes[0].Addr != l.addr {
			t.Fatalf("range %d master %s, want group leader %s", i, s.Nodes[0].Addr, l.addr)
		}
	}
	// "foo" is slot 12182, group 2: every other node answers MOVED.
	l := tc.groupLeader(2)
	for _, tn := range tc.nodes {
		if tn == l {
			continue
		}
		err := tc.client(tn).Get(ctx, "foo").Err()
		if err == nil || err.Error() != "MOVED 12182 "+l.addr {
			t.Fatalf("GET foo on %s: %v, want MOVED 12182 %s", tn.id, err, l.addr)
		}
	}
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
		t.Fatalf("CLUSTER INFO: %q %v", info, err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{tc.nodes[0].addr}})
	defer cc.Close()
	for k := 0; k < 300; k++ {
		if err := cc.Set(ctx, fmt.Sprintf("key:%d", k), k, 0).Err(); err != nil {
			t.Fatalf("cluster SET key:%d: %v", k, err)
		}
	}
	for k := 0; k < 300; k++ {
		if v, err := cc.Get(ctx, fmt.Sprintf("key:%d", k)).Result(); err != nil || v != fmt.Sprint(k) {
			t.Fatalf("cluster GET key:%d = %q, %v", k, v, err)
		}
	}
	nodes, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		for _, r := range f[8:] {
			var lo, hi int
			if _, err := fmt.Sscanf(r, "%d-%d", &lo, &hi); err != nil {
				t.Fatalf("slot range %q in %q", r, line)
			}
			covered += hi - lo + 1
		}
	}
	if covered != NumSlots {
		t.Fatalf("CLUSTER NODES covers %d slots:\n%s", covered, nodes)
	}
}

// TestSlotRange checks the ranges against redis-cli --cluster create's
// (3 masters: 0-5460, 5461-10922, 10923-16383) and that every layout
// covers each slot once.
func TestSlotRange(t *testing.T) {
	for i, want := range [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}} {
		if lo, hi := SlotRange(i, 3); lo != want[0] || hi != want[1] {
			t.Errorf("SlotRange(%d, 3) = %d-%d, want %v", i, lo, hi, want)
		}
	}
	for n := 1; n <= MaxShards; n++ {
		next := 0
		for i := 0; i < n; i++ {
			lo, hi := SlotRange(i, n)
			if lo != next || hi < lo {
				t.Fatalf("SlotRange(%d, %d) = %d-%d after %d", i, n, lo, hi, next)
			}
			next = hi + 1
		}
		if next != NumSlots {
			t.Fatalf("%d groups cover %d slots", n, next)
		}
	}
}

// waitSpread waits until group i is led by node i (the preferred leader
// of each group: its (i mod 3)-th voter by ID) and returns the leaders.
func waitSpread(t *testing.T, tc *testCluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		spread := true
		var got []string
		for i := range tc.nodes[0].node.Groups {
			tn := tc.nodes[i%len(tc.nodes)]
			spread = spread && tn.node != nil && tn.node.Groups[i].Ready()
			for _, o := range tc.nodes {
				if o.node != nil && o.node.Groups[i].IsLeader() {
					got = append(got, fmt.Sprintf("g%d:%s", i, o.id))
				}
			}
		}
		if spread {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders not spread within 30s: %v", got)
		}
		time.Sleep(20 * time.Millisecond) // polling for leadership transfers, bounded
	}
}

// TestShardsLeadersSpread checks that the three groups' leaderships
// spread one per node, stay available when a node crashes, and that a
// restarted node takes its leadership back with every write kept.
func TestShardsLeadersSpread(t *testing.T) {
	tc := startSharded(t, 3, 3, Config{})
	waitSpread(t, tc)
	ctx := context.Background()
	c := tc.client(tc.nodes[0])
	for k := 0; k < 100; k++ {
		if err := c.Set(ctx, fmt.Sprintf("a%d", k), k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	victim := tc.nodes[1]
	tc.stop(victim)
	// Group 1 elects a new leader; the others never lost theirs.
	for i := range tc.nodes[0].node.Groups {
		tc.groupLeader(i)
	}
	for k := 0; k < 100; k++ {
		key := fmt.Sprintf("b%d", k)
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := c.Set(ctx, key, k, 0).Err()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("SET %s with %s down: %v", key, victim.id, err)
			}
			time.Sleep(20 * time.Millisecond) // an election is under way, bounded
		}
	}
	tc.open(victim)
	waitSpread(t, tc)
	tc.converge()
	vc := tc.client(victim)
	for _, p := range []string{"a", "b"} {
		for k := 0; k < 100; k++ {
			if v, err := vc.Get(ctx, fmt.Sprintf("%s%d", p, k)).Result(); err != nil || v != fmt.Sprint(k) {
				t.Fatalf("GET %s%d via the restarted node = %q, %v", p, k, v, err)
			}
		}
	}
}
