package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestJoinRealProcess starts a three-node cluster, writes to it, then
// starts a fourth bin/sessiond with --join (and no --peers) pointed at a
// follower: the new process must become a voter, catch up, and end with
// the same digest; SESSIOND-LEAVE then removes it.
func TestJoinRealProcess(t *testing.T) {
	nodes := startNodes(t, []string{"n1", "n2", "n3"}, true)
	leader := findLeader(t, nodes, 30*time.Second)
	ctx := context.Background()
	lc := newClient(leader.addr(), 10*time.Second)
	defer lc.Close()
	for i := range 500 {
		if err := lc.Set(ctx, fmt.Sprintf("pre:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var follower *node
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	n4 := startNodes(t, []string{"n4"}, false, "--join", follower.addr())[0]
	c4 := newClient(n4.addr(), 10*time.Second)
	defer c4.Close()
	voters := func(n *node) string {
		c := lc
		if n == n4 {
			c = c4
		}
		m, err := info(ctx, c, "raft")
		if err != nil {
			return err.Error()
		}
		v := strings.Split(m["raft_voters"], ",")
		sort.Strings(v)
		return strings.Join(v, ",")
	}
	deadline := time.Now().Add(30 * time.Second)
	for voters(n4) != "n1,n2,n3,n4" || voters(leader) != "n1,n2,n3,n4" {
		if time.Now().After(deadline) {
			t.Fatalf("n4 never joined: n4 sees %q, the leader %q", voters(n4), voters(leader))
		}
		time.Sleep(50 * time.Millisecond) // polling for the configuration change, bounded
	}
	all := append(append([]*node{}, nodes...), n4)
	waitDigestsEqual(t, all, 30*time.Second)
	if err := c4.Set(ctx, "via-n4", "x", 0).Err(); err != nil {
		t.Fatalf("write through the joined node: %v", err)
	}
	if err := lc.Do(ctx, "SESSIOND-LEAVE", "n4").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n4: %v", err)
	}
	n4.kill()
	deadline = time.Now().Add(30 * time.Second)
	for voters(leader) != "n1,n2,n3" {
		if time.Now().After(deadline) {
			t.Fatalf("n4 never left: %q", voters(leader))
		}
		time.Sleep(50 * time.Millisecond) // polling for the configuration change, bounded
	}
	waitDigestsEqual(t, nodes, 30*time.Second)
}
