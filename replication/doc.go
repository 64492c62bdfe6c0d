// Package replication replicates a shard.Store with Raft.
//
// A Group is one Raft group: hashicorp/raft with raft-boltdb/v2 as its log
// and stable store and a file snapshot store under its directory, and an
// FSM that applies encoded shard.Ops to the store in log order. Writes go
// through Group.Apply, which batches the ops of many connections into one
// log entry (group commit) and returns once a majority has the entry and
// the local store has applied it. Reads are answered by the caller from
// the local store after Group.ReadBarrier says it may (lease or
// linearizable). See DESIGN.md for the contracts and on-disk formats.
package replication
