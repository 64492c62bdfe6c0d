package server

import (
	"context"
	"testing"
	"time"
)

// TestShardsLeaveWhileJoinRuns: a node removed from a group by
// SESSIOND-LEAVE right after it joined is not added back by its own join
// loop, still running for the cluster's other groups (it was: the loop
// saw itself out of group 0 and asked to join it again).
func TestShardsLeaveWhileJoinRuns(t *testing.T) {
	tc := startSharded(t, 3, 4, Config{})
	ctx := context.Background()
	c1 := tc.client(tc.nodes[0])
	tc.addJoiner("n4")
	waitMembers(t, tc, "n1", "n2", "n3", "n4")
	if err := c1.Do(ctx, "SESSIOND-LEAVE", "n4", "0").Err(); err != nil {
		t.Fatalf("SESSIOND-LEAVE n4 0: %v", err)
	}
	g0 := tc.nodes[0].node.Groups[0]
	inG0 := func() bool {
		for _, m := range g0.Servers() {
			if m.ID == "n4" {
				return true
			}
		}
		return false
	}
	// n1 may learn of the removal a little after the leader.
	waitFor(t, "n1 to see n4 out of group 0", func() bool { return !inG0() })
	// A re-join would come within one join retry (500 ms); watch for
	// several.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if inG0() {
			t.Fatalf("n4 is back in group 0 after SESSIOND-LEAVE answered OK: %+v", g0.Servers())
		}
		time.Sleep(20 * time.Millisecond) // polling the configuration, bounded
	}
}
