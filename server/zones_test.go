package server

import (
	"context"
	"testing"
	"time"
)

// TestZonesSpread: four nodes in zones a a b c, four groups of three
// placed without zones (groups 0 and 3 get two replicas in zone a); the
// groups' leaders move replicas until every group has one in each zone,
// and every key stays readable through every node.
func TestZonesSpread(t *testing.T) {
	zones := []string{"a", "a", "b", "c"}
	cfg := Config{Shards: 4, Replicas: 3}
	tc := startClusterWith(t, 4, cfg, func(i int, c *Config) { c.Zone = zones[i] }, nil)
	for g := range 4 {
		tc.groupLeader(g)
	}
	tc.waitDirectories()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := tc.writeKeys(ctx, 100)
	zoneOf := map[string]string{"n1": "a", "n2": "a", "n3": "b", "n4": "c"}
	waitFor(t, "every group to have a replica in each of the three zones", func() bool {
		for g := range 4 {
			vs := tc.groupVoters(g)
			seen := map[string]bool{}
			for _, v := range vs {
				seen[zoneOf[v]] = true
			}
			if len(vs) != 3 || len(seen) != 3 {
				return false
			}
		}
		return true
	})
	tc.waitVoters(3)
	tc.convergeHeld()
	tc.readAll(ctx, want)
	for g := range 4 {
		t.Logf("group %d: %v", g, tc.groupVoters(g))
	}
}
