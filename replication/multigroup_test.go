package replication

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"sessiond/shard"
)

// TestGroupsShareAPort runs two Raft groups on three nodes, each node
// with one Port for both (the connections carry their group's byte):
// each group elects its own leader, replicates its own writes to its own
// stores only, and a node closing one group keeps the other running.
func TestGroupsShareAPort(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	const nodes, groups = 3, 2
	ports := make([]*Port, nodes)
	peers := map[string]string{}
	for i := range ports {
		p, err := Listen("127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
		peers[fmt.Sprintf("n%d", i+1)] = p.Addr().String()
	}
	base := t.TempDir()
	gs := make([][]*Group, groups)
	stores := make([][]*shard.Store, groups)
	for g := range groups {
		for i := range nodes {
			st := shard.New(shard.Config{})
			grp, err := Open(Config{
				NodeID: fmt.Sprintf("n%d", i+1), Dir: filepath.Join(base, fmt.Sprintf("n%d", i+1), fmt.Sprintf("g%d", g)),
				Port: ports[i], GroupID: byte(g), Peers: peers, Store: st,
				ClientAddr:       fmt.Sprintf("127.0.0.1:%d", 7000+i),
				HeartbeatTimeout: 400 * time.Millisecond, ElectionTimeout: 400 * time.Millisecond,
				LeaderLeaseTimeout: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("open group %d on n%d: %v", g, i+1, err)
			}
			gs[g] = append(gs[g], grp)
			stores[g] = append(stores[g], st)
		}
	}
	defer func() {
		for _, row := range gs {
			for _, g := range row {
				g.Close()
			}
		}
	}()
	leader := func(g int) *Group {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, grp := range gs[g] {
				if grp.Ready() {
					return grp
				}
			}
			time.Sleep(10 * time.Millisecond) // polling for the election, bounded
		}
		t.Fatalf("group %d elected no leader", g)
		return nil
	}
	for g := range groups {
		l := leader(g)
		for k := range 50 {
			set(t, l, fmt.Sprintf("g%d:k%d", g, k), "v")
		}
	}
	// Every store of a group converges on its group's keys and has none
	// of the other group's.
	deadline := time.Now().Add(20 * time.Second)
	for g := range groups {
		for i, st := range stores[g] {
			for get(st, fmt.Sprintf("g%d:k49", g)) != "v" {
				if time.Now().After(deadline) {
					t.Fatalf("group %d's store on n%d never got its writes", g, i+1)
				}
				time.Sleep(10 * time.Millisecond) // polling for replication, bounded
			}
			if get(st, fmt.Sprintf("g%d:k0", 1-g)) != "<nil>" {
				t.Fatalf("group %d's store on n%d holds the other group's key", g, i+1)
			}
		}
	}
	// Closing group 0 everywhere leaves group 1 (and the ports) working.
	for _, grp := range gs[0] {
		grp.Close()
	}
	set(t, leader(1), "after", "v")
	for i, st := range stores[1] {
		for get(st, "after") != "v" {
			if time.Now().After(deadline.Add(10 * time.Second)) {
				t.Fatalf("group 1 on n%d stopped replicating after group 0 closed", i+1)
			}
			time.Sleep(10 * time.Millisecond) // polling for replication, bounded
		}
	}
}
