package shard

import (
	"fmt"
	"strings"
	"testing"
)

// TestZSetAlgebra checks the algebra ops against hand-computed results
// (tests/diff compares them with redis-server byte for byte): plain sets
// as sources, weights, aggregates, a key named twice, the destination
// among the sources, empty results deleting the destination, events.
func TestZSetAlgebra(t *testing.T) {
	var events []string
	s := New(Config{Stripes: 4})
	s.SetEventSink(func(e Event) {
		if e.Class != EventNew && e.Class != EventKeyMiss {
			events = append(events, e.Name+":"+e.Key)
		}
	})
	s.Apply(zop(KindZAdd, "a", 0, "1", "x", "2", "y", "3", "z"))
	s.Apply(zop(KindZAdd, "b", 0, "10", "y", "20", "z", "30", "w"))
	s.Apply(&Op{Kind: KindSAdd, Key: []byte("s"), Args: [][]byte{[]byte("y"), []byte("q")}})
	s.EnableEvents(true)
	alg := func(kind Kind, key string, n int64, keys ...string) *Op {
		op := zop(kind, key, n, keys...)
		op.At = int64(len(keys))
		return op
	}
	for _, c := range []struct {
		op   *Op
		want string
	}{
		{alg(KindZUnion, "a", ZAlgWithScores, "a", "b"), "x 1 y 12 z 23 w 30"},
		{alg(KindZUnion, "a", ZAlgWithScores, "a", "s"), "q 1 x 1 y 3 z 3"},
		{alg(KindZInter, "a", ZAlgWithScores|ZAggMax, "a", "s"), "y 2"},
		{alg(KindZInter, "a", ZAlgWithScores, "a", "a"), "x 2 y 4 z 6"},
		{alg(KindZDiff, "a", ZAlgWithScores, "a", "b"), "x 1"},
		{alg(KindZDiff, "a", 0, "a", "a"), ""},
		{alg(KindZInter, "a", 0, "a", "nokey"), ""},
		{alg(KindZUnion, "nokey", 0, "nokey"), ""},
	} {
		if got := zres(s.Read(c.op)); got != c.want {
			t.Errorf("%v %q: %q, want %q", c.op.Kind, c.op.Args, got, c.want)
		}
	}
	// Weights follow the keys; inf * 0 is 0, inf + -inf is 0.
	w := zop(KindZUnion, "a", ZAlgWithScores, "a", "b", "2", "-inf")
	w.At = 2
	if got := zres(s.Read(w)); got != "w -inf y -inf z -inf x 2" {
		t.Errorf("weighted union: %q", got)
	}
	if got := zres(s.Read(&Op{Kind: KindZInterCard, Key: []byte("a"), Args: [][]byte{[]byte("a"), []byte("b")}, N: 1})); got != "1" {
		t.Errorf("ZINTERCARD LIMIT 1: %s", got)
	}
	// The destination may be a source; an empty result deletes it.
	if got := zres(s.Apply(alg(KindZUnionStore, "a", 0, "a", "b"))); got != "4" {
		t.Errorf("ZUNIONSTORE a: %s", got)
	}
	if got := zres(s.Read(zop(KindZRange, "a", ZRangeWithScores, "0", "-1"))); got != "x 1 y 12 z 23 w 30" {
		t.Errorf("a after ZUNIONSTORE: %q", got)
	}
	if got := zres(s.Apply(alg(KindZInterStore, "a", 0, "a", "nokey"))); got != "0" {
		t.Errorf("empty ZINTERSTORE: %s", got)
	}
	if got := zres(s.Read(zop(KindExists, "a", 0))); got != "0" {
		t.Errorf("a after an empty ZINTERSTORE: exists %s", got)
	}
	if got := zres(s.Apply(zop(KindZRangeStore, "r", ZRangeByScore, "b", "15", "+inf", "0", "-1"))); got != "2" {
		t.Errorf("ZRANGESTORE: %s", got)
	}
	want := "zunionstore:a del:a zrangestore:r"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	// A key of another type anywhere: WRONGTYPE, nothing stored.
	s.Apply(zop(KindSet, "str", 0, "v"))
	if got := zres(s.Apply(alg(KindZDiffStore, "d", 0, "b", "str"))); !strings.Contains(got, "WRONGTYPE") {
		t.Errorf("ZDIFFSTORE over a string: %q", got)
	}
}

// TestZRandMember: distinct members for a positive count below the size
// (the whole set, highest first, at or above it), -count picks from the
// set for a negative one, nothing from a missing key.
func TestZRandMember(t *testing.T) {
	s := New(Config{Stripes: 1})
	var args []string
	for i := range 300 {
		args = append(args, fmt.Sprint(i), fmt.Sprintf("m%03d", i))
	}
	s.Apply(zop(KindZAdd, "z", 0, args...))
	op := func(n int64, seed int64) *Op {
		return &Op{Kind: KindZRandMember, Key: []byte("z"), N: n, At: seed, Flags: HasCount}
	}
	for seed := int64(1); seed < 20; seed++ {
		// 50 of 300 draws random ranks; 100 of 300 walks the set.
		for _, k := range []int64{50, 100} {
			r := s.Read(op(k, seed))
			seen := map[string]bool{}
			for _, v := range r.Vals {
				if seen[v.S] || !strings.HasPrefix(v.S, "m") {
					t.Fatalf("seed %d: bad or repeated pick %q", seed, v.S)
				}
				seen[v.S] = true
			}
			if len(seen) != int(k) {
				t.Fatalf("seed %d: %d picks of %d", seed, len(seen), k)
			}
		}
		if n := len(s.Read(op(-500, seed)).Vals); n != 500 {
			t.Fatalf("seed %d: %d picks for -500", seed, n)
		}
	}
	all := s.Read(op(1000, 1)).Vals
	if len(all) != 300 || all[0].S != "m299" || all[299].S != "m000" {
		t.Fatalf("whole set: %d members from %q", len(all), all[0].S)
	}
	if r := s.Read(&Op{Kind: KindZRandMember, Key: []byte("none"), At: 1}); r.Kind != RNil {
		t.Fatalf("missing key: %v", r.Kind)
	}
}

// TestStoreSourcesCountAsReads: the sources of the STORE commands and
// COPY are read lookups in Redis, counted in keyspace_hits and
// keyspace_misses (the destination is not).
func TestStoreSourcesCountAsReads(t *testing.T) {
	s := New(Config{Stripes: 4})
	s.Apply(zop(KindZAdd, "a", 0, "1", "x"))
	s.Apply(&Op{Kind: KindSAdd, Key: []byte("s"), Args: [][]byte{[]byte("x")}})
	for _, c := range []struct {
		op           *Op
		hits, misses int64
	}{
		{&Op{Kind: KindZUnionStore, Key: []byte("d"), At: 2, Args: [][]byte{[]byte("a"), []byte("nokey")}}, 1, 1},
		{&Op{Kind: KindZDiffStore, Key: []byte("d"), At: 1, Args: [][]byte{[]byte("a")}}, 1, 0},
		{zop(KindZRangeStore, "d", 0, "nokey", "0", "-1", "0", "-1"), 0, 1},
		{&Op{Kind: KindSUnionStore, Key: []byte("d"), Args: [][]byte{[]byte("s"), []byte("nokey")}}, 1, 1},
		{&Op{Kind: KindCopy, Key: []byte("a"), Args: [][]byte{[]byte("c")}}, 1, 0},
		{&Op{Kind: KindCopy, Key: []byte("nokey"), Args: [][]byte{[]byte("c")}}, 0, 1},
	} {
		h0, m0 := s.Stats().Hits.Load(), s.Stats().Misses.Load()
		s.Apply(c.op)
		if h, m := s.Stats().Hits.Load()-h0, s.Stats().Misses.Load()-m0; h != c.hits || m != c.misses {
			t.Errorf("kind %d: hits %d misses %d, want %d %d", c.op.Kind, h, m, c.hits, c.misses)
		}
	}
}
