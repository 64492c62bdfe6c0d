package server

import (
	"fmt"
	"slices"
	"sort"
)

// Replica placement. With --replicas R below the number of nodes N, each
// shard group is a Raft group of R nodes only, so a node holds the data
// of R*G/N groups instead of all G, and a write is stored R times instead
// of N. The layout is fixed by the --peers list, which every node is
// given alike: with the node IDs sorted, group g is held by the R nodes
// from position g*N/G (rounded down), wrapping around. So with G = N
// group g starts at node g, and with fewer groups than nodes the groups
// start evenly apart. The first of a group's nodes is its preferred
// leader, so leaderships spread evenly (balance.go). A node that holds no replica of a group is still an
// endpoint for its keys: it forwards their commands to the group's leader,
// which it learns from the directory (directory.go).

// placement returns, for each of groups shard groups, the IDs of the
// replicas nodes that hold it, preferred leader first. ids need not be
// sorted; 1 <= replicas <= len(ids).
func placement(ids []string, groups, replicas int) [][]string {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	n := len(sorted)
	out := make([][]string, groups)
	for g := range out {
		start := g * n / groups
		for j := 0; j < replicas; j++ {
			out[g] = append(out[g], sorted[(start+j)%n])
		}
	}
	return out
}

// idle returns the nodes of ids that hold no group in place.
func idle(ids []string, place [][]string) []string {
	var out []string
	for _, id := range ids {
		held := false
		for _, ms := range place {
			held = held || slices.Contains(ms, id)
		}
		if !held {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// defaultReplicas is R when --replicas is not given: three, or every node
// of a smaller cluster (as ElastiCache's default of a primary and two
// replicas per shard).
const defaultReplicas = 3

// replicasFor returns the number of replicas per group for cfg on a
// cluster of nodes nodes, or an error for an impossible --replicas.
func replicasFor(cfg Config, nodes int) (int, error) {
	switch {
	case cfg.Replicas == 0:
		return min(defaultReplicas, nodes), nil
	case cfg.Replicas < 0 || cfg.Replicas > nodes:
		return 0, fmt.Errorf("--replicas %d: each shard group needs its replicas on distinct nodes, so replicas must be between 1 and the number of nodes (%d)", cfg.Replicas, nodes)
	}
	return cfg.Replicas, nil
}
