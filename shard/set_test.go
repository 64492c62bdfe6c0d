package shard

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sessiond/ttl"
)

const setT0 = 1_700_000_000_000

func setStore() *Store {
	return New(Config{Stripes: 4, Clock: ttl.NewFakeClock(ttl.SystemClock{}.Now())})
}

// sop builds a set op at setT0 on key with args.
func sop(kind Kind, key string, args ...string) Op {
	return hop(kind, setT0, key, args...)
}

// sapply applies op and renders its result.
func sapply(s *Store, op Op) string { return fmtRes(s.Apply(&op)) }

// sorted renders a result's values sorted (for unordered replies).
func sortedVals(r Result) string {
	var out []string
	for _, v := range r.Vals {
		out = append(out, v.S)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

func setEncodingOf(t *testing.T, s *Store, key string) string {
	t.Helper()
	e, ok := rawEntry(s, key)
	if !ok {
		return "none"
	}
	if e.typ != TypeSet {
		t.Fatalf("%s: type %v", key, e.typ)
	}
	return e.big.coll.encoding()
}

// checkMem checks that every stripe's accounted memory equals the sum of
// its keys' costs, as a fresh count gives it.
func checkMem(t *testing.T, s *Store) {
	t.Helper()
	for i := range s.stripes {
		st := &s.stripes[i]
		var want int64
		for k, e := range st.m {
			want += cost(len(k), e)
			if e.typ == TypeSet {
				c := e.big.coll.(*setColl)
				want := int64(setOverhead)
				if c.d.enc == setHashtable {
					want += setHashtableMapBase
				}
				for _, m := range membersOf(c.d) {
					want += c.d.memberCost(m)
				}
				if c.bytes != want || c.d.bytes != want {
					t.Fatalf("set %q: header size %d, data %d, recomputed %d", k, c.bytes, c.d.bytes, want)
				}
			}
		}
		if st.mem != want {
			t.Fatalf("stripe %d: mem %d, want %d", i, st.mem, want)
		}
	}
}

func membersOf(d *setData) []string {
	var out []string
	for _, v := range d.members(nil) {
		out = append(out, v.S)
	}
	return out
}

func TestSetOps(t *testing.T) {
	s := setStore()
	steps := []struct {
		op   Op
		want string
	}{
		{sop(KindSAdd, "s", "3", "1", "2"), "3"},
		{sop(KindSAdd, "s", "2", "-7", "10"), "2"},
		{sop(KindSMembers, "s"), "kind 13"},
		{sop(KindSCard, "s"), "5"},
		{sop(KindSIsMember, "s", "10"), "1"},
		{sop(KindSIsMember, "s", "010"), "0"},
		{sop(KindSIsMember, "s", "x"), "0"},
		{sop(KindSMIsMember, "s", "1", "x", "-7"), "[1 0 1]"},
		{sop(KindSMIsMember, "nokey", "1", "2"), "[0 0]"},
		{sop(KindSRem, "s", "1", "nope", "1"), "1"},
		{sop(KindSRem, "nokey", "1"), "0"},
		{sop(KindSCard, "nokey"), "0"},
		{sop(KindSIsMember, "nokey", "a"), "0"},
		{hop(KindSet, setT0, "str", "v"), "OK"},
		{sop(KindSAdd, "str", "a"), wrongType},
		{sop(KindSRem, "str", "a"), wrongType},
		{sop(KindSCard, "str"), wrongType},
		{sop(KindSMembers, "str"), wrongType},
		{sop(KindSIsMember, "str", "a"), wrongType},
		{sop(KindSMIsMember, "str", "a"), wrongType},
		{sop(KindSScan, "str"), wrongType},
		{with(sop(KindSPop, "str"), HasCount, 1, 0), wrongType},
		{sop(KindSRandMember, "str"), wrongType},
		{sop(KindSInter, "nokey", "nokey", "str"), wrongType},
		{sop(KindSUnion, "nokey", "nokey", "str"), wrongType},
		{sop(KindSDiff, "nokey", "nokey", "str"), wrongType},
		{sop(KindSInterCard, "nokey", "nokey", "str"), wrongType},
		{sop(KindSInterStore, "d", "nokey", "str"), wrongType},
		{sop(KindSMove, "s", "str", "2"), wrongType},
		{sop(KindSMove, "str", "s", "2"), wrongType},
		{sop(KindSMove, "nokey", "str", "2"), "0"},
		{sop(KindSPop, "nokey"), "nil"},
		{with(sop(KindSPop, "nokey"), HasCount, 1, 3), "kind 13"},
		{sop(KindSRandMember, "nokey"), "nil"},
		{with(sop(KindSRandMember, "nokey"), HasCount, 1, -3), "[]"},
		{sop(KindSScan, "nokey"), "scan 0 []"},
	}
	for i, st := range steps {
		if got := sapply(s, st.op); got != st.want {
			t.Fatalf("step %d (kind %d %q %q): got %s, want %s", i, st.op.Kind, st.op.Key, st.op.Args, got, st.want)
		}
	}
	op := sop(KindSMembers, "s")
	if got := fmtRes(Result{Kind: RList, Vals: s.Apply(&op).Vals}); got != "[-7 2 3 10]" {
		t.Fatalf("intset SMEMBERS order: %s", got)
	}
	checkMem(t, s)
}

func TestSetEncodings(t *testing.T) {
	s := setStore()
	add := func(key string, ms ...string) {
		t.Helper()
		op := sop(KindSAdd, key, ms...)
		if r := s.Apply(&op); r.Kind != RInt {
			t.Fatalf("SADD: %s", fmtRes(r))
		}
	}
	enc := func(key, want string) {
		t.Helper()
		if got := setEncodingOf(t, s, key); got != want {
			t.Fatalf("%s: encoding %s, want %s", key, got, want)
		}
	}
	ints := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, strconv.Itoa(i))
		}
		return out
	}
	add("a", "1", "2")
	enc("a", "intset")
	add("a", "x") // a non-integer: a small intset becomes a listpack
	enc("a", "listpack")
	op := sop(KindSMembers, "a")
	if got := fmtRes(Result{Kind: RList, Vals: s.Apply(&op).Vals}); got != "[1 2 x]" {
		t.Fatalf("listpack order %s", got)
	}
	add("a", strings.Repeat("y", 65)) // a long member
	enc("a", "hashtable")
	op = sop(KindSRem, "a", strings.Repeat("y", 65), "x", "1")
	s.Apply(&op)
	enc("a", "hashtable") // never converts back

	add("b", ints(0, 512)...)
	enc("b", "intset")
	add("b", "512")
	enc("b", "hashtable")

	add("c", ints(0, 200)...)
	enc("c", "intset")
	add("c", "x") // an intset of 128 or more: straight to hashtable
	enc("c", "hashtable")

	add("d", "x")
	add("d", ints(0, 127)...)
	enc("d", "listpack")
	add("d", "z")
	enc("d", "hashtable")

	add("e", "x")
	add("e", ints(0, 129)...) // more arguments than a listpack holds
	enc("e", "hashtable")

	add("f", ints(0, 600)...) // hint over the intset limit
	enc("f", "hashtable")
	add("g", "x", "1")
	enc("g", "listpack")
	add("h", "1", "x")
	enc("h", "listpack")
	add("i", strings.Repeat("z", 65))
	enc("i", "hashtable")

	// STORE results take the encoding a fresh set of their members has.
	op = sop(KindSUnionStore, "u", "b")
	s.Apply(&op)
	enc("u", "hashtable")
	op = sop(KindSInterStore, "u", "b", "c")
	s.Apply(&op)
	enc("u", "intset")
	op = sop(KindSUnionStore, "u", "g", "h")
	s.Apply(&op)
	enc("u", "listpack")
	// SMOVE creates the destination as SADD of one member would.
	op = sop(KindSMove, "g", "m1", "1")
	s.Apply(&op)
	enc("m1", "intset")
	op = sop(KindSMove, "g", "m2", "x")
	s.Apply(&op)
	enc("m2", "listpack")
	if _, ok := rawEntry(s, "g"); ok {
		t.Fatal("g should be gone once empty")
	}
	checkMem(t, s)
}

func TestSetAlgebra(t *testing.T) {
	s := setStore()
	for _, op := range []Op{
		sop(KindSAdd, "a", "1", "2", "3", "4", "x", "y"),
		sop(KindSAdd, "b", "2", "3", "5", "y", "z"),
		sop(KindSAdd, "c", "3", "y", "q"),
		hop(KindSet, setT0, "str", "v"),
	} {
		s.Apply(&op)
	}
	for i, tc := range []struct {
		op   Op
		want string
	}{
		{sop(KindSInter, "a", "a", "b"), "[2 3 y]"},
		{sop(KindSInter, "a", "a", "b", "c"), "[3 y]"},
		{sop(KindSInter, "a", "a", "nokey"), "[]"},
		{sop(KindSInter, "a", "a", "a"), "[1 2 3 4 x y]"},
		{sop(KindSUnion, "a", "a", "b", "nokey"), "[1 2 3 4 5 x y z]"},
		{sop(KindSDiff, "a", "a", "b", "c"), "[1 4 x]"},
		{sop(KindSDiff, "a", "a", "b", "a"), "[]"},
		{sop(KindSDiff, "nokey", "nokey", "a"), "[]"},
	} {
		if got := sortedVals(s.Apply(&tc.op)); got != tc.want {
			t.Fatalf("case %d: %s, want %s", i, got, tc.want)
		}
	}
	for i, tc := range []struct {
		op   Op
		want string
	}{
		{sop(KindSInterCard, "a", "a", "b"), "3"},
		{with(sop(KindSInterCard, "a", "a", "b"), 0, 0, 2), "2"},
		{with(sop(KindSInterCard, "a", "a", "b"), 0, 0, 10), "3"},
		{sop(KindSInterCard, "a", "a", "nokey"), "0"},
		{sop(KindSInterStore, "d", "a", "b"), "3"},
		{sop(KindSCard, "d"), "3"},
		{sop(KindSDiffStore, "d", "a", "a"), "0"},
		{hop(KindExists, setT0, "", "d"), "0"},
		// The destination may be a source, and may hold another type.
		{sop(KindSUnionStore, "a", "a", "c"), "7"},
		{sop(KindSInterStore, "str", "a", "c"), "3"},
		{sop(KindSCard, "str"), "3"},
	} {
		if got := sapply(s, tc.op); got != tc.want {
			t.Fatalf("case %d: %s, want %s", i, got, tc.want)
		}
	}
	// STORE drops the destination's deadline; SADD keeps it.
	op := with(hop(KindExpire, setT0, "c"), 0, setT0+100_000, 0)
	s.Apply(&op)
	op = sop(KindSAdd, "c", "new")
	s.Apply(&op)
	if e, _ := rawEntry(s, "c"); e.exp != setT0+100_000 {
		t.Fatalf("SADD lost the deadline: %d", e.exp)
	}
	op = sop(KindSUnionStore, "c", "b")
	s.Apply(&op)
	if e, _ := rawEntry(s, "c"); e.exp != 0 {
		t.Fatalf("SUNIONSTORE kept the deadline: %d", e.exp)
	}
	checkMem(t, s)
}

func TestSetMove(t *testing.T) {
	s := setStore()
	for i, tc := range []struct {
		op   Op
		want string
	}{
		{sop(KindSAdd, "src", "a", "b"), "2"},
		{sop(KindSMove, "src", "dst", "a"), "1"},
		{sop(KindSMove, "src", "dst", "a"), "0"},
		{sop(KindSMove, "src", "src", "b"), "1"},
		{sop(KindSMove, "src", "src", "zz"), "0"},
		{sop(KindSAdd, "dst", "b"), "1"},
		{sop(KindSMove, "src", "dst", "b"), "1"}, // already there: still 1
		{hop(KindExists, setT0, "", "src"), "0"},
		{sop(KindSCard, "dst"), "2"},
		{sop(KindSMove, "nokey", "dst", "b"), "0"},
	} {
		if got := sapply(s, tc.op); got != tc.want {
			t.Fatalf("step %d: %s, want %s", i, got, tc.want)
		}
	}
	checkMem(t, s)
}

// TestSetRandom checks SPOP and SRANDMEMBER: the counts, distinctness,
// and that the same seed picks the same members on any replica.
func TestSetRandom(t *testing.T) {
	for _, n := range []int{5, 100, 400} { // listpack, intset... and hashtable
		members := make([]string, n)
		for i := range members {
			members[i] = fmt.Sprintf("m%d", i)
		}
		a, b := setStore(), setStore()
		for _, s := range []*Store{a, b} {
			op := sop(KindSAdd, "s", members...)
			s.Apply(&op)
		}
		both := func(op Op) Result {
			x, y := op, op
			ra, rb := a.Apply(&x), b.Apply(&y)
			if fmtRes(ra) != fmtRes(rb) {
				t.Fatalf("replicas differ: %s vs %s", fmtRes(ra), fmtRes(rb))
			}
			return ra
		}
		r := both(with(sop(KindSRandMember, "s"), HasCount, 42, 3))
		if len(r.Vals) != 3 || len(uniq(r.Vals)) != 3 {
			t.Fatalf("SRANDMEMBER 3: %s", fmtRes(r))
		}
		// A read (no seed) of few of many draws random ranks.
		for _, k := range []int{1, 3, n / 5} {
			op := with(sop(KindSRandMember, "s"), HasCount, 0, int64(k))
			r := a.Read(&op)
			got := uniq(r.Vals)
			if len(r.Vals) != k || len(got) != k {
				t.Fatalf("read SRANDMEMBER %d of %d: %s", k, n, fmtRes(r))
			}
			for m := range got {
				if !slices.Contains(members, m) {
					t.Fatalf("read SRANDMEMBER %d: %q is no member", k, m)
				}
			}
		}
		r = both(with(sop(KindSRandMember, "s"), HasCount, 43, -int64(2*n)))
		if len(r.Vals) != 2*n {
			t.Fatalf("SRANDMEMBER -%d: %d values", 2*n, len(r.Vals))
		}
		r = both(with(sop(KindSRandMember, "s"), HasCount, 44, int64(n+1)))
		if len(uniq(r.Vals)) != n {
			t.Fatalf("SRANDMEMBER n+1: %d distinct", len(uniq(r.Vals)))
		}
		r = both(with(sop(KindSPop, "s"), 0, 45, 0))
		if r.Kind != RStr {
			t.Fatalf("SPOP: %s", fmtRes(r))
		}
		popped := r.Str
		r = both(with(sop(KindSPop, "s"), HasCount, 46, 2))
		if r.Kind != RSet || len(uniq(r.Vals)) != 2 {
			t.Fatalf("SPOP 2: %s", fmtRes(r))
		}
		for _, v := range append(r.Vals, Val{S: popped}) {
			op := sop(KindSIsMember, "s", v.S)
			if a.Apply(&op).Int != 0 {
				t.Fatalf("%s still a member after SPOP", v.S)
			}
		}
		if r := both(sop(KindSCard, "s")); r.Int != int64(n-3) {
			t.Fatalf("SCARD after popping 3 of %d: %d", n, r.Int)
		}
		// FastSample (an SPOP logged since it exists): few of many are
		// drawn by rank, the same on every replica; many fall back.
		left := n - 3
		for i, k := range []int{1, 2, left / 8, left / 2} {
			if k == 0 || k >= left {
				continue
			}
			r := both(with(sop(KindSPop, "s"), HasCount|FastSample, int64(48+i), int64(k)))
			if r.Kind != RSet || len(r.Vals) != k || len(uniq(r.Vals)) != k {
				t.Fatalf("SPOP %d of %d (FastSample): %s", k, left, fmtRes(r))
			}
			for _, v := range r.Vals {
				if !slices.Contains(members, v.S) {
					t.Fatalf("SPOP (FastSample) gave %q, no member", v.S)
				}
				if op := sop(KindSIsMember, "s", v.S); a.Apply(&op).Int != 0 {
					t.Fatalf("%s still a member after SPOP (FastSample)", v.S)
				}
			}
			left -= k
			if r := both(sop(KindSCard, "s")); r.Int != int64(left) {
				t.Fatalf("SCARD after SPOP %d (FastSample): %d, want %d", k, r.Int, left)
			}
		}
		r = both(with(sop(KindSPop, "s"), HasCount, 47, int64(n)))
		if len(r.Vals) != left {
			t.Fatalf("SPOP all: %d values, want %d", len(r.Vals), left)
		}
		if _, ok := rawEntry(a, "s"); ok {
			t.Fatal("set should be gone")
		}
		if a.Digest() != b.Digest() {
			t.Fatal("digests differ")
		}
		checkMem(t, a)
	}
}

func uniq(vs []Val) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v.S] = true
	}
	return m
}

// TestSetOrderIndependentOfHistory checks that a hashtable set's order
// (SMEMBERS, SSCAN) depends on its members only, not on map order or
// insertion order, so replicas answer alike.
func TestSetOrderIndependentOfHistory(t *testing.T) {
	var ms []string
	for i := range 300 {
		ms = append(ms, fmt.Sprintf("k%03d", i))
	}
	rev := slices.Clone(ms)
	slices.Reverse(rev)
	a, b := setStore(), setStore()
	opA, opB := sop(KindSAdd, "s", ms...), sop(KindSAdd, "s", rev...)
	a.Apply(&opA)
	b.Apply(&opB)
	ma, mb := sop(KindSMembers, "s"), sop(KindSMembers, "s")
	if x, y := fmtRes(Result{Kind: RList, Vals: a.Apply(&ma).Vals}), fmtRes(Result{Kind: RList, Vals: b.Apply(&mb).Vals}); x != y {
		t.Fatal("SMEMBERS order depends on history")
	}
	// A full SSCAN returns every member once.
	seen := map[string]int{}
	var cursor int64
	for {
		op := with(sop(KindSScan, "s"), 0, 7, cursor)
		r := a.Read(&op)
		for _, v := range r.Vals {
			seen[v.S]++
		}
		cursor = r.Int
		if cursor == 0 {
			break
		}
	}
	if len(seen) != 300 {
		t.Fatalf("SSCAN saw %d members", len(seen))
	}
	for m, n := range seen {
		if n != 1 {
			t.Fatalf("%s returned %d times", m, n)
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ")
	}
}

func TestSetEvents(t *testing.T) {
	var got []string
	s := New(Config{Stripes: 4})
	s.SetEventSink(func(e Event) {
		if e.Class != EventNew && e.Class != EventKeyMiss { // "new" and "keymiss" come from the store, for every type
			got = append(got, fmt.Sprintf("%c:%s:%s", e.Class, e.Name, e.Key))
		}
	})
	s.EnableEvents(true)
	for _, op := range []Op{
		sop(KindSAdd, "a", "1", "2"),
		sop(KindSAdd, "a", "1"), // nothing added: no event
		sop(KindSRem, "a", "9"), // nothing removed: no event
		sop(KindSRem, "a", "1"),
		sop(KindSMove, "a", "b", "2"), // a empties
		with(sop(KindSPop, "b"), 0, 5, 0),
		sop(KindSAdd, "c", "x", "y"),
		sop(KindSInterStore, "d", "c", "c"),
		sop(KindSUnionStore, "d", "c"),
		sop(KindSDiffStore, "d", "c", "c"), // empty: deletes d
		sop(KindSDiffStore, "d", "c", "c"), // nothing to delete
		sop(KindSMembers, "c"),
		sop(KindSRem, "c", "x", "y"),
	} {
		s.Apply(&op)
	}
	want := []string{
		"s:sadd:a", "s:srem:a", "s:srem:a", "g:del:a", "s:sadd:b", "s:spop:b", "g:del:b",
		"s:sadd:c", "s:sinterstore:d", "s:sunionstore:d", "g:del:d", "s:srem:c", "g:del:c",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
}

func TestSetSnapshot(t *testing.T) {
	src := setStore()
	var big []string
	for i := range 300 {
		big = append(big, fmt.Sprintf("b%d", i))
	}
	for _, op := range []Op{
		sop(KindSAdd, "ints", "5", "-3", "12"),
		sop(KindSAdd, "lp", "z", "a", "m"),
		sop(KindSAdd, "ht", big...),
		sop(KindSAdd, "shrunk", big...),
		hop(KindSet, setT0, "str", "v"),
	} {
		src.Apply(&op)
	}
	op := sop(KindSRem, "shrunk", big[3:]...)
	src.Apply(&op)
	sn := src.Snapshot()
	// Writes after the capture do not show in it (copy on write).
	op = sop(KindSAdd, "ht", "late")
	src.Apply(&op)
	op = sop(KindSRem, "lp", "z")
	src.Apply(&op)
	data := snEncode(t, sn)
	if err := CheckSnapshot(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	dst := setStore()
	if err := dst.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got, want := dst.Digest(), sn.Digest(); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	for key, want := range map[string]string{
		"ints": "intset", "lp": "listpack", "ht": "hashtable", "shrunk": "hashtable",
	} {
		if got := setEncodingOf(t, dst, key); got != want {
			t.Fatalf("%s restored as %s, want %s", key, got, want)
		}
	}
	op = sop(KindSMembers, "lp")
	if got := fmtRes(Result{Kind: RList, Vals: dst.Apply(&op).Vals}); got != "[z a m]" {
		t.Fatalf("restored listpack %s", got)
	}
	op = sop(KindSCard, "ht")
	if got := sapply(dst, op); got != "300" {
		t.Fatalf("restored ht SCARD %s", got)
	}
	checkMem(t, dst)
	checkMem(t, src)
	// Restored sets go on like the originals.
	op = sop(KindSAdd, "ht", "late")
	dst.Apply(&op)
	op = sop(KindSRem, "lp", "z")
	dst.Apply(&op)
	if dst.Digest() != src.Digest() {
		t.Fatal("digests differ after the same writes")
	}
}

func TestSetSnapshotCorrupt(t *testing.T) {
	enc := func(enc setEnc, ms ...string) []byte {
		var b bytes.Buffer
		d := &setData{enc: enc, list: ms}
		if enc == setHashtable {
			d.m = map[string]struct{}{}
			for _, m := range ms {
				d.m[m] = struct{}{}
			}
			d.list = nil
		}
		w := bufio.NewWriter(&b)
		(&setColl{d: d}).write(w)
		w.Flush()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"intset", enc(setIntset, "-1", "2"), true},
		{"intset order", enc(setIntset, "2", "-1"), false},
		{"intset not int", enc(setIntset, "01"), false},
		{"listpack dup", enc(setListpack, "a", "a"), false},
		{"hashtable", enc(setHashtable, "a", "b"), true},
		{"empty", enc(setListpack), false},
		{"encoding", []byte{9, 1, 1, 'a'}, false},
	} {
		d := newSnapDecoder(bytes.NewReader(tc.data))
		c := d.readSet("k")
		if (d.err == nil) != tc.ok || (c == nil) == tc.ok {
			t.Fatalf("%s: err %v", tc.name, d.err)
		}
	}
}

// TestSPopReplaysTheSame: an SPOP op without FastSample (every one logged
// before it existed, and every one a script makes) pops the members it
// always popped for its seed, in the same order, so that an old log
// replays to the state its other replicas reached.
func TestSPopReplaysTheSame(t *testing.T) {
	s := setStore()
	members := make([]string, 400)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i)
	}
	add := sop(KindSAdd, "s", members...)
	s.Apply(&add)
	pop := with(sop(KindSPop, "s"), HasCount, 12345, 5)
	r := s.Apply(&pop)
	var got []string
	for _, v := range r.Vals {
		got = append(got, v.S)
	}
	// Recorded with the code before FastSample existed.
	if want := []string{"m178", "m4", "m25", "m117", "m346"}; !slices.Equal(got, want) {
		t.Fatalf("SPOP 5 with seed 12345 popped %q, want %q", got, want)
	}
}
