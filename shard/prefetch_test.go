package shard

import "testing"

// TestPrefetchChangesNothing checks that Prefetch finds the keys that
// exist (including those of a MULTI's ops), creates none, and leaves the
// store's digest and versions as they were.
func TestPrefetchChangesNothing(t *testing.T) {
	s := snStore(4)
	s.Apply(ptr(hop(KindSet, snT0, "a", "1")))
	s.Apply(ptr(hop(KindSet, snT0, "b", "2")))
	before := s.Digest()
	n, _ := s.Len()
	ops := []Op{
		hop(KindSet, snT0, "a", "x"),
		hop(KindSet, snT0, "missing", "x"),
		{Kind: KindMulti, Subs: []Op{hop(KindGet, snT0, "b"), hop(KindGet, snT0, "nope")}},
		{Kind: KindDBSize},
	}
	s.Prefetch(ops)
	if got := s.warmed.Load(); got != 2 {
		t.Fatalf("Prefetch found %d keys, want 2 (a, b)", got)
	}
	if m, _ := s.Len(); s.Digest() != before || m != n {
		t.Fatalf("Prefetch changed the store: digest %s -> %s, %d -> %d keys", before, s.Digest(), n, m)
	}
	// The stripes are unlocked again: an Apply must not block.
	if r := s.Apply(ptr(hop(KindGet, snT0, "a"))); r.Str != "1" {
		t.Fatalf("GET a after Prefetch: %+v", r)
	}
}
