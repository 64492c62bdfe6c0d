// Package cluster holds sessiond's crash tests: they start real
// bin/sessiond processes (built once by TestMain into a temporary
// directory), write to them with go-redis, kill -9 them and check that no
// acknowledged write is lost.
//
//   - TestKillLeader runs a three-node Raft group under continuous writes
//     through every node and kills the leader 20 times, restarting it on
//     its data directory each time. Every acknowledged key must be
//     readable afterwards with its value, and all nodes' DEBUG DIGEST must
//     agree. The failover times (kill to the first acknowledged write
//     through a survivor) are logged, and written to the file named by
//     SESSIOND_FAILOVER_REPORT when set; they are never asserted.
//   - TestKillSingleNode kills a one-member node and restarts it: every
//     acknowledged key is back and TTLs keep their absolute deadline.
//
// The tests take tens of seconds and are skipped under -short. Setting
// CLUSTER_RACE=1 builds sessiond with the race detector.
package cluster
