package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/shard"
)

func TestPlacement(t *testing.T) {
	for _, tt := range []struct {
		ids     []string
		groups  int
		r       int
		want    [][]string
		perNode int // groups each node holds
	}{
		{[]string{"a"}, 1, 1, [][]string{{"a"}}, 1},
		{[]string{"c", "a", "b"}, 3, 3, [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}}, 3},
		{[]string{"n3", "n1", "n2", "n4"}, 4, 3, [][]string{{"n1", "n2", "n3"}, {"n2", "n3", "n4"}, {"n3", "n4", "n1"}, {"n4", "n1", "n2"}}, 3},
		{[]string{"n3", "n1", "n2", "n4"}, 4, 2, [][]string{{"n1", "n2"}, {"n2", "n3"}, {"n3", "n4"}, {"n4", "n1"}}, 2},
		{[]string{"e", "d", "c", "b", "a"}, 5, 1, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}, 1},
		{[]string{"f", "e", "d", "c", "b", "a"}, 3, 2, [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}}, 1},
		{[]string{"d", "c", "b", "a"}, 8, 2, [][]string{{"a", "b"}, {"a", "b"}, {"b", "c"}, {"b", "c"}, {"c", "d"}, {"c", "d"}, {"d", "a"}, {"d", "a"}}, 4},
	} {
		got := placement(tt.ids, tt.groups, tt.r)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("placement(%v, %d, %d) = %v, want %v", tt.ids, tt.groups, tt.r, got, tt.want)
		}
		held := map[string]int{}
		leads := map[string]int{}
		for _, ms := range got {
			seen := map[string]bool{}
			for _, m := range ms {
				if seen[m] {
					t.Errorf("placement(%v, %d, %d): %s holds a group twice", tt.ids, tt.groups, tt.r, m)
				}
				seen[m] = true
				held[m]++
			}
			leads[ms[0]]++
		}
		for _, id := range tt.ids {
			if held[id] != tt.perNode {
				t.Errorf("placement(%v, %d, %d): %s holds %d groups, want %d", tt.ids, tt.groups, tt.r, id, held[id], tt.perNode)
			}
			if want := max(tt.groups/len(tt.ids), 1); tt.groups%len(tt.ids) == 0 && leads[id] != want {
				t.Errorf("placement(%v, %d, %d): %s is the preferred leader of %d groups, want %d", tt.ids, tt.groups, tt.r, id, leads[id], want)
			}
		}
	}
}

func TestIdle(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	if got := idle(ids, placement(ids, 2, 2)); fmt.Sprint(got) != "[e]" {
		t.Errorf("idle with 2 groups of 2 over 5 nodes = %v, want [e]", got)
	}
	if got := idle(ids, placement(ids, 5, 3)); len(got) != 0 {
		t.Errorf("idle with 5 groups of 3 over 5 nodes = %v, want none", got)
	}
}

func TestKeepReplicas(t *testing.T) {
	dir := t.TempDir()
	if err := keepReplicas(dir, 3, 5); err != nil {
		t.Fatal(err)
	}
	if err := keepReplicas(dir, 3, 5); err != nil {
		t.Fatalf("same number again: %v", err)
	}
	if err := keepReplicas(dir, 2, 5); err == nil || !strings.Contains(err.Error(), "created with 3 replica(s)") {
		t.Fatalf("another number: %v", err)
	}
	if err := keepNodes(dir, []string{"n2", "n1", "n3"}); err != nil {
		t.Fatal(err)
	}
	if err := keepNodes(dir, []string{"n1", "n3", "n2"}); err != nil {
		t.Fatalf("same nodes in another order: %v", err)
	}
	if err := keepNodes(dir, []string{"n1", "n2", "n3", "n4"}); err == nil || !strings.Contains(err.Error(), "created for the nodes n1,n2,n3") {
		t.Fatalf("another node list: %v", err)
	}
	old := t.TempDir()
	if err := os.Mkdir(filepath.Join(old, "raft"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := keepReplicas(old, 2, 3); err == nil || !strings.Contains(err.Error(), "every node held every shard group") {
		t.Fatalf("a dir from before --replicas, fewer replicas: %v", err)
	}
	if err := keepReplicas(old, 3, 3); err != nil {
		t.Fatalf("a dir from before --replicas, every node: %v", err)
	}
}

// startPartial starts n nodes with g groups of r replicas each and waits
// until every group has a ready leader and every node knows, from its
// directory, the leader of each group it does not hold.
func startPartial(t *testing.T, n, g, r int, cfg Config) *testCluster {
	t.Helper()
	cfg.Shards, cfg.Replicas = g, r
	tc := startCluster(t, n, cfg, nil)
	for i := 0; i < g; i++ {
		tc.groupLeader(i)
	}
	tc.waitDirectories()
	return tc
}

// waitDirectories waits until every running node knows a leader of every
// group it does not hold.
func (tc *testCluster) waitDirectories() {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := ""
		for _, tn := range tc.nodes {
			if tn.node == nil {
				continue
			}
			s := tn.node.Server
			for _, u := range s.units() {
				if _, _, ok := s.leaderOf(u); !ok && u.remote {
					missing = fmt.Sprintf("%s does not know the leader of group %d", tn.id, u.idx)
				}
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatal(missing)
		}
		time.Sleep(20 * time.Millisecond) // polling for the directories, bounded
	}
}

// keyIn returns a key named prefix... whose slot is in group g of n.
func keyIn(prefix string, g, n int) string {
	lo, hi := SlotRange(g, n)
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if s := shard.KeySlot([]byte(k)); s >= lo && s <= hi {
			return k
		}
	}
}

// retryDown runs op until it does not fail with CLUSTERDOWN or TRYAGAIN
// (an election in progress), for up to 20 seconds.
func retryDown(t *testing.T, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := op()
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "CLUSTERDOWN") && !strings.HasPrefix(msg, "TRYAGAIN") || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // waiting out an election, bounded
	}
}

// TestPartialOneEndpoint runs four nodes whose four groups have three
// replicas each, so every node holds three groups and forwards the
// fourth's commands: any node takes any key, fan-out, WATCH, scripts and
// pub/sub work through a node that holds no replica of the key's group,
// each group's replicas end with the same data, and after a node is
// killed every key is still readable and writable.
func TestPartialOneEndpoint(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx := context.Background()
	ids := []string{"n1", "n2", "n3", "n4"}
	place := placement(ids, 4, 3)
	for i, tn := range tc.nodes {
		for g, grp := range tn.node.Groups {
			if want := slices.Contains(place[g], tn.id); (grp != nil) != want {
				t.Fatalf("%s holds group %d: %v, want %v", tn.id, g, grp != nil, want)
			}
		}
		if got := len(tn.node.Server.local()); got != 3 {
			t.Fatalf("node %d holds %d groups, want 3", i, got)
		}
	}
	const keys = 400
	tc.writeReadAll(keys)
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		if n, err := c.DBSize(ctx).Result(); err != nil || n != keys {
			t.Fatalf("DBSIZE via %s = %d, %v; want %d", tn.id, n, err, keys)
		}
		vals, err := c.MGet(ctx, "k1", "k2", "k3", "k4", "k5", "missing").Result()
		if err != nil || fmt.Sprint(vals) != "[1 2 3 4 5 <nil>]" {
			t.Fatalf("MGET via %s = %v, %v", tn.id, vals, err)
		}
	}

	// Each group's replicas hold the same, non-empty data.
	deadline := time.Now().Add(30 * time.Second)
	for g := 0; g < 4; g++ {
		for {
			var digests []string
			for _, tn := range tc.nodes {
				if u := tn.node.Server.units()[g]; !u.remote {
					digests = append(digests, u.store.Digest())
				}
			}
			if len(digests) != 3 {
				t.Fatalf("group %d has %d replicas, want 3", g, len(digests))
			}
			if digests[0] == digests[1] && digests[1] == digests[2] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %d digests differ across its replicas: %v", g, digests)
			}
			time.Sleep(20 * time.Millisecond) // polling for replication, bounded
		}
	}

	// n1 holds no replica of group 1.
	n1 := tc.nodes[0]
	if !n1.node.Server.units()[1].remote {
		t.Fatal("n1 holds group 1; the test expects it not to")
	}
	c1 := tc.client(n1)
	c2 := tc.client(tc.nodes[1])
	wk := keyIn("watched", 1, 4)
	if err := c1.Set(ctx, wk, "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	txn := func(interfere bool) error {
		return c1.Watch(ctx, func(tx *redis.Tx) error {
			if interfere {
				if err := c2.Set(ctx, wk, "other", 0).Err(); err != nil {
					return err
				}
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Incr(ctx, wk)
				return nil
			})
			return err
		}, wk)
	}
	if err := txn(true); !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after the watched key changed through another node: %v, want TxFailedErr", err)
	}
	if err := c1.Set(ctx, wk, "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := txn(false); err != nil {
		t.Fatalf("EXEC with an unchanged watched key: %v", err)
	}
	if v, _ := c2.Get(ctx, wk).Result(); v != "1" {
		t.Fatalf("after EXEC %s = %q, want 1", wk, v)
	}
	// A transaction of connection commands only runs here, though its
	// default group (0) is held elsewhere; WAIT after a forwarded write
	// answers the replica error instead of counting another group's.
	raw := tc.nodes[3]
	rc := tc.client(raw)
	conn := rc.Conn()
	defer conn.Close()
	if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ClientSetName(ctx, "mine")
		return nil
	}); err != nil {
		t.Fatalf("MULTI CLIENT SETNAME EXEC via %s: %v", raw.id, err)
	}
	if name, err := conn.ClientGetName(ctx).Result(); err != nil || name != "mine" {
		t.Fatalf("CLIENT GETNAME after EXEC via %s = %q, %v", raw.id, name, err)
	}
	if err := conn.Set(ctx, keyIn("waited", 0, 4), "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Do(ctx, "WAIT", 1, 100).Err(); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("WAIT after a forwarded write: %v, want the replica error", err)
	}

	// SCRIPT LOAD through n4, which holds no replica of group 0, then
	// EVALSHA through n1 on a key of group 1, which n1 does not hold.
	c4 := tc.client(tc.nodes[3])
	sha, err := c4.ScriptLoad(ctx, "return redis.call('INCRBY', KEYS[1], ARGV[1])").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c1.EvalSha(ctx, sha, []string{wk}, 5).Int(); err != nil || n != 6 {
		t.Fatalf("EVALSHA via n1 = %d, %v; want 6", n, err)
	}

	// A message published on a channel of group 0 reaches a subscriber
	// of n4, which holds no replica of it, and so do keyspace events.
	for _, tn := range tc.nodes {
		if err := tc.client(tn).ConfigSet(ctx, "notify-keyspace-events", "E$").Err(); err != nil {
			t.Fatal(err)
		}
	}
	ch := keyIn("chan", 0, 4)
	sub := c4.Subscribe(ctx, ch)
	defer sub.Close()
	if err := sub.PSubscribe(ctx, "__keyevent@0__:set"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"subscribe", "psubscribe"} {
		if m, err := sub.Receive(ctx); err != nil || !strings.Contains(fmt.Sprint(m), want) {
			t.Fatalf("subscription reply %v, %v; want %s", m, err, want)
		}
	}
	if err := c1.Publish(ctx, ch, "hello").Err(); err != nil {
		t.Fatal(err)
	}
	ek := keyIn("evented", 0, 4)
	if err := c1.Set(ctx, ek, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for !got["hello"] || !got[ek] {
		m, err := sub.ReceiveMessage(rctx)
		if err != nil {
			t.Fatalf("n4's subscriber got %v, then: %v", got, err)
		}
		got[m.Payload] = true
	}

	// Kill n1: every group keeps two of its three replicas.
	tc.stop(n1)
	for _, tn := range tc.nodes[1:] {
		c := tc.client(tn)
		for k := 0; k < keys; k += 7 {
			key := fmt.Sprintf("k%d", k)
			retryDown(t, "GET "+key+" via "+tn.id, func() error {
				v, err := c.Get(ctx, key).Result()
				if err == nil && v != fmt.Sprint(k) {
					return fmt.Errorf("GET %s = %q, want %d", key, v, k)
				}
				return err
			})
			retryDown(t, "SET "+key+" via "+tn.id, func() error { return c.Set(ctx, key, k, 0).Err() })
		}
	}
}

// TestPartialNodeHoldingNothing runs one group of three replicas on four
// nodes: the fourth holds no data and forwards everything, SCRIPT EXISTS
// included, so a script loaded through any node exists on every node.
func TestPartialNodeHoldingNothing(t *testing.T) {
	tc := startPartial(t, 4, 1, 3, Config{})
	ctx := context.Background()
	proxy := tc.nodes[3]
	if n := len(proxy.node.Server.local()); n != 0 {
		t.Fatalf("n4 holds %d groups, want none", n)
	}
	tc.writeReadAll(40)
	c4, c1 := tc.client(proxy), tc.client(tc.nodes[0])
	for i, via := range []*redis.Client{c1, c4} {
		body := fmt.Sprintf("return %d", i)
		sha, err := via.ScriptLoad(ctx, body).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*redis.Client{c1, c4} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				ok, err := c.ScriptExists(ctx, sha).Result()
				if err == nil && len(ok) == 1 && ok[0] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("SCRIPT EXISTS of a script loaded through node %d: %v, %v", i, ok, err)
				}
				time.Sleep(20 * time.Millisecond) // polling for replication, bounded
			}
		}
	}
	if d, err := c4.Do(ctx, "DEBUG", "DIGEST").Text(); err != nil || d != strings.Repeat("0", 40) {
		t.Fatalf("DEBUG DIGEST on a node holding nothing = %q, %v", d, err)
	}
}

// TestPartialClusterModeRefusesIdleNodes checks that cluster mode refuses
// a layout leaving a node with no group: two groups of two replicas over
// five nodes.
func TestPartialClusterModeRefusesIdleNodes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := "n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3,n4=127.0.0.1:4,n5=127.0.0.1:5"
	cfg := Config{NodeID: "n1", Dir: t.TempDir(), Peers: peers, Shards: 2, Replicas: 2, ClusterEnabled: "yes"}
	if _, err := OpenNode(cfg, ln, NodeOptions{}); err == nil || !strings.Contains(err.Error(), "nodes n5 would hold no group") {
		t.Fatalf("OpenNode: %v, want the idle-node error", err)
	}
	for _, f := range []string{"shards", "replicas", "nodes"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, f)); err == nil {
			t.Errorf("the refused start recorded %s in the dir", f)
		}
	}
}

// TestPartialClusterMode runs Redis Cluster semantics over four nodes
// whose four groups have three replicas each: CLUSTER SLOTS lists each
// range with exactly the nodes holding it, a node answers -MOVED for a
// group it does not hold, and a ClusterClient writes and reads keys of
// every group.
func TestPartialClusterMode(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{ClusterEnabled: "yes"})
	ctx := context.Background()
	place := placement([]string{"n1", "n2", "n3", "n4"}, 4, 3)
	for _, tn := range tc.nodes {
		deadline := time.Now().Add(20 * time.Second)
		for {
			slots, err := tc.client(tn).ClusterSlots(ctx).Result()
			bad := ""
			switch {
			case err != nil:
				bad = err.Error()
			case len(slots) != 4:
				bad = fmt.Sprintf("%d ranges", len(slots))
			}
			for i := 0; bad == "" && i < 4; i++ {
				lo, hi := SlotRange(i, 4)
				var names, want []string
				for _, n := range slots[i].Nodes {
					names = append(names, n.ID)
				}
				for _, id := range place[i] {
					want = append(want, clusterName(id))
				}
				slices.Sort(names)
				slices.Sort(want)
				if slots[i].Start != lo || slots[i].End != hi || !slices.Equal(names, want) {
					bad = fmt.Sprintf("range %d = %d-%d %v, want %d-%d %v", i, slots[i].Start, slots[i].End, names, lo, hi, want)
				}
			}
			if bad == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CLUSTER SLOTS via %s: %s", tn.id, bad)
			}
			time.Sleep(50 * time.Millisecond) // polling for the directory, bounded
		}
	}

	n1 := tc.nodes[0]
	k := keyIn("moved", 1, 4)
	// Leaderships move to their preferred nodes after start-up, and n1
	// learns of a move within a directory round: poll.
	deadline := time.Now().Add(20 * time.Second)
	for {
		leader := tc.groupLeader(1)
		err := tc.client(n1).Get(ctx, k).Err()
		want := fmt.Sprintf("MOVED %d %s", shard.KeySlot([]byte(k)), leader.addr)
		if err != nil && err.Error() == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s via n1 (not holding its group): %v, want %s", k, err, want)
		}
		time.Sleep(50 * time.Millisecond) // polling for the directory, bounded
	}

	// A killed node leaves every node's CLUSTER SLOTS once the others
	// stop hearing from it (the leader at once, the rest through the
	// directory).
	dead := tc.nodes[3]
	tc.stop(dead)
	for _, tn := range tc.nodes[:3] {
		deadline := time.Now().Add(20 * time.Second)
		for {
			slots, err := tc.client(tn).ClusterSlots(ctx).Result()
			listed := false
			for _, r := range slots {
				for _, n := range r.Nodes {
					listed = listed || n.Addr == dead.addr
				}
			}
			if err == nil && len(slots) > 0 && !listed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CLUSTER SLOTS via %s still lists the killed %s: %v, %v", tn.id, dead.id, slots, err)
			}
			time.Sleep(50 * time.Millisecond) // polling for the directory, bounded
		}
	}
	tc.open(dead)

	var addrs []string
	for _, tn := range tc.nodes {
		addrs = append(addrs, tn.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 8})
	defer cc.Close()
	for i := 0; i < 300; i++ {
		if err := cc.Set(ctx, fmt.Sprintf("c%d", i), i, 0).Err(); err != nil {
			t.Fatalf("cluster SET c%d: %v", i, err)
		}
	}
	for i := 0; i < 300; i++ {
		if v, err := cc.Get(ctx, fmt.Sprintf("c%d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("cluster GET c%d = %q, %v", i, v, err)
		}
	}
}

// convergeGroups waits until, for every group, its running holders have
// applied as much as its leader and hold the same data.
func (tc *testCluster) convergeGroups(groups int) {
	tc.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for g := 0; g < groups; g++ {
		for {
			want := tc.groupLeader(g).node.Groups[g].AppliedIndex()
			var digests []string
			caughtUp := true
			for _, tn := range tc.nodes {
				if tn.node == nil || tn.node.Groups[g] == nil {
					continue
				}
				caughtUp = caughtUp && tn.node.Groups[g].AppliedIndex() >= want
				digests = append(digests, tn.node.Server.units()[g].store.Digest())
			}
			same := len(digests) > 0
			for _, d := range digests {
				same = same && d == digests[0]
			}
			if caughtUp && same {
				break
			}
			if time.Now().After(deadline) {
				tc.t.Fatalf("group %d did not converge: %v", g, digests)
			}
			time.Sleep(20 * time.Millisecond) // polling for replication, bounded
		}
	}
}

// TestPartialFailuresKeepAcknowledgedWrites writes through every node of
// four nodes whose four groups have three replicas each (so every node
// forwards one group's writes) while a node is killed and restarted, and
// then cut off from the others' Raft traffic and healed: every
// acknowledged write must be readable through every node, and each
// group's replicas must end with the same data.
func TestPartialFailuresKeepAcknowledgedWrites(t *testing.T) {
	tc := startPartial(t, 4, 4, 3, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wr := tc.startWriters(ctx)
	acks := wr.acks

	waitAcks(t, acks, 200)
	victim := tc.groupLeader(2)
	tc.stop(victim) // kill a group's leader mid-write
	waitAcks(t, acks, acks.len()+200)
	tc.open(victim)
	waitAcks(t, acks, acks.len()+100)

	cut := tc.groupLeader(0)
	cut.stream.Isolate(true) // partition another group's leader
	waitAcks(t, acks, acks.len()+200)
	cut.stream.Isolate(false)
	waitAcks(t, acks, acks.len()+100)
	unk := wr.stop()

	tc.waitDirectories()
	tc.convergeGroups(4)
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		acks.mu.Lock()
		for k, v := range acks.acks {
			var got string
			retryDown(t, "GET "+k+" via "+tn.id, func() error {
				var err error
				got, err = c.Get(ctx, k).Result()
				return err
			})
			if got != v {
				t.Errorf("%s: acknowledged %s=%s, read %q", tn.id, k, v, got)
			}
		}
		acks.mu.Unlock()
	}
	t.Logf("%d acknowledged writes survived on all nodes; %d answered outcome-unknown", acks.len(), unk)
}
