// Package bench measures sessiond side by side with redis-server.
//
// A comparison (Run) starts a fresh redis-server and a fresh sessiond for
// every pass, pins each server to one CPU and the load generators to
// another with taskset, prepopulates the keys the read workloads need, and
// drives each workload with redis-benchmark, or, for the session mix that
// redis-benchmark cannot express, with this package's own load generator
// (RunMix). Rounds alternate which server goes first, so slow drift of the
// machine (other jobs, thermal limits) falls on both servers alike; the
// report gives the median of each figure over the rounds and the ratio
// sessiond/redis. A memory pass loads the same number of ten-field session
// hashes into each server and reports bytes per session from INFO memory
// and from the process RSS.
//
// The replication suite (RunReplication) compares a one-member sessiond
// Raft group and a three-node sessiond cluster, all pinned to the same
// CPU, with redis-server using the append-only file fsynced every second,
// on fresh servers for every workload and pipeline depth.
//
// The package imports only the standard library: it speaks RESP itself
// (resp.go) so that it measures the servers, not a client library.
package bench
