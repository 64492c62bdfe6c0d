package diff

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"sessiond/replication"
	"sessiond/server"
)

// TestRandomDifferentialFollower is TestRandomDifferential through a
// follower of a three-node sessiond cluster (one shard group, cluster
// mode off): every command the follower does not answer itself (writes,
// and reads, as the connection is not READONLY) is forwarded to the
// leader and its reply relayed, MULTI/EXEC and EVAL included, and the
// replies must still match redis-server's byte for byte. Keyspace
// notifications are not compared: a follower reports them when it
// applies an entry, after the leader has answered.
//
// DIFF_RANDOM_SEEDS and DIFF_RANDOM_SEED work as for TestRandomDifferential.
func TestRandomDifferentialFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	first, seeds := randomSeeds(12)
	redisAddr := startRedis(t)
	follower := startNodes(t, 0)
	runSeeds(t, first, seeds, redisAddr, follower, false, randomMode{})
	t.Logf("%d seeds of %d commands from seed %d, through a follower", seeds, randomSteps, first)
}

// startNodes starts three in-process nodes (real TCP on loopback,
// raft-boltdb in temporary directories) with shards groups (0: one), and
// returns the client address of a node that does not lead the first.
func startNodes(t *testing.T, shards int) string {
	t.Helper()
	type node struct {
		id   string
		port *replication.Port
		ln   net.Listener
		n    *server.Node
	}
	var nodes []*node
	var peers []string
	for i := range 3 {
		p, err := replication.Listen("127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.Close()
			t.Fatal(err)
		}
		nd := &node{id: fmt.Sprintf("n%d", i+1), port: p, ln: ln}
		nodes = append(nodes, nd)
		peers = append(peers, nd.id+"="+p.Addr().String())
	}
	for _, nd := range nodes {
		cfg := server.Config{NodeID: nd.id, Dir: t.TempDir(), Peers: strings.Join(peers, ","), Bind: "127.0.0.1", Shards: shards}
		// Slow elections: a loaded test machine must not depose the
		// leader mid-run (a forwarded write would then answer an error
		// redis-server never gives).
		tune := func(rc *replication.Config) {
			rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 3*time.Second, 3*time.Second, 1500*time.Millisecond
		}
		n, err := server.OpenNode(cfg, nd.ln, server.NodeOptions{Port: nd.port, Tune: tune})
		if err != nil {
			t.Fatalf("%s: OpenNode: %v", nd.id, err)
		}
		nd.n = n
		done := make(chan error, 1)
		go func() { done <- n.Server.Serve(nd.ln) }()
		t.Cleanup(func() {
			n.Server.Close()
			n.Group.Close()
			if err := <-done; err != nil {
				t.Errorf("%s: Serve: %v", nd.id, err)
			}
		})
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for i := range nodes[0].n.Groups {
			for _, nd := range nodes {
				if g := nd.n.Groups[i]; g != nil && g.Ready() {
					ready++
					break
				}
			}
		}
		for _, nd := range nodes {
			if ready == len(nodes[0].n.Groups) && nd.n.Group.Ready() {
				for _, f := range nodes {
					if f != nd {
						return f.ln.Addr().String()
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader within 60s")
		}
		time.Sleep(20 * time.Millisecond) // polling for an election, bounded
	}
}

// TestRandomDifferentialClusterMode is TestRandomDifferential against a
// one-node Redis Cluster holding every slot and a one-node sessiond with
// cluster-enabled yes: the keys fall in different slots, so multi-key
// commands over several of them must be refused with the same CROSSSLOT
// error, and everything else answered the same.
func TestRandomDifferentialClusterMode(t *testing.T) {
	first, seeds := randomSeeds(12)
	redisAddr := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if err := assignAllSlots(redisAddr); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	sessiondAddr := startSessiondNode(t, server.Config{ClusterEnabled: "yes"})
	runSeeds(t, first, seeds, redisAddr, sessiondAddr, false, randomMode{})
	t.Logf("%d seeds of %d commands from seed %d, in cluster mode", seeds, randomSteps, first)
}

// TestRandomDifferentialShards is TestRandomDifferential through one node
// of a three-node cluster with three shard groups (cluster mode off):
// three of the keys share a group ({x}a, {x}b, {x}c), the fourth (b,
// drawn less often) is in another, so the fanned-out commands (MGET, DEL, EXISTS, MSET, KEYS,
// SCAN...) gather replies from both groups and must still answer as
// redis-server does. A command, transaction or script call over both
// groups that sessiond refuses by design ends the run.
func TestRandomDifferentialShards(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	first, seeds := randomSeeds(12)
	redisAddr := startRedis(t)
	node := startNodes(t, 3)
	runSeeds(t, first, seeds, redisAddr, node, false, randomMode{keys: []string{"{x}a", "{x}b", "{x}c", "{x}a", "{x}b", "{x}c", "b"}, sharded: true})
	t.Logf("%d seeds of %d commands from seed %d, over three shard groups", seeds, randomSteps, first)
}
