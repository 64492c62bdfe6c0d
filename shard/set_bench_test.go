package shard

import (
	"strconv"
	"testing"
)

// BenchmarkSetAddThenRandMember alternates an SADD of a new member and
// an SRANDMEMBER on a set of 100,000 members (a pool of session ids
// drawn from while it grows): each SRANDMEMBER needs the members in
// their canonical order, which the add has just changed.
func BenchmarkSetAddThenRandMember(b *testing.B) {
	s := New(Config{Stripes: 4})
	add := func(m string) {
		op := Op{Kind: KindSAdd, Key: []byte("pool"), Args: [][]byte{[]byte(m)}, Now: 1}
		s.Apply(&op)
	}
	for i := range 100_000 {
		add("sess:" + strconv.Itoa(i))
	}
	b.ResetTimer()
	for i := range b.N {
		add("new:" + strconv.Itoa(i))
		op := Op{Kind: KindSRandMember, Key: []byte("pool"), Now: 1, At: int64(i) + 1}
		if r := s.Apply(&op); r.Kind != RStr {
			b.Fatalf("SRANDMEMBER answered kind %d", r.Kind)
		}
	}
}
