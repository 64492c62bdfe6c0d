// Package shard holds sessiond's deterministic in-memory state: keys and
// their values, the typed operations (Op) that read and change them, the
// Result each operation produces, the binary codec that carries ops through
// the replication log, and Redis Cluster's slot math.
//
// The central contract: Store.Apply is deterministic. Given the same
// sequence of ops, every Store ends with the same data and returns the same
// results. Apply never reads the wall clock (time comes in Op.Now, stamped
// by the leader), draws no random numbers and never lets map iteration
// order reach a result or the data. Store.Read answers read-only ops from
// local state and may use randomness (RANDOMKEY, HRANDFIELD) because its
// answers are never replicated.
//
// See DESIGN.md for the locking rules and the value encodings.
package shard
