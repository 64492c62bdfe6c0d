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

// TestZonesRollingRestart: zones given one node at a time, in a rolling
// restart of six nodes holding six groups of three. While a running node
// has no zone nothing moves (the first nodes given one would otherwise
// draw every group's replica); once all have one, every group spreads
// over the three zones and the counts stay near three each.
func TestZonesRollingRestart(t *testing.T) {
	final := []string{"a", "b", "c", "a", "b", "c"}
	zones := make([]string, 6)
	tc := startClusterWith(t, 6, Config{Shards: 6, Replicas: 3}, func(i int, c *Config) { c.Zone = zones[i] }, nil)
	for g := range 6 {
		tc.groupLeader(g)
	}
	tc.waitDirectories()
	for i, tn := range tc.nodes[:5] {
		tc.stop(tn)
		zones[i] = final[i]
		tc.open(tn)
		tc.waitDirectories()
		for id, n := range tc.heldCounts() {
			if n != 3 {
				t.Fatalf("after %s restarted in zone %s, with nodes still without a zone: %s holds %d groups, want 3 (nothing moves yet)",
					tn.id, zones[i], id, n)
			}
		}
	}
	tc.stop(tc.nodes[5])
	zones[5] = final[5]
	tc.open(tc.nodes[5])
	zoneOf := func(id string) string { return final[id[1]-'1'] }
	waitFor(t, "every group to spread over the three zones", func() bool {
		for g := range 6 {
			seen := map[string]bool{}
			vs := tc.groupVoters(g)
			for _, v := range vs {
				seen[zoneOf(v)] = true
			}
			if len(vs) != 3 || len(seen) != 3 {
				return false
			}
		}
		return true
	})
	tc.waitVoters(3)
	for id, n := range tc.heldCounts() {
		if n < 2 || n > 4 {
			t.Errorf("%s holds %d groups; six groups of three over six nodes is three each (all: %v)", id, n, tc.heldCounts())
		}
	}
}
