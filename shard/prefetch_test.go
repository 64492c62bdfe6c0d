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

// TestWarmMembers: WarmMembers finds the members of big sets, sorted
// sets and hashes (small sets and lists, and strings, are not looked
// into), counts them apart from keys, and changes nothing.
func TestWarmMembers(t *testing.T) {
	st := New(Config{Stripes: 4})
	apply := func(kind Kind, key string, args ...string) {
		t.Helper()
		op := Op{Kind: kind, Now: 1, Key: []byte(key)}
		for _, a := range args {
			op.Args = append(op.Args, []byte(a))
		}
		if r := st.Apply(&op); r.Kind == RErr {
			t.Fatalf("%v %s: %+v", kind, key, r)
		}
	}
	for i := range 300 { // past every listpack limit
		m := fmt.Sprintf("member:%d", i)
		apply(KindSAdd, "set", m)
		apply(KindZAdd, "zset", "1", m)
		apply(KindHSet, "hash", m, "v")
	}
	apply(KindSAdd, "smallset", "a", "b")
	apply(KindSAdd, "intset", "1", "2")
	apply(KindSet, "str", "member:1")
	before := st.Digest()
	b := func(s string) []byte { return []byte(s) }
	for _, c := range []struct {
		name          string
		keys, members [][]byte
		keysFound     int
		membersFound  int64
	}{
		{"no members", [][]byte{b("set"), b("zset")}, nil, 2, 0},
		{"present", [][]byte{b("set"), b("zset"), b("hash")}, [][]byte{b("member:7"), b("member:8"), b("member:9")}, 3, 3},
		{"absent", [][]byte{b("set"), b("zset"), b("hash")}, [][]byte{b("nope"), b("nope"), b("")}, 3, 0},
		{"nil member: key only", [][]byte{b("set"), b("hash")}, [][]byte{nil, b("member:1")}, 2, 1},
		{"small set, intset, string, missing key", [][]byte{b("smallset"), b("intset"), b("str"), b("missing")},
			[][]byte{b("a"), b("1"), b("member:1"), b("member:1")}, 3, 0},
	} {
		m0 := st.WarmedMembers()
		if got := st.WarmMembers(c.keys, c.members); got != c.keysFound {
			t.Errorf("%s: WarmMembers = %d keys, want %d", c.name, got, c.keysFound)
		}
		if got := st.WarmedMembers() - m0; got != c.membersFound {
			t.Errorf("%s: %d members found, want %d", c.name, got, c.membersFound)
		}
	}
	// Prefetch (a log entry's ops) looks up the first member or field an
	// op adds or removes.
	op := func(kind Kind, key string, args ...string) Op {
		o := Op{Kind: kind, Now: 1, Key: []byte(key)}
		for _, a := range args {
			o.Args = append(o.Args, []byte(a))
		}
		return o
	}
	m0 := st.WarmedMembers()
	st.Prefetch([]Op{
		op(KindSAdd, "set", "member:1", "x"), op(KindSRem, "set", "absent"),
		op(KindZAdd, "zset", "2", "member:2"), op(KindZRem, "zset", "member:3"),
		op(KindHSet, "hash", "member:4", "v"), op(KindHDel, "hash", "member:5"),
		op(KindSAdd, "smallset", "a"), op(KindGet, "set"),
		{Kind: KindMulti, Subs: []Op{op(KindSAdd, "set", "member:6")}},
	})
	if got := st.WarmedMembers() - m0; got != 6 {
		t.Errorf("Prefetch found %d members, want 6", got)
	}
	if after := st.Digest(); after != before {
		t.Errorf("WarmMembers changed the store: digest %s -> %s", before, after)
	}
}
