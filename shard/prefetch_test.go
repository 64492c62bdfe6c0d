package shard

import (
	"fmt"
	"testing"
)

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

func TestWarm(t *testing.T) {
	for _, stripes := range []int{1, 2, 256} {
		t.Run(fmt.Sprint(stripes, " stripes"), func(t *testing.T) {
			st := New(Config{Stripes: stripes})
			var present, absent [][]byte
			for i := range 40 {
				k := fmt.Appendf(nil, "k%d", i)
				st.Apply(&Op{Kind: KindSet, Now: 1, Key: k, Args: [][]byte{[]byte("v")}})
				present = append(present, k)
				absent = append(absent, fmt.Appendf(nil, "missing%d", i))
			}
			st.Apply(&Op{Kind: KindSet, Now: 1, Key: []byte("empty"), Args: [][]byte{{}}})
			before := st.Digest()
			mixed := [][]byte{present[0], absent[0], present[1], present[1], []byte("empty"), absent[1], present[2]}
			for _, c := range []struct {
				name string
				keys [][]byte
				want int
			}{
				{"none", nil, 0},
				{"present, absent, repeated, empty value", mixed, 5},
				{"absent only", absent[:10], 0},
				{"only the first maxWarm are looked at", present, maxWarm},
			} {
				if got := st.Warm(c.keys); got != c.want {
					t.Errorf("%s: Warm = %d, want %d", c.name, got, c.want)
				}
			}
			if after := st.Digest(); after != before {
				t.Errorf("Warm changed the store: digest %s -> %s", before, after)
			}
			// Every stripe lock was released: a write still goes through.
			if r := st.Apply(&Op{Kind: KindSet, Now: 2, Key: present[0], Args: [][]byte{[]byte("w")}}); r.Kind != ROK {
				t.Errorf("SET after Warm: %+v", r)
			}
		})
	}
}
