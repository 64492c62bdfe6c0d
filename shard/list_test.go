package shard

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sessiond/ttl"
)

const listT0 = 1_700_000_000_000

func listStore() *Store {
	return New(Config{Stripes: 4, Clock: ttl.NewFakeClock(time.UnixMilli(listT0))})
}

// lop builds a list op at listT0.
func lop(kind Kind, key string, args ...string) Op { return hop(kind, listT0, key, args...) }

// lopN builds a list op with N and At.
func lopN(kind Kind, key string, n, at int64, args ...string) Op {
	op := lop(kind, key, args...)
	op.N, op.At = n, at
	return op
}

// keysOp builds a multi-key list op (LMPOP, BLPOP...).
func keysOp(kind Kind, end, count int64, keys ...string) Op {
	return Op{Kind: kind, Now: listT0, Args: hbs(keys...), N: end, At: count}
}

func fmtListRes(r Result) string {
	if r.Kind == RMulti {
		parts := make([]string, len(r.Subs))
		for i, s := range r.Subs {
			parts[i] = fmtListRes(s)
		}
		return "multi[" + strings.Join(parts, " ") + "]"
	}
	if r.Kind == RNilList {
		return "nilarray"
	}
	return fmtRes(r)
}

type listStep struct {
	op   Op
	want string
}

func runListSteps(t *testing.T, s *Store, steps []listStep) {
	t.Helper()
	for i, st := range steps {
		op := st.op
		var r Result
		if op.Kind.IsWrite() {
			r = s.Apply(&op)
		} else {
			r = s.Read(&op)
		}
		if got := fmtListRes(r); got != st.want {
			t.Fatalf("step %d (kind %d %s %q N=%d At=%d): got %s, want %s", i, op.Kind, op.Key, op.Args, op.N, op.At, got, st.want)
		}
	}
}

func TestListOps(t *testing.T) {
	withCount := func(op Op, n int64) Op { op.Flags |= HasCount; op.N = n; return op }
	pushX := func(op Op) Op { op.Flags |= XX; return op }
	lpos := func(rank, count, maxlen int64, elem string) Op {
		op := lopN(KindLPos, "l", rank, count, elem)
		if count >= 0 {
			op.Flags |= HasCount
		}
		op.Limit = maxlen
		return op
	}
	cases := []struct {
		name  string
		steps []listStep
	}{
		{"push pop", []listStep{
			{lop(KindLPush, "l", "a", "b"), "2"},
			{lop(KindRPush, "l", "c"), "3"},
			{lopN(KindLRange, "l", 0, -1), "[b a c]"},
			{pushX(lop(KindLPush, "missing", "x")), "0"},
			{lop(KindLLen, "missing"), "0"},
			{pushX(lop(KindRPush, "l", "d", "e")), "5"},
			{lop(KindLPop, "l"), `"b"`},
			{lop(KindRPop, "l"), `"e"`},
			{withCount(lop(KindLPop, "l"), 0), "[]"},
			{withCount(lop(KindRPop, "l"), 2), "[d c]"},
			{withCount(lop(KindLPop, "l"), 5), "[a]"},
			{lop(KindLLen, "l"), "0"},
			{lop(KindLPop, "l"), "nil"},
			{withCount(lop(KindLPop, "l"), 1), "nilarray"},
			{lop(KindExists, "", "l"), "0"},
		}},
		{"wrong type", []listStep{
			{lop(KindSet, "s", "v"), "OK"},
			{lop(KindLPush, "s", "a"), wrongType},
			{pushX(lop(KindRPush, "s", "a")), wrongType},
			{lop(KindLPop, "s"), wrongType},
			{lopN(KindLRange, "s", 0, -1), wrongType},
			{lop(KindLLen, "s"), wrongType},
			{lopN(KindLIndex, "s", 0, 0), wrongType},
			{lopN(KindLSet, "s", 0, 0, "v"), wrongType},
			{lopN(KindLRem, "s", 0, 0, "v"), wrongType},
			{lopN(KindLTrim, "s", 0, 1), wrongType},
			{lop(KindLInsert, "s", "a", "b"), wrongType},
			{lpos(1, -1, 0, "a"), "nil"}, // "l" is missing
			{lop(KindRPush, "l", "a"), "1"},
			{lop(KindLMove, "l", "s"), wrongType},
			{lop(KindLMove, "s", "l"), wrongType},
			{lop(KindLMove, "missing", "s"), "nil"},
			{keysOp(KindLMPop, 0, 1, "missing", "s", "l"), wrongType},
			{keysOp(KindBPop, 0, 0, "l", "s"), "[l a]"},
			{lop(KindLLen, "l"), "0"},
		}},
		{"index set", []listStep{
			{lop(KindRPush, "l", "0", "1", "2", "3"), "4"},
			{lopN(KindLIndex, "l", 0, 0), `"0"`},
			{lopN(KindLIndex, "l", -1, 0), `"3"`},
			{lopN(KindLIndex, "l", 4, 0), "nil"},
			{lopN(KindLIndex, "l", -5, 0), "nil"},
			{lopN(KindLIndex, "l", math.MinInt64, 0), "nil"},
			{lopN(KindLIndex, "missing", 0, 0), "nil"},
			{with(lop(KindLIndex, "missing"), XX, 0, 0), "err ERR no such key"},
			{lopN(KindLSet, "l", -2, 0, "two"), "OK"},
			{lopN(KindLSet, "l", 4, 0, "x"), "err ERR index out of range"},
			{lopN(KindLSet, "missing", 0, 0, "x"), "err ERR no such key"},
			{lopN(KindLRange, "l", 0, -1), "[0 1 two 3]"},
			{lopN(KindLRange, "l", -100, 1), "[0 1]"},
			{lopN(KindLRange, "l", 2, 100), "[two 3]"},
			{lopN(KindLRange, "l", 3, 2), "[]"},
			{lopN(KindLRange, "l", math.MinInt64, math.MaxInt64), "[0 1 two 3]"},
		}},
		{"rem trim insert", []listStep{
			{lop(KindRPush, "l", "a", "b", "a", "c", "a", "d", "a"), "7"},
			{lopN(KindLRem, "l", 2, 0, "a"), "2"},
			{lopN(KindLRange, "l", 0, -1), "[b c a d a]"},
			{lopN(KindLRem, "l", -1, 0, "a"), "1"},
			{lopN(KindLRange, "l", 0, -1), "[b c a d]"},
			{lopN(KindLRem, "l", 0, 0, "zz"), "0"},
			{lopN(KindLRem, "l", 0, 0, "a"), "1"},
			{lopN(KindLInsert, "l", 0, 0, "c", "x"), "4"},
			{lopN(KindLInsert, "l", 1, 0, "d", "y"), "5"},
			{lopN(KindLInsert, "l", 1, 0, "zz", "y"), "-1"},
			{lopN(KindLInsert, "missing", 1, 0, "zz", "y"), "0"},
			{lopN(KindLRange, "l", 0, -1), "[b x c d y]"},
			{lopN(KindLTrim, "l", 1, -2), "OK"},
			{lopN(KindLRange, "l", 0, -1), "[x c d]"},
			{lopN(KindLTrim, "l", 5, 10), "OK"},
			{lop(KindExists, "", "l"), "0"},
			{lopN(KindLTrim, "missing", 0, 1), "OK"},
		}},
		{"lpos", []listStep{
			{lop(KindRPush, "l", "a", "b", "c", "a", "b", "a"), "6"},
			{lpos(1, -1, 0, "a"), "0"},
			{lpos(2, -1, 0, "a"), "3"},
			{lpos(-1, -1, 0, "a"), "5"},
			{lpos(-3, -1, 0, "a"), "0"},
			{lpos(-4, -1, 0, "a"), "nil"},
			{lpos(math.MinInt64, -1, 0, "a"), "5"},
			{lpos(1, 0, 0, "a"), "[0 3 5]"},
			{lpos(2, 1, 0, "a"), "[3]"},
			{lpos(-1, 2, 0, "a"), "[5 3]"},
			{lpos(1, 0, 3, "a"), "[0]"},
			{lpos(2, -1, 3, "a"), "nil"},
			{lpos(1, 0, 0, "z"), "[]"},
			{with(lop(KindLPos, "missing", "a"), HasCount, 1, 1), "[]"},
		}},
		{"move", []listStep{
			{lop(KindRPush, "src", "a", "b", "c"), "3"},
			{lopN(KindLMove, "src", listLeft, listRight, "dst"), `"a"`},
			{lopN(KindLMove, "src", listRight, listLeft, "dst"), `"c"`},
			{lopN(KindLRange, "dst", 0, -1), "[c a]"},
			{lopN(KindLMove, "dst", listLeft, listRight, "dst"), `"c"`},
			{lopN(KindLRange, "dst", 0, -1), "[a c]"},
			{lopN(KindLMove, "src", listLeft, listLeft, "dst"), `"b"`},
			{lop(KindExists, "", "src"), "0"},
			{lopN(KindLMove, "src", listLeft, listLeft, "dst"), "nil"},
			{lopN(KindBLMove, "src", listLeft, listLeft, "dst"), "err " + ErrListBlocking.Error()},
			{lopN(KindBLMove, "dst", listRight, listLeft, "src"), `"c"`},
			{lopN(KindLRange, "src", 0, -1), "[c]"},
		}},
		{"mpop", []listStep{
			{lop(KindRPush, "b", "1", "2", "3"), "3"},
			{keysOp(KindLMPop, listLeft, 2, "a", "b"), "multi[\"b\" [1 2]]"},
			{keysOp(KindLMPop, listRight, 10, "a", "b"), "multi[\"b\" [3]]"},
			{keysOp(KindLMPop, listRight, 10, "a", "b"), "nilarray"},
			{keysOp(KindBLMPop, listRight, 10, "a", "b"), "err " + ErrListBlocking.Error()},
			{keysOp(KindBPop, listRight, 0, "a", "b"), "err " + ErrListBlocking.Error()},
			{lop(KindRPush, "a", "x", "y"), "2"},
			{keysOp(KindBPop, listRight, 0, "b", "a"), "[a y]"},
			{keysOp(KindBLMPop, listLeft, 1, "b", "a"), "multi[\"a\" [x]]"},
			{lop(KindExists, "", "a", "b"), "0"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := listStore()
			// KindExists takes its keys in Args.
			for i := range tc.steps {
				if op := &tc.steps[i].op; op.Kind == KindExists {
					op.Key = nil
				}
			}
			runListSteps(t, s, tc.steps)
		})
	}
}

func TestListKinds(t *testing.T) {
	for k := KindLPush; k <= KindBLMPop; k++ {
		read := k == KindLRange || k == KindLLen || k == KindLIndex || k == KindLPos
		if k.IsWrite() == read {
			t.Errorf("kind %d: IsWrite %v", k, k.IsWrite())
		}
	}
	op := lop(KindLMove, "a", "b")
	if keys, ok := extMultiKeys(&op); !ok || len(keys) != 2 || string(keys[1]) != "b" {
		t.Errorf("LMOVE keys %q %v", keys, ok)
	}
	op = keysOp(KindLMPop, 0, 1, "x", "y", "z")
	if keys, ok := extMultiKeys(&op); !ok || len(keys) != 3 {
		t.Errorf("LMPOP keys %q %v", keys, ok)
	}
	op = lop(KindLPush, "a", "b")
	if _, ok := extMultiKeys(&op); ok {
		t.Error("LPUSH is single-key")
	}
}

// checkDeque checks d's layout invariants and, when m is not nil, that it
// holds m's elements.
func checkDeque(d *deque, m []string, full bool) error {
	if c := len(d.ring); c&(c-1) != 0 || d.nc > c || (c > 1 && d.nc < c/8) {
		return fmt.Errorf("ring of %d for %d chunks", c, d.nc)
	}
	if d.nc == 0 && d.n != 0 {
		return fmt.Errorf("%d elements in no chunk", d.n)
	}
	n, mem := 0, int64(0)
	for k := range d.nc {
		c := d.chunk(k)
		if c.a < 0 || c.a >= c.b || int(c.b) >= len(c.off) {
			return fmt.Errorf("chunk %d: boundaries %d..%d of %d", k, c.a, c.b, len(c.off))
		}
		if len(c.off) > chunkMaxOffs {
			return fmt.Errorf("chunk %d: %d boundaries", k, len(c.off))
		}
		for i := c.a; i < c.b; i++ {
			if c.off[i] > c.off[i+1] {
				return fmt.Errorf("chunk %d: boundaries %v", k, c.off[c.a:c.b+1])
			}
		}
		if int(c.off[c.b]) > len(c.buf) {
			return fmt.Errorf("chunk %d: ends at %d of %d", k, c.off[c.b], len(c.buf))
		}
		n += c.n()
		mem += c.mem()
	}
	for k := d.nc; k < len(d.ring); k++ {
		if c := d.chunk(k); c.buf != nil || c.off != nil {
			return fmt.Errorf("free ring slot %d holds a chunk", k)
		}
	}
	if n != d.n || mem != d.mem {
		return fmt.Errorf("n %d, mem %d; chunks hold %d, %d", d.n, d.mem, n, mem)
	}
	if m == nil || !full {
		return nil
	}
	if d.n != len(m) {
		return fmt.Errorf("n %d, want %d", d.n, len(m))
	}
	for i, e := range d.from(0) {
		if string(e) != m[i] {
			return fmt.Errorf("element %d = %q, want %q", i, e, m[i])
		}
	}
	return nil
}

// TestDequeModel checks a deque against a slice through random
// operations, and that a clone and its original stay apart whichever of
// the two is written afterwards.
func TestDequeModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	d := &deque{}
	var m []string
	var frozen *deque // the other side of the last clone, never written again
	var frozenM []string
	val := func() string {
		switch r := rnd.IntN(100); {
		case r == 0:
			return strings.Repeat("L", chunkBytes+rnd.IntN(3000))
		case r < 10:
			return strings.Repeat("m", 100+rnd.IntN(400))
		case r < 15:
			return ""
		}
		return strings.Repeat("v", rnd.IntN(40)) + strconv.Itoa(rnd.IntN(5))
	}
	for step := range 20000 {
		switch r := rnd.IntN(20); {
		case r < 8:
			s := val()
			if rnd.IntN(2) == 0 {
				d.pushString(s, true)
				m = slices.Insert(m, 0, s)
			} else {
				d.push([]byte(s), false)
				m = append(m, s)
			}
		case r < 12 && len(m) > 0:
			left := rnd.IntN(2) == 0
			want := m[len(m)-1]
			if left {
				want = m[0]
			}
			if got := d.pop(left); got != want {
				t.Fatalf("step %d: pop(%v) %q, want %q", step, left, got, want)
			}
			if left {
				m = m[1:]
			} else {
				m = m[:len(m)-1]
			}
			d.shrink()
		case r == 12 && len(m) > 0:
			k, left := 1+rnd.IntN(min(len(m), 300)), rnd.IntN(2) == 0
			var want []string
			if left {
				want, m = slices.Clone(m[:k]), m[k:]
			} else {
				want, m = slices.Clone(m[len(m)-k:]), m[:len(m)-k]
				slices.Reverse(want)
			}
			got := d.popN(nil, k, left)
			for i := range got {
				if i >= len(want) || got[i].S != want[i] {
					t.Fatalf("step %d: popN(%d, %v) %v, want %q", step, k, left, got, want)
				}
			}
		case r == 13:
			i, s := rnd.IntN(len(m)+1), val()
			d.insert(i, []byte(s))
			m = slices.Insert(m, i, s)
		case r == 14 && len(m) > 0:
			i, s := rnd.IntN(len(m)), val()
			if rnd.IntN(2) == 0 {
				s = strings.Repeat("s", len(m[i])) // the same length: in place
			}
			d.setAt(i, []byte(s))
			m[i] = s
		case r == 15 && len(m) > 0:
			s := m[rnd.IntN(len(m))]
			lo := rnd.IntN(len(m))
			hi := lo + rnd.IntN(len(m)-lo)
			removed := d.removeIn(s, lo, hi)
			var kept []string
			want := 0
			for i, v := range m {
				if i >= lo && i <= hi && v == s {
					want++
					continue
				}
				kept = append(kept, v)
			}
			if removed != want {
				t.Fatalf("step %d: removeIn removed %d, want %d", step, removed, want)
			}
			m = kept
		case r == 16 && len(m) > 0 && rnd.IntN(8) == 0:
			l := rnd.IntN(len(m) + 1)
			rr := rnd.IntN(len(m) - l + 1)
			d.trim(l, rr)
			m = m[l : len(m)-rr]
		case r == 17 && len(m) > 0:
			lo := rnd.IntN(len(m))
			hi := lo + rnd.IntN(min(len(m)-lo, 200))
			got := d.vals(nil, lo, hi, false)
			for i, v := range got {
				if v.S != m[lo+i] {
					t.Fatalf("step %d: vals(%d, %d)[%d] = %q, want %q", step, lo, hi, i, v.S, m[lo+i])
				}
			}
			i := rnd.IntN(len(m))
			for j, e := range d.backFrom(i) {
				if string(e) != m[j] {
					t.Fatalf("step %d: backFrom(%d) at %d: %q, want %q", step, i, j, e, m[j])
				}
				if j < i-50 {
					break
				}
			}
			if got := string(d.at(i)); got != m[i] {
				t.Fatalf("step %d: at(%d) = %q, want %q", step, i, got, m[i])
			}
		case r == 18 && rnd.IntN(10) == 0:
			c := d.clone()
			if rnd.IntN(2) == 0 {
				frozen, d = d, c
			} else {
				frozen = c
			}
			frozenM = slices.Clone(m)
		}
		full := len(m) < 300 || step%97 == 0
		if err := checkDeque(d, m, full); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if frozen != nil && full {
			if err := checkDeque(frozen, frozenM, true); err != nil {
				t.Fatalf("step %d: the clone's other side changed: %v", step, err)
			}
		}
	}
}

// TestListMemoryAccount checks that the stripe's accounted memory follows
// the list's writes (each header records its own size) and returns to
// zero when the list is gone.
func TestListMemoryAccount(t *testing.T) {
	s := listStore()
	mem := func() int64 { return s.UsedBytes() }
	s.Apply(ptr(lop(KindRPush, "l", "a")))
	one := mem()
	var args []string
	for i := range 1000 {
		args = append(args, fmt.Sprintf("element-%04d", i))
	}
	s.Apply(ptr(lop(KindRPush, "l", args...)))
	big := mem()
	if big-one < 1000*(12+4) { // bytes and a boundary each
		t.Fatalf("1000 more elements add %d bytes", big-one)
	}
	e, _ := rawEntry(s, "l")
	if got, want := big, cost(1, e); got != want {
		t.Fatalf("accounted %d, entry costs %d", got, want)
	}
	d := listOf(e)
	want := int64(listOverhead) + int64(len(d.ring))*listSlotSize
	for k := range d.nc {
		want += d.chunk(k).mem()
	}
	if e.big.size() != want {
		t.Fatalf("size %d, want %d", e.big.size(), want)
	}
	r := s.Apply(ptr(Op{Kind: KindLPop, Now: listT0, Key: []byte("l"), Flags: HasCount, N: 990}))
	if len(r.Vals) != 990 {
		t.Fatalf("popped %d", len(r.Vals))
	}
	// The chunks emptied are gone: what is left is the overhead, the
	// ring and the chunk the last 11 elements are in.
	if small := mem(); small >= big/2 || small > listOverhead+4*listSlotSize+chunkBytes+4*chunkMaxOffs+int64(cost(1, e)-e.big.size()) {
		t.Fatalf("after popping 990 of 1001: %d bytes (was %d)", small, big)
	}
	s.Apply(ptr(lopN(KindLTrim, "l", 1, 0)))
	if m := mem(); m != 0 {
		t.Fatalf("empty store accounts %d bytes", m)
	}
}

// TestListSnapshot round-trips lists through a snapshot and checks that
// writes after the capture (in place, on a shared deque) leave the
// captured lists alone.
func TestListSnapshot(t *testing.T) {
	src := listStore()
	var big []string
	for i := range 300 {
		big = append(big, strconv.Itoa(i))
	}
	src.Apply(ptr(lop(KindRPush, "big", big...)))
	src.Apply(ptr(lop(KindRPush, "small", "x", "", "a\x00b")))
	src.Apply(ptr(lop(KindLPush, "small", "first")))
	src.Apply(ptr(with(lop(KindExpire, "small"), 0, listT0+5000, 0)))
	want := src.Digest()
	sn := src.Snapshot()
	// Writes after the capture change the shared deques in place.
	src.Apply(ptr(lop(KindRPush, "big", "more")))
	src.Apply(ptr(lopN(KindLSet, "small", 0, 0, "changed")))
	src.Apply(ptr(lopN(KindLTrim, "big", 100, 110)))
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	dst := listStore()
	if err := dst.Restore(bytes.NewReader(b.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := dst.Digest(); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}
	runListSteps(t, dst.base(), []listStep{
		{lopN(KindLRange, "small", 0, -1), "[first x  a\x00b]"},
		{lop(KindLLen, "big"), "300"},
		{lopN(KindLIndex, "big", -1, 0), `"299"`},
		{lop(KindTTL, "small"), "5"},
	})
	if e, _ := rawEntry(dst, "big"); e.big.coll.encoding() != "quicklist" {
		t.Fatalf("encoding %q", e.big.coll.encoding())
	}
	// The restored store accounts the lists as writes would.
	fresh := listStore()
	fresh.Apply(ptr(lop(KindRPush, "big", big...)))
	eb, _ := rawEntry(dst, "big")
	ef, _ := rawEntry(fresh, "big")
	if eb.big.size() > 2*ef.big.size() || ef.big.size() > 2*eb.big.size() {
		t.Fatalf("restored size %d, written %d", eb.big.size(), ef.big.size())
	}
	// The list encoding is checked: an empty list and a truncated one
	// are corrupt.
	for _, bad := range [][]byte{{0}, {3, 1, 'a'}} {
		d := newSnapDecoder(bytes.NewReader(bad))
		if c := d.readList("k"); c != nil || d.err == nil {
			t.Fatalf("list encoding %q: %v, %v", bad, c, d.err)
		}
	}
	d := newSnapDecoder(bytes.NewReader([]byte{2, 1, 'a', 0}))
	if c := d.readList("k"); c == nil || c.length() != 2 || d.err != nil {
		t.Fatalf("list encoding: %v, %v", c, d.err)
	}
}

func TestListEvents(t *testing.T) {
	var got []string
	s := New(Config{Stripes: 4})
	s.SetEventSink(func(e Event) {
		if e.Class == EventNew || e.Class == EventKeyMiss {
			return // key creation is reported by the store, not by list code
		}
		got = append(got, fmt.Sprintf("%c:%s:%s", e.Class, e.Name, e.Key))
	})
	s.EnableEvents(true)
	steps := []struct {
		op   Op
		want string
	}{
		{lop(KindRPush, "l", "a", "b"), "l:rpush:l"},
		{lop(KindLPush, "l", "c"), "l:lpush:l"},
		{with(lop(KindLPush, "missing", "c"), XX, 0, 0), ""},
		{lopN(KindLSet, "l", 0, 0, "x"), "l:lset:l"},
		{lopN(KindLInsert, "l", 0, 0, "x", "y"), "l:linsert:l"},
		{lopN(KindLInsert, "l", 0, 0, "nope", "y"), ""},
		{lopN(KindLRem, "l", 0, 0, "y"), "l:lrem:l"},
		{lopN(KindLRem, "l", 0, 0, "nope"), ""},
		{lopN(KindLMove, "l", listLeft, listRight, "d"), "l:rpush:d l:lpop:l"},
		{lopN(KindLTrim, "l", 0, 0), "l:ltrim:l"},
		{lop(KindLPop, "l"), "l:lpop:l g:del:l"},
		{lop(KindRPush, "l", "a"), "l:rpush:l"},
		{lopN(KindLMove, "l", listRight, listLeft, "d"), "l:lpush:d l:rpop:l g:del:l"},
		{keysOp(KindLMPop, listRight, 1, "l", "d"), "l:rpop:d"},
		{keysOp(KindBPop, listLeft, 0, "l", "d"), "l:lpop:d g:del:d"},
		{lop(KindRPush, "l", "a", "b"), "l:rpush:l"},
		{lopN(KindLTrim, "l", 5, 6), "l:ltrim:l g:del:l"},
		{lopN(KindLRange, "l", 0, -1), ""},
	}
	for i, st := range steps {
		got = nil
		op := st.op
		if op.Kind.IsWrite() {
			s.Apply(&op)
		} else {
			s.Read(&op)
		}
		if g := strings.Join(got, " "); g != st.want {
			t.Errorf("step %d (kind %d): events %q, want %q", i, op.Kind, g, st.want)
		}
	}
}

// TestListCodec checks that list ops survive the log encoding.
func TestListCodec(t *testing.T) {
	ops := []Op{
		lop(KindLPush, "k", "a", "b"),
		with(lop(KindRPush, "k", "a"), XX, 0, 0),
		with(lop(KindLPop, "k"), HasCount, 0, 3),
		lopN(KindLMove, "a", 1, 0, "b"),
		keysOp(KindBLMPop, 1, 5, "a", "b"),
		func() Op { op := lopN(KindLPos, "k", -2, 3, "e"); op.Flags |= HasCount; op.Limit = 10; return op }(),
	}
	for _, op := range ops {
		got, err := Decode(AppendEncode(nil, &op))
		if err != nil || !sameOp(&got, &op) {
			t.Fatalf("kind %d: decoded %+v, %v", op.Kind, got, err)
		}
	}
}
