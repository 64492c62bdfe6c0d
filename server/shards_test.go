package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/replication"
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
	const keys = 300
	tc.writeReadAll(keys)
	tc.converge()
	s := tc.nodes[0].node.Server
	total := 0
	for _, u := range s.units() {
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
	for i := range s.units() {
		var digests []string
		for _, tn := range tc.nodes {
			digests = append(digests, tn.node.Server.units()[i].store.Digest())
		}
		if digests[0] != digests[1] || digests[0] != digests[2] {
			t.Fatalf("group %d digests differ across nodes: %v", i, digests)
		}
	}
}

// writeReadAll SETs k0..k<keys-1> = their number, spread over the nodes
// (each writes every n-th), then GETs every key through every node.
func (tc *testCluster) writeReadAll(keys int) {
	tc.t.Helper()
	ctx := context.Background()
	for i, tn := range tc.nodes {
		c := tc.client(tn)
		for k := i; k < keys; k += len(tc.nodes) {
			if err := c.Set(ctx, fmt.Sprintf("k%d", k), k, 0).Err(); err != nil {
				tc.t.Fatalf("SET k%d via %s: %v", k, tn.id, err)
			}
		}
	}
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		for k := 0; k < keys; k++ {
			v, err := c.Get(ctx, fmt.Sprintf("k%d", k)).Result()
			if err != nil || v != fmt.Sprint(k) {
				tc.t.Fatalf("GET k%d via %s = %q, %v", k, tn.id, v, err)
			}
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
	// Replica reads: READONLY connections to the followers of each group.
	for _, opt := range []*redis.ClusterOptions{{ReadOnly: true}, {RouteByLatency: true}, {RouteRandomly: true}} {
		opt.Addrs = []string{tc.nodes[1].addr}
		rc := redis.NewClusterClient(opt)
		for k := 0; k < 300; k++ {
			key := fmt.Sprintf("key:%d", k)
			deadline := time.Now().Add(10 * time.Second)
			for {
				// A follower applies a little after the leader answered.
				v, err := rc.Get(ctx, key).Result()
				if err == nil && v == fmt.Sprint(k) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("replica read of %s (%+v) = %q, %v", key, opt, v, err)
				}
				time.Sleep(10 * time.Millisecond) // polling for the follower to apply, bounded
			}
		}
		rc.Close()
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

// TestShardsFanOut checks that a plain client never meets a cross-group
// error for the fanned-out commands, on a node that leads some groups and
// follows others, and that commands that need one group say so.
func TestShardsFanOut(t *testing.T) {
	tc := startSharded(t, 3, 3, Config{})
	ctx := context.Background()
	c := tc.client(tc.nodes[0])
	var pairs []any
	var names []string
	want := map[string]bool{}
	for k := 0; k < 30; k++ {
		pairs = append(pairs, fmt.Sprintf("f%d", k), fmt.Sprintf("v%d", k))
		names = append(names, fmt.Sprintf("f%d", k))
		want[fmt.Sprintf("f%d", k)] = true
	}
	if us := map[int]bool{}; true {
		for _, n := range names {
			us[tc.nodes[0].node.Server.unitOfKey([]byte(n)).idx] = true
		}
		if len(us) != 3 {
			t.Fatalf("test keys cover %d groups, want 3", len(us))
		}
	}
	if err := c.MSet(ctx, pairs...).Err(); err != nil {
		t.Fatalf("MSET: %v", err)
	}
	vals, err := c.MGet(ctx, append(names, "missing")...).Result()
	if err != nil || len(vals) != 31 {
		t.Fatalf("MGET: %v %v", vals, err)
	}
	for i, v := range vals[:30] {
		if v != fmt.Sprintf("v%d", i) {
			t.Fatalf("MGET[%d] = %v", i, v)
		}
	}
	if vals[30] != nil {
		t.Fatalf("MGET missing = %v", vals[30])
	}
	check := func(what string, got int64, err error, want int64) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %d, %v; want %d", what, got, err, want)
		}
	}
	n, err := c.Exists(ctx, append(names, "missing", "f0")...).Result()
	check("EXISTS", n, err, 31)
	n, err = c.Touch(ctx, names...).Result()
	check("TOUCH", n, err, 30)
	n, err = c.DBSize(ctx).Result()
	check("DBSIZE", n, err, 30)
	keys, err := c.Keys(ctx, "f*").Result()
	if err != nil || len(keys) != 30 {
		t.Fatalf("KEYS: %d keys, %v", len(keys), err)
	}
	seen := map[string]bool{}
	var cursor uint64
	for i := 0; ; i++ {
		var page []string
		page, cursor, err = c.Scan(ctx, cursor, "", 4).Result()
		if err != nil || i > 1000 {
			t.Fatalf("SCAN: %v after %d calls", err, i)
		}
		for _, k := range page {
			seen[k] = true
		}
		if cursor == 0 {
			break
		}
	}
	if len(seen) != 30 {
		t.Fatalf("SCAN found %d distinct keys, want 30", len(seen))
	}
	for k := range seen {
		if !want[k] {
			t.Fatalf("SCAN found %q", k)
		}
	}
	if k, err := c.RandomKey(ctx).Result(); err != nil || !want[k] {
		t.Fatalf("RANDOMKEY = %q, %v", k, err)
	}
	// Commands that need their keys in one group.
	for _, args := range [][]any{{"rename", "f0", "f1"}, {"msetnx", "f0", "x", "f1", "y"}} {
		if u0, u1 := tc.nodes[0].node.Server.unitOfKey([]byte("f0")), tc.nodes[0].node.Server.unitOfKey([]byte("f1")); u0 == u1 {
			t.Fatal("f0 and f1 share a group: pick other keys")
		}
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != errGroupsSpan {
			t.Fatalf("%v: %v, want %s", args, err, errGroupsSpan)
		}
	}
	if err := c.Rename(ctx, "{t}a", "{t}b").Err(); err == nil || err.Error() != "ERR no such key" {
		t.Fatalf("RENAME in one group: %v", err)
	}
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "f0", "1", 0)
		p.Set(ctx, "f1", "1", 0)
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("MULTI over two groups: %v", err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "{t}a", "1", 0)
		p.Set(ctx, "{t}b", "1", 0)
		return nil
	}); err != nil {
		t.Fatalf("MULTI in one group: %v", err)
	}
	n, err = c.Del(ctx, append(names, "{t}a", "{t}b")...).Result()
	check("DEL", n, err, 32)
	n, err = c.DBSize(ctx).Result()
	check("DBSIZE after DEL", n, err, 0)
	c.Set(ctx, "f0", "1", 0)
	c.Set(ctx, "f1", "1", 0)
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	n, err = c.DBSize(ctx).Result()
	check("DBSIZE after FLUSHALL", n, err, 0)
	if err := c.RandomKey(ctx).Err(); err != redis.Nil {
		t.Fatalf("RANDOMKEY on an empty keyspace: %v", err)
	}
}

// TestShardsJoinAndLeave adds a fourth node to three nodes holding four
// shard groups: it joins every group, catches up, and takes the
// leadership of the group it is now the preferred leader of (the fourth);
// then SESSIOND-LEAVE removes it from every group and nothing is lost.
func TestShardsJoinAndLeave(t *testing.T) {
	tc := startSharded(t, 3, 4, Config{})
	ctx := context.Background()
	c1 := tc.client(tc.nodes[0])
	for i := range 200 {
		if err := c1.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n4 := &testNode{id: "n4", dir: t.TempDir()}
	st, err := replication.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	n4.stream, n4.raftAddr = st, st.Addr().String()
	tc.nodeCfg = func(i int, c *Config) {
		if i == 3 {
			c.Peers, c.Join = "", tc.nodes[1].addr
		}
	}
	tc.nodes = append(tc.nodes, n4)
	tc.open(n4)
	waitMembers(t, tc, "n1", "n2", "n3", "n4")
	deadline := time.Now().Add(30 * time.Second)
	for !n4.node.Groups[3].Ready() {
		if time.Now().After(deadline) {
			t.Fatal("n4 never took the leadership of group 3")
		}
		time.Sleep(20 * time.Millisecond) // polling for the leadership transfer, bounded
	}
	tc.converge()
	c4 := tc.client(n4)
	for i := range 200 {
		if v, err := c4.Get(ctx, fmt.Sprintf("k%d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("GET k%d on the joined node: %q %v", i, v, err)
		}
	}
	if err := c4.Set(ctx, "via-n4", "x", 0).Err(); err != nil {
		t.Fatalf("write through the joined node: %v", err)
	}
	if err := c1.Do(ctx, "SESSIOND-LEAVE", "n4").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n4: %v", err)
	}
	tc.stop(n4)
	tc.nodes = tc.nodes[:3]
	waitMembers(t, tc, "n1", "n2", "n3")
	for i := range 4 {
		tc.groupLeader(i)
	}
	for _, k := range []string{"k0", "k199", "via-n4"} {
		if err := c1.Get(ctx, k).Err(); err != nil {
			t.Fatalf("GET %s after n4 left: %v", k, err)
		}
	}
	if err := c1.Set(ctx, "after", "y", 0).Err(); err != nil {
		t.Fatalf("write after n4 left: %v", err)
	}
	tc.converge()
}

// TestShardsLayoutKept checks that a data dir keeps the number of shard
// groups it was created with, and the --replicas rule.
func TestShardsLayoutKept(t *testing.T) {
	dir := t.TempDir()
	if err := keepShards(dir, 3); err != nil {
		t.Fatal(err)
	}
	if err := keepShards(dir, 3); err != nil {
		t.Fatalf("same layout again: %v", err)
	}
	if err := keepShards(dir, 1); err == nil || !strings.Contains(err.Error(), "was created with 3 shard group(s)") {
		t.Fatalf("another layout: %v", err)
	}
	old := t.TempDir()
	if err := os.Mkdir(filepath.Join(old, "raft"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := keepShards(old, 3); err == nil || !strings.Contains(err.Error(), "holds one shard group") {
		t.Fatalf("a one-group dir from before --shards, started with 3: %v", err)
	}
	if err := keepShards(old, 1); err != nil {
		t.Fatalf("a one-group dir from before --shards: %v", err)
	}
	for _, tt := range []struct {
		cfg      Config
		peers    int
		want     int
		replicas int
		err      string
	}{
		{Config{}, 0, 1, 1, ""},
		{Config{}, 3, 1, 3, ""},
		{Config{}, 5, 1, 3, ""},
		{Config{ClusterEnabled: "yes"}, 3, 3, 3, ""},
		{Config{ClusterEnabled: "yes"}, 6, 6, 3, ""},
		{Config{ClusterEnabled: "yes"}, 0, 1, 1, ""},
		{Config{ClusterEnabled: "yes", Shards: 1}, 3, 1, 3, ""},
		{Config{Shards: 8}, 3, 8, 3, ""},
		{Config{Replicas: 3}, 3, 1, 3, ""},
		{Config{Replicas: 2}, 3, 1, 2, ""},
		{Config{Replicas: 1, ClusterEnabled: "yes"}, 4, 4, 1, ""},
		{Config{Replicas: 4}, 3, 0, 0, "replicas must be between 1 and the number of nodes (3)"},
		{Config{Replicas: -1}, 3, 0, 0, "replicas must be between 1 and the number of nodes (3)"},
		{Config{Join: "127.0.0.1:7001", Replicas: 5}, 0, 1, 0, ""},
	} {
		got, replicas, err := layout(tt.cfg, tt.peers)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("layout(%+v, %d): %v, want error %q", tt.cfg, tt.peers, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || replicas != tt.replicas {
			t.Errorf("layout(%+v, %d) = %d, %d, %v; want %d, %d", tt.cfg, tt.peers, got, replicas, err, tt.want, tt.replicas)
		}
	}
}
