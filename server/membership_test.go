package server

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessiond/replication"
)

// waitMembers polls until every running node of tc sees exactly want
// (sorted) as the voters of each of its groups.
func waitMembers(t *testing.T, tc *testCluster, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		var seen []string
		for _, tn := range tc.nodes {
			if tn.node == nil {
				continue
			}
			for i, g := range tn.node.Groups {
				var ids []string
				for _, m := range g.Members() {
					ids = append(ids, m.ID)
				}
				slices.Sort(ids)
				seen = append(seen, fmt.Sprintf("%s/g%d:%v", tn.id, i, ids))
				if fmt.Sprint(ids) != fmt.Sprint(want) {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members never became %v: %v", want, seen)
		}
		time.Sleep(20 * time.Millisecond) // polling for the configuration change, bounded
	}
}

// TestJoinAndLeave adds a fourth node to a running cluster with --join
// (through a follower), checks that it catches up and takes writes, then
// removes it and the leader itself with SESSIOND-LEAVE, and checks that
// the remaining nodes keep every acknowledged write and take new ones.
func TestJoinAndLeave(t *testing.T) {
	tc := startCluster(t, 3, Config{}, nil)
	l := tc.leader()
	ctx := context.Background()
	lc := tc.client(l)
	for i := range 200 {
		if err := lc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	f := tc.follower(l)
	n4 := &testNode{id: "n4", dir: t.TempDir()}
	st, err := replication.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	n4.stream, n4.raftAddr = st, st.Addr().String()
	tc.nodeCfg = func(i int, c *Config) {
		if i == 3 {
			c.Peers, c.Join = "", f.addr
		}
	}
	tc.nodes = append(tc.nodes, n4)
	tc.open(n4)
	waitMembers(t, tc, "n1", "n2", "n3", "n4")
	tc.converge()
	c4 := tc.client(n4)
	if err := c4.Set(ctx, "via-n4", "x", 0).Err(); err != nil {
		t.Fatalf("write through the joined node: %v", err)
	}
	if v, err := c4.Get(ctx, "k199").Result(); err != nil || v != "199" {
		t.Fatalf("GET k199 on the joined node: %q %v", v, err)
	}
	tc.converge()

	// Leave: the joined node, asked through another follower; then the
	// leader, asked through the leader itself (it hands leadership over).
	var other *testNode
	for _, tn := range tc.nodes {
		if tn != l && tn != n4 {
			other = tn
			break
		}
	}
	if err := tc.client(other).Do(ctx, "SESSIOND-LEAVE", "n4").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n4: %v", err)
	}
	tc.stop(n4)
	waitMembers(t, tc, "n1", "n2", "n3")
	if err := lc.Do(ctx, "SESSIOND-LEAVE", l.id).Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE %s on itself: %v", l.id, err)
	}
	tc.stop(l)
	waitMembers(t, tc, without([]string{"n1", "n2", "n3"}, l.id)...)
	nl := tc.leader()
	c := tc.client(nl)
	if err := c.Set(ctx, "after", "y", 0).Err(); err != nil {
		t.Fatalf("write after removing the old leader: %v", err)
	}
	for _, k := range []string{"k0", "k199", "via-n4", "after"} {
		if err := c.Get(ctx, k).Err(); err != nil {
			t.Fatalf("GET %s after the changes: %v", k, err)
		}
	}
	tc.converge()

	// Unknown nodes and bad arguments.
	for _, tt := range []struct {
		args []any
		want string
	}{
		{[]any{"SESSIOND-LEAVE", "nope"}, "ERR Unknown node nope"},
		{[]any{"SESSIOND-JOIN", "n9", "bad", "127.0.0.1:1"}, "ERR invalid address 'bad'"},
		// An ID that is a member elsewhere must leave first: an empty
		// node taking over a member's vote could lose writes.
		{[]any{"SESSIOND-JOIN", nl.id, "127.0.0.1:1", "127.0.0.1:2"}, "ERR node " + nl.id + " is already a member at another address; SESSIOND-LEAVE it first"},
	} {
		if err := c.Do(ctx, tt.args...).Err(); err == nil || err.Error() != tt.want {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// without returns ids less drop.
func without(ids []string, drop string) []string {
	var out []string
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

// TestJoinRefusals checks that a node refuses --join with --peers, and
// --join on a dir that holds a one-node group of its own (it would
// otherwise serve a separate dataset while claiming to have joined).
func TestJoinRefusals(t *testing.T) {
	if _, err := OpenNode(Config{Dir: t.TempDir(), Join: "127.0.0.1:1", Peers: "n1=127.0.0.1:2"}, nil, NodeOptions{}); err == nil {
		t.Fatal("OpenNode accepted --join with --peers")
	}
	dir := t.TempDir()
	open := func(join string) (*Node, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		st, err := replication.Listen("127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		n, err := OpenNode(Config{Dir: dir, NodeID: "solo", Join: join}, ln, NodeOptions{Port: st, Tune: fastRaft})
		if err != nil {
			ln.Close()
			st.Close()
		}
		return n, err
	}
	n, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	n.WaitSingleLeader(10 * time.Second)
	n.Server.Close()
	n.Group.Close()
	if n, err := open("127.0.0.1:1"); err == nil {
		n.Server.Close()
		n.Group.Close()
		t.Fatal("OpenNode --join accepted a dir holding a one-node group")
	}
}

// TestClusterForget removes a replica with CLUSTER FORGET (by its cluster
// name, as redis-cli prints it) and checks Redis's refusal to forget
// oneself.
func TestClusterForget(t *testing.T) {
	tc, l := startClusterMode(t, 3)
	f := tc.follower(l)
	ctx := context.Background()
	lc := tc.client(l)
	if err := lc.Do(ctx, "CLUSTER", "FORGET", clusterName(l.id)).Err(); err == nil || err.Error() != "ERR I tried hard but I can't forget myself..." {
		t.Fatalf("CLUSTER FORGET myself: %v", err)
	}
	if err := lc.Do(ctx, "CLUSTER", "FORGET", "0123456789012345678901234567890123456789").Err(); err == nil || err.Error() != "ERR Unknown node 0123456789012345678901234567890123456789" {
		t.Fatalf("CLUSTER FORGET unknown: %v", err)
	}
	if err := lc.Do(ctx, "CLUSTER", "FORGET", clusterName(f.id)).Err(); err != nil {
		t.Fatalf("CLUSTER FORGET %s: %v", f.id, err)
	}
	tc.stop(f)
	var want []string
	for _, tn := range tc.nodes {
		if tn != f {
			want = append(want, tn.id)
		}
	}
	waitMembers(t, tc, want...)
	// redis-cli --cluster del-node sends FORGET to every remaining node;
	// each must answer OK although the node is already gone.
	for _, tn := range tc.nodes {
		if tn == f {
			continue
		}
		if err := tc.client(tn).Do(ctx, "CLUSTER", "FORGET", clusterName(f.id)).Err(); err != nil {
			t.Errorf("FORGET of a removed node on %s: %v", tn.id, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		slots, err := lc.ClusterSlots(ctx).Result()
		if err == nil && len(slots) == 1 && len(slots[0].Nodes) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CLUSTER SLOTS still lists the removed node: %v %v", slots, err)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded
	}
}

// TestClusterFailover checks CLUSTER FAILOVER: refused on the master and
// with a bad option, and on a replica it makes that replica the leader
// (a Raft leadership transfer) with every acknowledged write kept.
func TestClusterFailover(t *testing.T) {
	tc, l := startClusterMode(t, 3)
	f := tc.follower(l)
	ctx := context.Background()
	lc, fc := tc.client(l), tc.client(f)
	if err := lc.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c interface {
			Do(context.Context, ...any) *redis.Cmd
		}
		args []any
		want string
	}{
		{lc, []any{"CLUSTER", "FAILOVER"}, "ERR You should send CLUSTER FAILOVER to a replica"},
		{fc, []any{"CLUSTER", "FAILOVER", "SOON"}, "ERR syntax error"},
		{fc, []any{"CLUSTER", "FAILOVER", "FORCE", "x"}, "ERR syntax error"},
	} {
		if err := tt.c.Do(ctx, tt.args...).Err(); err == nil || err.Error() != tt.want {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if err := fc.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER on %s: %v", f.id, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !f.node.Group.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become the ready leader after CLUSTER FAILOVER", f.id)
		}
		time.Sleep(10 * time.Millisecond) // polling for the new leader, bounded
	}
	if v, err := fc.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("GET before on the new master: %q %v", v, err)
	}
	if err := fc.Set(ctx, "after", "2", 0).Err(); err != nil {
		t.Fatalf("SET on the new master: %v", err)
	}
}
