package diff

import (
	"fmt"
	"net"
	"os"
	"strconv"
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
	seeds := 12
	if s, err := strconv.Atoi(os.Getenv("DIFF_RANDOM_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	first := int64(1)
	if s, err := strconv.ParseInt(os.Getenv("DIFF_RANDOM_SEED"), 10, 64); err == nil {
		first, seeds = s, 1
	}
	redisAddr := startRedis(t)
	follower := startFollower(t)
	failed := 0
	for seed := first; seed < first+int64(seeds) && failed < 3; seed++ {
		if !runRandom(t, seed, redisAddr, follower, modeOf(seed, false)) {
			failed++
		}
	}
	t.Logf("%d seeds of %d commands from seed %d, through a follower", seeds, randomSteps, first)
}

// startFollower starts three in-process nodes forming one Raft group
// (real TCP on loopback, raft-boltdb in temporary directories) and
// returns the client address of a node that is not the leader.
func startFollower(t *testing.T) string {
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
		cfg := server.Config{NodeID: nd.id, Dir: t.TempDir(), Peers: strings.Join(peers, ","), Bind: "127.0.0.1"}
		n, err := server.OpenNode(cfg, nd.ln, server.NodeOptions{Port: nd.port})
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, nd := range nodes {
			if nd.n.Group.Ready() {
				for _, f := range nodes {
					if f != nd {
						return f.ln.Addr().String()
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader within 30s")
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
	seeds := 12
	if s, err := strconv.Atoi(os.Getenv("DIFF_RANDOM_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	first := int64(1)
	if s, err := strconv.ParseInt(os.Getenv("DIFF_RANDOM_SEED"), 10, 64); err == nil {
		first, seeds = s, 1
	}
	redisAddr := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if err := assignAllSlots(redisAddr); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	sessiondAddr := startSessiondNode(t, server.Config{ClusterEnabled: "yes"})
	failed := 0
	for seed := first; seed < first+int64(seeds) && failed < 3; seed++ {
		if !runRandom(t, seed, redisAddr, sessiondAddr, modeOf(seed, false)) {
			failed++
		}
	}
	t.Logf("%d seeds of %d commands from seed %d, in cluster mode", seeds, randomSteps, first)
}
