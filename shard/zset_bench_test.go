package shard

import (
	"strconv"
	"testing"
)

// BenchmarkZSetInsert adds members with one score (session ids into an
// expirations set) to a sorted set that already holds a million: the
// search of Redis's skiplist is all cache misses; the tree's upper levels
// stay in the cache.
func BenchmarkZSetInsert(b *testing.B) {
	z := newZSet()
	z.big = true
	for i := range 1_000_000 {
		z.add("sess:"+strconv.Itoa(i*7919%1_000_003), 1.7e12)
	}
	ms := make([]string, b.N)
	for i := range ms {
		ms[i] = "sess:x" + strconv.Itoa(i*104729%(b.N+1))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, ok := z.dict[ms[i]]; !ok {
			z.add(ms[i], 1.7e12)
		}
	}
}
