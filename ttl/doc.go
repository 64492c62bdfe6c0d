// Package ttl holds everything about time in sessiond: the Clock interface
// that every other package reads time through, a deadline Index that finds
// the keys whose expiry has come, and the Reaper loop that asks for them to
// be reclaimed.
//
// ttl imports only the standard library. It knows nothing about keys'
// values, Raft or RESP: keys are opaque strings and deadlines are absolute
// Unix milliseconds.
package ttl
