package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startClusterMode starts n nodes with cluster-enabled yes and waits until
// every node's CLUSTER SLOTS names all of them (each follower's address
// has gone through the log).
func startClusterMode(t *testing.T, n int) (*testCluster, *testNode) {
	t.Helper()
	tc := startCluster(t, n, Config{ClusterEnabled: "yes", Shards: 1}, nil)
	l := tc.leader()
	deadline := time.Now().Add(20 * time.Second)
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		for {
			slots, err := c.ClusterSlots(context.Background()).Result()
			if err == nil && len(slots) == 1 && len(slots[0].Nodes) == n && slots[0].Nodes[0].Addr == l.addr {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: CLUSTER SLOTS never listed all %d nodes with %s first: %v %v", tn.id, n, l.addr, slots, err)
			}
			time.Sleep(20 * time.Millisecond) // polling for the node entries, bounded
		}
	}
	return tc, l
}

// TestClusterModeRedirects checks Redis Cluster's routing replies: MOVED
// from a replica (reads too, unless READONLY), CROSSSLOT for keys of
// several slots, READONLY for a keyless write on a replica, and the
// transaction rules.
func TestClusterModeRedirects(t *testing.T) {
	tc, l := startClusterMode(t, 3)
	f := tc.follower(l)
	ctx := context.Background()
	lc, fc := tc.client(l), tc.client(f)
	moved := fmt.Sprintf("MOVED 12182 %s", l.addr) // slot of "foo"

	for _, tt := range []struct {
		name string
		c    *redis.Client
		args []any
		want string // error text, or the reply printed with %v
	}{
		{"replica GET", fc, []any{"get", "foo"}, moved},
		{"replica SET", fc, []any{"set", "foo", "1"}, moved},
		{"replica MGET one slot", fc, []any{"mget", "{foo}a", "{foo}b"}, fmt.Sprintf("MOVED 12182 %s", l.addr)},
		{"replica MGET cross slot", fc, []any{"mget", "foo", "bar"}, errCrossSlot},
		{"replica FLUSHALL", fc, []any{"flushall"}, errReplicaWrite},
		{"replica DBSIZE", fc, []any{"dbsize"}, "0"},
		{"leader SET", lc, []any{"set", "foo", "1"}, "OK"},
		{"leader MSET cross slot", lc, []any{"mset", "foo", "1", "bar", "2"}, errCrossSlot},
		{"leader DEL cross slot", lc, []any{"del", "foo", "bar"}, errCrossSlot},
		{"leader MGET one slot", lc, []any{"mget", "foo", "{foo}x"}, "[1 <nil>]"},
		{"leader WATCH cross slot", lc, []any{"watch", "foo", "bar"}, errCrossSlot},
		{"KEYSLOT", fc, []any{"cluster", "keyslot", "{user1000}.following"}, "3443"},
		{"COUNTKEYSINSLOT", lc, []any{"cluster", "countkeysinslot", "12182"}, "1"},
		{"GETKEYSINSLOT", lc, []any{"cluster", "getkeysinslot", "12182", "10"}, "[foo]"},
		{"COUNTKEYSINSLOT range", lc, []any{"cluster", "countkeysinslot", "16384"}, "ERR Invalid slot"},
		{"bad subcommand", lc, []any{"cluster", "nosuch"}, "ERR unknown subcommand 'nosuch'. Try CLUSTER HELP."},
		{"ASKING", fc, []any{"asking"}, "OK"},
	} {
		v, err := tt.c.Do(ctx, tt.args...).Result()
		got := fmt.Sprint(v)
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: %v = %q, want %q", tt.name, tt.args, got, tt.want)
		}
	}

	// READONLY: the replica answers reads of its slots, not writes.
	ro := redis.NewClient(&redis.Options{Addr: f.addr, MaxRetries: -1, DisableIdentity: true, PoolSize: 1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
	defer ro.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := ro.Get(ctx, "foo").Result()
		if err == nil && v == "1" {
			break
		}
		if err != nil && err != redis.Nil || time.Now().After(deadline) {
			t.Fatalf("READONLY GET foo on the replica: %q %v", v, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for replication, bounded
	}
	if err := ro.Set(ctx, "foo", "2", 0).Err(); err == nil || err.Error() != moved {
		t.Fatalf("READONLY SET on the replica: %v, want %s", err, moved)
	}

	// A transaction whose commands name several slots is refused at EXEC
	// and leaves nothing behind.
	pipe := lc.TxPipeline()
	pipe.Set(ctx, "foo", "tx", 0)
	pipe.Set(ctx, "bar", "tx", 0)
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot transaction: %v", err)
	}
	if v := lc.Get(ctx, "foo").Val(); v != "1" {
		t.Fatalf("foo after the refused transaction: %q", v)
	}
	// A transaction queued on a replica fails at EXEC.
	pipe = fc.TxPipeline()
	pipe.Set(ctx, "foo", "tx", 0)
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "EXECABORT") && !strings.Contains(err.Error(), "MOVED") {
		t.Fatalf("transaction on a replica: %v", err)
	}
}

// TestClusterModeReplies parses CLUSTER INFO, MYID, SLOTS, SHARDS and NODES
// from every node.
func TestClusterModeReplies(t *testing.T) {
	tc, l := startClusterMode(t, 3)
	ctx := context.Background()
	hex40 := regexp.MustCompile(`^[0-9a-f]{40}$`)
	var masterID string
	for _, tn := range tc.nodes {
		c := tc.client(tn)
		info := c.ClusterInfo(ctx).Val()
		for _, want := range []string{"cluster_state:ok\r\n", "cluster_slots_assigned:16384\r\n", "cluster_known_nodes:3\r\n", "cluster_size:1\r\n"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %s: CLUSTER INFO lacks %q:\n%s", tn.id, want, info)
			}
		}
		if s := c.Info(ctx, "cluster").Val(); !strings.Contains(s, "cluster_enabled:1") {
			t.Errorf("node %s: INFO cluster = %q", tn.id, s)
		}
		myid := c.ClusterMyID(ctx).Val()
		if !hex40.MatchString(myid) {
			t.Errorf("node %s: CLUSTER MYID %q", tn.id, myid)
		}
		slots := c.ClusterSlots(ctx).Val()
		if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || slots[0].Nodes[0].Addr != l.addr {
			t.Fatalf("node %s: CLUSTER SLOTS %+v", tn.id, slots)
		}
		if masterID == "" {
			masterID = slots[0].Nodes[0].ID
		} else if slots[0].Nodes[0].ID != masterID {
			t.Errorf("node %s names master %s, another node %s", tn.id, slots[0].Nodes[0].ID, masterID)
		}
		shards, err := c.ClusterShards(ctx).Result()
		if err != nil || len(shards) != 1 || len(shards[0].Nodes) != 3 || shards[0].Slots[0].End != 16383 {
			t.Fatalf("node %s: CLUSTER SHARDS %+v %v", tn.id, shards, err)
		}
		roles := map[string]int{}
		for _, n := range shards[0].Nodes {
			roles[n.Role]++
		}
		if roles["master"] != 1 || roles["replica"] != 2 {
			t.Errorf("node %s: CLUSTER SHARDS roles %v", tn.id, roles)
		}
		nodes := c.ClusterNodes(ctx).Val()
		lines := strings.Split(strings.TrimSuffix(nodes, "\n"), "\n")
		masters, mine := 0, 0
		for _, ln := range lines {
			fs := strings.Fields(ln)
			if len(fs) < 8 || !hex40.MatchString(fs[0]) || fs[7] != "connected" {
				t.Fatalf("node %s: CLUSTER NODES line %q", tn.id, ln)
			}
			if strings.Contains(fs[2], "master") {
				masters++
				if fs[0] != masterID || fs[3] != "-" || len(fs) != 9 || fs[8] != "0-16383" {
					t.Errorf("node %s: master line %q", tn.id, ln)
				}
			} else if fs[3] != masterID {
				t.Errorf("node %s: replica line %q does not name master %s", tn.id, ln, masterID)
			}
			if strings.Contains(fs[2], "myself") {
				mine++
				if fs[0] != myid {
					t.Errorf("node %s: myself line %q, MYID %s", tn.id, ln, myid)
				}
			}
		}
		if len(lines) != 3 || masters != 1 || mine != 1 {
			t.Errorf("node %s: CLUSTER NODES:\n%s", tn.id, nodes)
		}
	}
}

// TestClusterModeClients drives go-redis's ClusterClient, the way
// applications do: writes and reads across every slot through any seed
// node, and replica reads with ReadOnly and RouteByLatency.
func TestClusterModeClients(t *testing.T) {
	tc, l := startClusterMode(t, 3)
	f := tc.follower(l)
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{f.addr}, MaxRedirects: 3})
	defer cc.Close()
	const n = 300
	for i := range n {
		if err := cc.Set(ctx, fmt.Sprintf("session:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET session:%d: %v", i, err)
		}
	}
	if err := cc.MSet(ctx, "{u1}a", "1", "{u1}b", "2").Err(); err != nil {
		t.Fatalf("MSET one slot: %v", err)
	}
	for i := range n {
		if v, err := cc.Get(ctx, fmt.Sprintf("session:%d", i)).Int(); err != nil || v != i {
			t.Fatalf("GET session:%d = %d, %v", i, v, err)
		}
	}
	tc.converge()
	for _, opt := range []*redis.ClusterOptions{
		{Addrs: []string{l.addr}, ReadOnly: true},
		{Addrs: []string{f.addr}, RouteByLatency: true},
	} {
		rc := redis.NewClusterClient(opt)
		for i := range n {
			if v, err := rc.Get(ctx, fmt.Sprintf("session:%d", i)).Int(); err != nil || v != i {
				t.Fatalf("%+v: GET session:%d = %d, %v", opt, i, v, err)
			}
		}
		rc.Close()
	}
}

// TestClusterCommandDisabled checks that CLUSTER and ASKING answer Redis's
// error when cluster mode is off.
func TestClusterCommandDisabled(t *testing.T) {
	ts := startServer(t, Config{})
	c := redis.NewClient(&redis.Options{Addr: ts.addr, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	for _, args := range [][]any{{"cluster", "info"}, {"cluster", "keyslot", "foo"}, {"asking"}} {
		if err := c.Do(ctx, args...).Err(); err == nil || err.Error() != errClusterOff {
			t.Errorf("%v: %v, want %q", args, err, errClusterOff)
		}
	}
	if err := c.Do(ctx, "cluster").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'cluster' command" {
		t.Errorf("CLUSTER alone: %v", err)
	}
}
