package shard

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"testing"
)

var hexDigest = regexp.MustCompile(`^[0-9a-f]{40}$`)

func TestDigestEmpty(t *testing.T) {
	s := snStore(4)
	if d := s.Digest(); d != zeroDigest {
		t.Fatalf("empty store: %s", d)
	}
	if d := s.DigestValue([]byte("nope")); d != zeroDigest {
		t.Fatalf("missing key: %s", d)
	}
	s.Apply(ptr(hop(KindSet, snT0, "k", "v")))
	s.Apply(ptr(hop(KindGetDel, snT0, "k")))
	if d := s.Digest(); d != zeroDigest {
		t.Fatalf("emptied store: %s", d)
	}
}

// TestDigestSameOps checks that stores of any stripe count that apply
// the same ops agree after every op, and that the digest moves.
func TestDigestSameOps(t *testing.T) {
	stores := []*Store{snStore(1), snStore(4), snStore(256)}
	rnd := rand.New(rand.NewPCG(5, 5))
	now := int64(snT0)
	changes := 0
	prev := zeroDigest
	for i := range 400 {
		op := snOp(rnd, &now, nil)
		var ds []string
		for _, s := range stores {
			o := op
			s.Apply(&o)
			ds = append(ds, s.Digest())
		}
		if ds[0] != ds[1] || ds[0] != ds[2] || !hexDigest.MatchString(ds[0]) {
			t.Fatalf("op %d (%v): digests %q", i, op.Kind, ds)
		}
		if ds[0] != prev {
			changes++
		}
		prev = ds[0]
	}
	if changes < 100 {
		t.Fatalf("digest changed %d times in 400 ops", changes)
	}
}

// TestDigestSensitive checks that each kind of difference in content
// changes the digest, and that what is not content (write order, hence
// versions and access clocks) does not.
func TestDigestSensitive(t *testing.T) {
	n := int64(snT0)
	set := func(k, v string) Op { return hop(KindSet, n, k, v) }
	hset := func(k string, fv ...string) Op { return hop(KindHSet, n, k, fv...) }
	base := []Op{set("a", "1"), hset("h", "f", "1", "g", "2"), hset("H", "f", snBig(1), "g", "2")}
	cases := []struct {
		name string
		ops  []Op
		same bool
	}{
		{"write order", []Op{hset("H", "f", snBig(1), "g", "2"), hset("h", "f", "1", "g", "2"), set("a", "1")}, true},
		{"rewritten", append(append([]Op{set("a", "0")}, base...), set("a", "1")), true},
		{"string value", append(base, set("a", "2")), false},
		{"key name", []Op{set("b", "1"), base[1], base[2]}, false},
		{"extra key", append(base, set("c", "")), false},
		{"key deadline", append(base, with(hop(KindExpire, n, "a"), 0, n+10, 0)), false},
		{"other key deadline", []Op{base[0], base[1], base[2], with(hop(KindExpire, n, "a"), 0, n+11, 0)}, false},
		{"field order", []Op{base[0], hset("h", "g", "2", "f", "1"), base[2]}, false},
		{"field deadline", append(base, with(hop(KindHExpire, n, "h", "g"), 0, n+10, 0)), false},
		{"big field deadline", append(base, with(hop(KindHExpire, n, "H", "g"), 0, n+10, 0)), false},
		{"big field value", append(base, hset("H", "g", "3")), false},
		{"type", []Op{base[0], set("h", "f1g2"), base[2]}, false},
	}
	digest := func(ops []Op) string {
		s := snStore(4)
		for _, op := range ops {
			s.Apply(&op)
		}
		return s.Digest()
	}
	want := digest(base)
	for _, tc := range cases {
		if got := digest(tc.ops); (got == want) != tc.same {
			t.Errorf("%s: digest %s, base %s, want same=%v", tc.name, got, want, tc.same)
		}
	}
	// A field expired with the key not yet reaped is still content.
	s := snStore(4)
	for _, op := range append(base, with(hop(KindHExpire, n, "h", "g"), 0, n+10, 0)) {
		s.Apply(&op)
	}
	before := s.Digest()
	reap := hop(KindReap, n+20, "")
	reap.Args = hbs("h")
	s.Apply(&reap)
	if s.Digest() == before {
		t.Error("reaping a field did not change the digest")
	}
}

func TestDigestValue(t *testing.T) {
	n := int64(snT0)
	s := snStore(4)
	s.Apply(ptr(hop(KindSet, n, "a", "v")))
	s.Apply(ptr(hop(KindSet, n, "b", "v")))
	s.Apply(ptr(hop(KindSet, n, "c", "w")))
	s.Apply(ptr(with(hop(KindSet, n, "d", "v"), 0, n+100, 0)))
	s.Apply(ptr(hop(KindHSet, n, "h", "v", "")))
	dv := func(k string) string { return s.DigestValue([]byte(k)) }
	if dv("a") != dv("b") || !hexDigest.MatchString(dv("a")) {
		t.Errorf("equal values: %s %s", dv("a"), dv("b"))
	}
	for _, k := range []string{"c", "d", "h"} {
		if dv(k) == dv("a") || dv(k) == zeroDigest {
			t.Errorf("%s: %s", k, dv(k))
		}
	}
	// Still stored after its deadline until reaped, as in Redis.
	s.Apply(ptr(hop(KindGet, n+200, "zz")))
	if dv("d") == zeroDigest {
		t.Error("expired, unreaped key has no digest")
	}
}

// TestDigestConcurrent runs Digest alongside writes, under -race.
func TestDigestConcurrent(t *testing.T) {
	s := snStore(8)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 300 {
			s.Apply(ptr(hop(KindHSet, snT0, fmt.Sprintf("k%d", i%10), "f", snBig(i))))
		}
	}()
	for range 20 {
		if d := s.Digest(); !hexDigest.MatchString(d) && d != zeroDigest {
			t.Fatalf("digest %q", d)
		}
	}
	wg.Wait()
	if s.Digest() != s.Snapshot().Digest() {
		t.Fatal("snapshot digest differs")
	}
}
