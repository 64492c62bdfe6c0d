package shard

import (
	"strings"
	"testing"
)

// benchListLen is the length of the list the list benchmarks work on:
// large enough that the list's layout, not the op's fixed cost, shows.
const benchListLen = 1_000_000

// benchVal is the 64-byte element redis-benchmark's LPUSH pushes.
var benchVal = []byte(strings.Repeat("x", 64))

// benchList returns a store holding key "l", a list of n copies of
// benchVal.
func benchList(b *testing.B, n int) *Store {
	b.Helper()
	s := listStore()
	const batch = 1000
	op := Op{Kind: KindRPush, Now: listT0, Key: []byte("l")}
	for range batch {
		op.Args = append(op.Args, benchVal)
	}
	for left := n; left > 0; left -= batch {
		o := op
		o.Args = op.Args[:min(batch, left)]
		if r := s.Apply(&o); r.Kind != RInt {
			b.Fatalf("prefill: %s", fmtRes(r))
		}
	}
	return s
}

func benchPush(b *testing.B, kind Kind) {
	s := benchList(b, benchListLen)
	op := Op{Kind: kind, Now: listT0, Key: []byte("l"), Args: [][]byte{benchVal}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		o := op
		s.Apply(&o)
	}
}

func BenchmarkListLPush(b *testing.B) { benchPush(b, KindLPush) }
func BenchmarkListRPush(b *testing.B) { benchPush(b, KindRPush) }

func BenchmarkListLPop(b *testing.B) {
	s := benchList(b, benchListLen+b.N)
	op := Op{Kind: KindLPop, Now: listT0, Key: []byte("l")}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		o := op
		if r := s.Apply(&o); r.Kind != RStr {
			b.Fatalf("LPOP: %s", fmtRes(r))
		}
	}
}

// BenchmarkListLIndex reads elements spread over the whole list.
func BenchmarkListLIndex(b *testing.B) {
	s := benchList(b, benchListLen)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		op := Op{Kind: KindLIndex, Now: listT0, Key: []byte("l"), N: int64(i*7919) % benchListLen}
		if r := s.Read(&op); r.Kind != RStr {
			b.Fatalf("LINDEX: %s", fmtRes(r))
		}
	}
}

// BenchmarkListLIndexEnds reads the first and last elements.
func BenchmarkListLIndexEnds(b *testing.B) {
	s := benchList(b, benchListLen)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		op := Op{Kind: KindLIndex, Now: listT0, Key: []byte("l"), N: -int64(i & 1)}
		if r := s.Read(&op); r.Kind != RStr {
			b.Fatalf("LINDEX: %s", fmtRes(r))
		}
	}
}

// BenchmarkListLRange100 is redis-benchmark's LRANGE_100 (0 99) on a
// large list.
func BenchmarkListLRange100(b *testing.B) {
	s := benchList(b, benchListLen)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		op := Op{Kind: KindLRange, Now: listT0, Key: []byte("l"), N: 0, At: 99}
		if r := s.Read(&op); len(r.Vals) != 100 {
			b.Fatalf("LRANGE: %s", fmtRes(r))
		}
	}
}

// BenchmarkListLRangeMid100 reads 100 elements at offsets spread over the
// list (locating the start is part of the cost).
func BenchmarkListLRangeMid100(b *testing.B) {
	s := benchList(b, benchListLen)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := int64(i*7919) % (benchListLen - 100)
		op := Op{Kind: KindLRange, Now: listT0, Key: []byte("l"), N: start, At: start + 99}
		if r := s.Read(&op); len(r.Vals) != 100 {
			b.Fatalf("LRANGE: %s", fmtRes(r))
		}
	}
}
