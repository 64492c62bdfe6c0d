package server

import (
	"fmt"
	"sort"
)

// Replica placement. With --replicas R below the number of nodes N, each
// shard group is a Raft group of R nodes only, so a node holds the data
// of R*G/N groups instead of all G, and a write is stored R times instead
// of N. The layout is fixed by the --peers list, which every node is
// given alike: with the node IDs sorted, group g is held by the R nodes
// that follow position g mod N, wrapping around. The first of them is the
// group's preferred leader, so leaderships spread one per node while
// G = N (balance.go). A node that holds no replica of a group is still an
// endpoint for its keys: it forwards their commands to the group's leader,
// which it learns from the directory (directory.go).

// placement returns, for each of groups shard groups, the IDs of the
// replicas nodes that hold it, preferred leader first. ids need not be
// sorted; 1 <= replicas <= len(ids).
func placement(ids []string, groups, replicas int) [][]string {
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	out := make([][]string, groups)
	for g := range out {
		for j := 0; j < replicas; j++ {
			out[g] = append(out[g], sorted[(g+j)%len(sorted)])
		}
	}
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
