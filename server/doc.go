// Package server is sessiond's RESP edge: it accepts connections, parses
// requests, looks commands up in a table built by New, turns arguments into
// typed shard.Ops, sends writes through an Applier and reads to the local
// Store, and writes replies in RESP2 or RESP3. Go errors become RESP error
// lines here and nowhere else.
//
// Concurrency: one goroutine per connection reads a batch of pipelined
// commands, executes them in order and writes all replies with one write.
package server
