package shard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"sessiond/ttl"
)

// hashT0 is the time the hash tests start at (Unix ms).
const hashT0 = 1_700_000_000_000

// limStore is a Store whose Apply stamps hash limits into every op (and
// MULTI sub-op), as the server does from its configuration.
type limStore struct {
	*Store
	entries, value int32
}

// Apply stamps s's hash limits into op and applies it.
func (s *limStore) Apply(op *Op) Result {
	stampHashLimits(op, s.entries, s.value)
	return s.Store.Apply(op)
}

func stampHashLimits(op *Op, entries, value int32) {
	op.HashEntries, op.HashValue = entries, value
	for i := range op.Subs {
		stampHashLimits(&op.Subs[i], entries, value)
	}
}

// hashStore returns a store whose writes carry small hash limits, so that
// tests can cross them cheaply.
func hashStore(entries, value int) *limStore {
	return &limStore{Store: New(Config{Stripes: 4, Clock: ttl.NewFakeClock(ttl.SystemClock{}.Now())}),
		entries: int32(entries), value: int32(value)}
}

// hop builds a hash op at time now.
func hop(kind Kind, now int64, key string, args ...string) Op {
	op := Op{Kind: kind, Now: now, Key: []byte(key)}
	for _, a := range args {
		op.Args = append(op.Args, []byte(a))
	}
	return op
}

// hbs returns ss as byte slices.
func hbs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// with returns op with flags fl, At at and N n set.
func with(op Op, fl Flags, at, n int64) Op {
	op.Flags, op.At, op.N = fl, at, n
	return op
}

// fmtRes renders a Result compactly for comparisons.
func fmtRes(r Result) string {
	vals := func() string {
		parts := make([]string, len(r.Vals))
		for i, v := range r.Vals {
			if v.Nil {
				parts[i] = "nil"
			} else {
				parts[i] = v.S
			}
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	switch r.Kind {
	case RNil:
		return "nil"
	case ROK:
		return "OK"
	case RInt:
		return strconv.FormatInt(r.Int, 10)
	case RStr:
		return strconv.Quote(r.Str)
	case RList:
		return vals()
	case RMap:
		return "map" + vals()
	case RPairs:
		return "pairs" + vals()
	case RInts:
		return fmt.Sprint(r.Ints)
	case RScan:
		return fmt.Sprintf("scan %d %s", uint64(r.Int), vals())
	case RErr:
		return "err " + r.Err.Error()
	}
	return fmt.Sprintf("kind %d", r.Kind)
}

type hashStep struct {
	op   Op
	want string
}

func runHashSteps(t *testing.T, s *limStore, steps []hashStep) {
	t.Helper()
	for i, st := range steps {
		op := st.op
		if got := fmtRes(s.Apply(&op)); got != st.want {
			t.Fatalf("step %d (kind %d %s %q): got %s, want %s", i, op.Kind, op.Key, op.Args, got, st.want)
		}
	}
}

const wrongType = "err WRONGTYPE Operation against a key holding the wrong kind of value"

func TestHashOps(t *testing.T) {
	n := int64(hashT0)
	cases := []struct {
		name  string
		steps []hashStep
	}{
		{"set get order", []hashStep{
			{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3"), "3"},
			{hop(KindHSet, n, "h", "b", "20", "d", "4"), "1"},
			{hop(KindHGetAll, n, "h"), "map[a 1 b 20 c 3 d 4]"},
			{hop(KindHGet, n, "h", "b"), `"20"`},
			{hop(KindHGet, n, "h", "x"), "nil"},
			{hop(KindHGet, n, "nokey", "x"), "nil"},
			{hop(KindHMGet, n, "h", "a", "x", "d"), "[1 nil 4]"},
			{hop(KindHMGet, n, "nokey", "a", "b"), "[nil nil]"},
			{hop(KindHKeys, n, "h"), "[a b c d]"},
			{hop(KindHVals, n, "h"), "[1 20 3 4]"},
			{hop(KindHLen, n, "h"), "4"},
			{hop(KindHExists, n, "h", "c"), "1"},
			{hop(KindHExists, n, "h", "x"), "0"},
			{hop(KindHStrLen, n, "h", "b"), "2"},
			{hop(KindHStrLen, n, "h", "x"), "0"},
			{hop(KindHDel, n, "h", "b", "x", "b"), "1"},
			{hop(KindHGetAll, n, "h"), "map[a 1 c 3 d 4]"},
			{hop(KindHSet, n, "h", "b", "again"), "1"},
			{hop(KindHKeys, n, "h"), "[a c d b]"},
			{hop(KindHSet, n, "h", "e", "1", "e", "2"), "1"},
			{hop(KindHGet, n, "h", "e"), `"2"`},
			{hop(KindHDel, n, "h", "a", "b", "c", "d", "e"), "5"},
			{hop(KindHLen, n, "h"), "0"},
			{hop(KindHGetAll, n, "h"), "map[]"},
			{hop(KindHKeys, n, "h"), "[]"},
			{hop(KindHDel, n, "h", "a"), "0"},
		}},
		{"empty values and binary names", []hashStep{
			{hop(KindHSet, n, "h", "", "", "a\x00b", "\xff"), "2"},
			{hop(KindHGet, n, "h", ""), `""`},
			{hop(KindHStrLen, n, "h", "a\x00b"), "1"},
			{hop(KindHLen, n, "h"), "2"},
		}},
		{"hsetnx", []hashStep{
			{with(hop(KindHSet, n, "h", "a", "1"), NX, 0, 0), "1"},
			{with(hop(KindHSet, n, "h", "a", "2"), NX, 0, 0), "0"},
			{hop(KindHGet, n, "h", "a"), `"1"`},
		}},
		{"hincrby", []hashStep{
			{with(hop(KindHIncrBy, n, "h", "a"), 0, 0, 5), "5"},
			{with(hop(KindHIncrBy, n, "h", "a"), 0, 0, -7), "-2"},
			{hop(KindHSet, n, "h", "s", "x", "big", "9223372036854775806", "neg", "-9223372036854775807", "lz", "01"), "4"},
			{with(hop(KindHIncrBy, n, "h", "s"), 0, 0, 1), "err ERR hash value is not an integer"},
			{with(hop(KindHIncrBy, n, "h", "lz"), 0, 0, 1), "err ERR hash value is not an integer"},
			{with(hop(KindHIncrBy, n, "h", "big"), 0, 0, 1), "9223372036854775807"},
			{with(hop(KindHIncrBy, n, "h", "big"), 0, 0, 1), "err ERR increment or decrement would overflow"},
			{with(hop(KindHIncrBy, n, "h", "neg"), 0, 0, -1), "-9223372036854775808"},
			{with(hop(KindHIncrBy, n, "h", "neg"), 0, 0, -1), "err ERR increment or decrement would overflow"},
			{hop(KindHKeys, n, "h"), "[a s big neg lz]"},
		}},
		{"hincrbyfloat", []hashStep{
			{hop(KindHIncrByFloat, n, "h", "f", "0.1"), `"0.1"`},
			{hop(KindHIncrByFloat, n, "h", "f", "0.2"), `"0.3"`},
			{hop(KindHIncrByFloat, n, "h", "g", "5.0e3"), `"5000"`},
			{hop(KindHIncrByFloat, n, "h", "z", "-0.0"), `"0"`},
			{hop(KindHIncrByFloat, n, "h", "p", "1.23456789012345678901"), `"1.23456789012345679"`},
			{hop(KindHSet, n, "h", "s", "abc", "i", "inf", "e", "1e400"), "3"},
			{hop(KindHIncrByFloat, n, "h", "s", "1"), "err ERR hash value is not a float"},
			{hop(KindHIncrByFloat, n, "h", "i", "1"), "err ERR increment would produce NaN or Infinity"},
			{with(hop(KindHIncrByFloat, n, "h", "f"), 0, 0, 0), `"0.3"`},
		}},
		{"wrong type", []hashStep{
			{Op{Kind: KindSet, Now: n, Key: []byte("s"), Args: hbs("x")}, "OK"},
			{hop(KindHSet, n, "s", "a", "1"), wrongType},
			{hop(KindHGet, n, "s", "a"), wrongType},
			{hop(KindHMGet, n, "s", "a"), wrongType},
			{hop(KindHGetAll, n, "s"), wrongType},
			{hop(KindHDel, n, "s", "a"), wrongType},
			{hop(KindHLen, n, "s"), wrongType},
			{hop(KindHExists, n, "s", "a"), wrongType},
			{hop(KindHKeys, n, "s"), wrongType},
			{hop(KindHVals, n, "s"), wrongType},
			{with(hop(KindHIncrBy, n, "s", "a"), 0, 0, 1), wrongType},
			{hop(KindHIncrByFloat, n, "s", "a", "1"), wrongType},
			{hop(KindHStrLen, n, "s", "a"), wrongType},
			{hop(KindHScan, n, "s"), wrongType},
			{hop(KindHRandField, n, "s"), wrongType},
			{with(hop(KindHExpire, n, "s", "a"), 0, n+1000, 0), wrongType},
			{hop(KindHTTL, n, "s", "a"), wrongType},
			{hop(KindHPersist, n, "s", "a"), wrongType},
			{hop(KindHGetEx, n, "s", "a"), wrongType},
			{hop(KindHSetEx, n, "s", "a", "1"), wrongType},
			{hop(KindHGetDel, n, "s", "a"), wrongType},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runHashSteps(t, hashStore(8, 32), c.steps)
		})
	}
}

func TestHashFieldExpiry(t *testing.T) {
	n := int64(hashT0)
	ex := func(at int64, fl Flags, key string, fields ...string) Op {
		return with(hop(KindHExpire, n, key, fields...), fl, at, 0)
	}
	ttlOp := func(now int64, fl Flags, fields ...string) Op {
		return with(hop(KindHTTL, now, "h", fields...), fl, 0, 0)
	}
	cases := []struct {
		name  string
		steps []hashStep
	}{
		{"conditions", []hashStep{
			{hop(KindHSet, n, "h", "a", "1", "b", "2"), "2"},
			{ex(n+10_000, 0, "nokey", "a", "b"), "[-2 -2]"},
			{ex(n+10_000, XX, "h", "a"), "[0]"},
			{ex(n+10_000, GT, "h", "a"), "[0]"},
			{ex(n+10_000, NX, "h", "a", "x"), "[1 -2]"},
			{ex(n+20_000, NX, "h", "a", "b"), "[0 1]"},
			{ex(n+5_000, GT, "h", "a"), "[0]"},
			{ex(n+10_000, GT, "h", "a"), "[0]"},
			{ex(n+15_000, GT, "h", "a"), "[1]"},
			{ex(n+15_000, LT, "h", "a"), "[0]"},
			{ex(n+12_000, LT, "h", "a"), "[1]"},
			{ex(n+30_000, XX, "h", "a"), "[1]"},
			{hop(KindHSet, n, "h", "c", "3"), "1"},
			{ex(n+40_000, LT, "h", "c"), "[1]"},
			{ttlOp(n, 0, "a", "b", "c", "x"), "[30 20 40 -2]"},
			{ttlOp(n+1, Millis, "a", "b", "c"), "[29999 19999 39999]"},
			{ttlOp(n+29_001, 0, "a"), "[1]"},
			{ttlOp(n, Absolute, "a"), fmt.Sprintf("[%d]", (n+30_000+999)/1000)},
			{ttlOp(n, Absolute|Millis, "a"), fmt.Sprintf("[%d]", n+30_000)},
			{ttlOp(n, 0, "nokey"), "[-2]"},
			{with(hop(KindHTTL, n, "nokey", "a", "b"), 0, 0, 0), "[-2 -2]"},
		}},
		{"expiry edges", []hashStep{
			{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3"), "3"},
			{ex(n+100, 0, "h", "a"), "[1]"},
			{hop(KindHGet, n+99, "h", "a"), `"1"`},
			{hop(KindHGet, n+100, "h", "a"), `"1"`}, // the deadline's own ms
			{ttlOp(n+100, Millis, "a"), "[0]"},
			{ttlOp(n+100, 0, "a"), "[0]"},
			{hop(KindHLen, n+100, "h"), "3"},
			{hop(KindHGet, n+101, "h", "a"), "nil"},
			{hop(KindHLen, n+101, "h"), "2"},
			{hop(KindHExists, n+101, "h", "a"), "0"},
			{hop(KindHGetAll, n+101, "h"), "map[b 2 c 3]"},
			{ttlOp(n+101, 0, "a"), "[-2]"},
			{ex(n+101, 0, "h", "b"), "[2]"},
			{hop(KindHGetAll, n+101, "h"), "map[c 3]"},
			{ex(n+50, 0, "h", "c"), "[2]"},
			{hop(KindHLen, n+101, "h"), "0"},
			{hop(KindHGetAll, n+101, "h"), "map[]"},
			{hop(KindHSet, n+101, "h", "a", "new"), "1"},
			{hop(KindHGetAll, n+101, "h"), "map[a new]"},
		}},
		{"order with deadlines", []hashStep{
			{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4"), "4"},
			{ex(n+100_000, 0, "h", "c"), "[1]"},
			{hop(KindHKeys, n, "h"), "[c a b d]"},
			{ex(n+50_000, 0, "h", "d"), "[1]"},
			{hop(KindHKeys, n, "h"), "[d c a b]"},
			{ex(n+100_000, 0, "h", "b"), "[1]"},
			{hop(KindHKeys, n, "h"), "[d b c a]"},
			{ex(n+100_000, 0, "h", "c", "b"), "[1 1]"},
			{hop(KindHKeys, n, "h"), "[d b c a]"},
			{hop(KindHPersist, n, "h", "c", "a", "x"), "[1 -1 -2]"},
			{hop(KindHKeys, n, "h"), "[d b a c]"},
			{hop(KindHSet, n, "h", "d", "new", "a", "A"), "0"},
			{hop(KindHKeys, n, "h"), "[b a c d]"},
			{with(hop(KindHIncrBy, n, "h", "b"), 0, 0, 1), "3"},
			{ttlOp(n, 0, "b"), "[100]"},
			{hop(KindHKeys, n, "h"), "[b a c d]"},
			{hop(KindHGetAll, n+100_000, "h"), "map[b 3 a A c 3 d new]"},
			{hop(KindHGetAll, n+100_001, "h"), "map[a A c 3 d new]"},
		}},
		{"hgetex", []hashStep{
			{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3"), "3"},
			{with(hop(KindHGetEx, n, "h", "a", "x"), SetExpiry, n+60_000, 0), "[1 nil]"},
			{ttlOp(n, 0, "a"), "[60]"},
			{with(hop(KindHGetEx, n, "h", "a", "b"), Persist, 0, 0), "[1 2]"},
			{ttlOp(n, 0, "a", "b"), "[-1 -1]"},
			{hop(KindHKeys, n, "h"), "[b c a]"},
			{hop(KindHGetEx, n, "h", "c"), "[3]"},
			{with(hop(KindHGetEx, n, "h", "c", "c"), SetExpiry, n, 0), "[3 nil]"},
			{hop(KindHKeys, n, "h"), "[b a]"},
			{with(hop(KindHGetEx, n, "nokey", "a"), SetExpiry, n+1, 0), "[nil]"},
			{with(hop(KindHGetEx, n, "h", "a", "b"), SetExpiry, 0, 0), "[1 2]"},
			{hop(KindHLen, n, "h"), "0"},
		}},
		{"hsetex", []hashStep{
			{with(hop(KindHSetEx, n, "h", "a", "1"), FXX, 0, 0), "0"},
			{hop(KindHLen, n, "h"), "0"},
			{with(hop(KindHSetEx, n, "h", "a", "1", "b", "2"), FNX|SetExpiry, n+60_000, 0), "1"},
			{ttlOp(n, 0, "a", "b"), "[60 60]"},
			{with(hop(KindHSetEx, n, "h", "b", "x", "c", "3"), FNX, 0, 0), "0"},
			{with(hop(KindHSetEx, n, "h", "b", "x", "c", "3"), FXX, 0, 0), "0"},
			{with(hop(KindHSetEx, n, "h", "a", "A", "b", "B"), FXX|KeepTTL, 0, 0), "1"},
			{ttlOp(n, 0, "a", "b"), "[60 60]"},
			{hop(KindHGetAll, n, "h"), "map[b B a A]"},
			{hop(KindHSetEx, n, "h", "a", "AA"), "1"},
			{ttlOp(n, 0, "a", "b"), "[-1 60]"},
			{with(hop(KindHSetEx, n, "h", "b", "gone", "c", "C"), SetExpiry, n-1, 0), "1"},
			{hop(KindHGetAll, n, "h"), "map[a AA]"},
			{with(hop(KindHSetEx, n, "h", "a", "x"), SetExpiry, n, 0), "1"},
			{hop(KindHLen, n, "h"), "0"},
		}},
		{"hgetdel", []hashStep{
			{hop(KindHSet, n, "h", "field1", "Hello", "field2", "World", "field3", "!"), "3"},
			{hop(KindHGetDel, n, "h", "field3", "field4"), "[! nil]"},
			{hop(KindHGetAll, n, "h"), "map[field1 Hello field2 World]"},
			{hop(KindHGetDel, n, "h", "field1", "field2", "field1"), "[Hello World nil]"},
			{hop(KindHLen, n, "h"), "0"},
			{hop(KindHGetDel, n, "h", "a"), "[nil]"},
		}},
		{"hpersist", []hashStep{
			{hop(KindHPersist, n, "nokey", "a"), "[-2]"},
			{hop(KindHSet, n, "h", "a", "1"), "1"},
			{ex(n+300_000, 0, "h", "a"), "[1]"},
			{ttlOp(n+300_000, Millis, "a"), "[0]"},
			{hop(KindHPersist, n+300_001, "h", "a"), "[-2]"},
			{hop(KindHLen, n+300_001, "h"), "0"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runHashSteps(t, hashStore(8, 16), c.steps)
		})
	}
}

// base returns s; a limStore promotes it, so rawEntry takes either.
func (s *Store) base() *Store { return s }

// rawEntry peeks at key's stored entry.
func rawEntry(from interface{ base() *Store }, key string) (entry, bool) {
	s := from.base()
	st := &s.stripes[s.stripeOf([]byte(key))]
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.m[key]
	return e, ok
}

func TestHashReap(t *testing.T) {
	for _, big := range []bool{false, true} {
		t.Run(fmt.Sprintf("big=%v", big), func(t *testing.T) {
			s := hashStore(8, 16)
			n := int64(hashT0)
			if big {
				s = hashStore(1, 16)
			}
			runHashSteps(t, s, []hashStep{
				{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3"), "3"},
				{with(hop(KindHExpire, n, "h", "a"), 0, n+1000, 0), "[1]"},
				{with(hop(KindHExpire, n, "h", "b"), 0, n+2000, 0), "[1]"},
				{hop(KindHSet, n, "only", "x", "1"), "1"},
				{with(hop(KindHExpire, n, "only", "x"), 0, n+1500, 0), "[1]"},
			})
			e, _ := rawEntry(s, "h")
			if (e.big != nil) != big {
				t.Fatalf("big = %v, want %v", e.big != nil, big)
			}
			if got := fieldDeadline(e); got != n+1000 {
				t.Fatalf("fieldDeadline = %d, want %d", got, n+1000)
			}
			if due := s.DueKeys(n+1000, 10, 0); len(due) != 0 {
				t.Fatalf("due before any deadline passed: %q", due)
			}
			reap := hop(KindReap, n+1000, "", "h", "only")
			if r := s.Apply(&reap); r.Int != 0 {
				t.Fatalf("early reap removed %d", r.Int)
			}
			due := s.DueKeys(n+1501, 10, 0)
			slices.SortFunc(due, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
			if fmt.Sprintf("%q", due) != `["h" "only"]` {
				t.Fatalf("DueKeys = %q", due)
			}
			before := s.Stats().ExpiredFields.Load()
			reap = Op{Kind: KindReap, Now: n + 1501, Args: due}
			if r := s.Apply(&reap); r.Int != 2 {
				t.Fatalf("reap removed %d, want 2", r.Int)
			}
			if got := s.Stats().ExpiredFields.Load() - before; got != 2 {
				t.Fatalf("ExpiredFields grew by %d", got)
			}
			if _, ok := rawEntry(s, "only"); ok {
				t.Fatal("hash whose last field expired is still stored")
			}
			e, _ = rawEntry(s, "h")
			if got := fieldDeadline(e); got != n+2000 {
				t.Fatalf("fieldDeadline after reap = %d", got)
			}
			runHashSteps(t, s, []hashStep{
				{hop(KindHGetAll, n+1501, "h"), map[bool]string{false: "map[b 2 c 3]", true: "map[" + bigOrder("b 2", "c 3") + "]"}[big]},
				{hop(KindHPersist, n+1501, "h", "b"), "[1]"},
			})
			e, _ = rawEntry(s, "h")
			if got := fieldDeadline(e); got != 0 {
				t.Fatalf("fieldDeadline after persist = %d", got)
			}
			if due := s.DueKeys(n+5000, 10, 0); len(due) != 0 {
				t.Fatalf("due after persist: %q", due)
			}
		})
	}
}

// bigOrder sorts "field value" pairs the way a big hash lists them (by
// xxhash of the field) and joins them.
func bigOrder(pairs ...string) string {
	slices.SortFunc(pairs, func(a, b string) int {
		ha := xxhash.Sum64String(strings.Fields(a)[0])
		hb := xxhash.Sum64String(strings.Fields(b)[0])
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return strings.Join(pairs, " ")
}

func TestHashConversion(t *testing.T) {
	n := int64(hashT0)
	cases := []struct {
		name string
		ops  []Op
		big  bool
	}{
		{"at the entry limit", []Op{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4")}, false},
		{"past the entry limit", []Op{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")}, true},
		{"one by one", []Op{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4"), hop(KindHSet, n, "h", "e", "5")}, true},
		{"long value", []Op{hop(KindHSet, n, "h", "a", "12345678")}, false},
		{"too long value", []Op{hop(KindHSet, n, "h", "a", "123456789")}, true},
		{"too long name", []Op{hop(KindHSet, n, "h", "123456789", "a")}, true},
		{"hincrby value", []Op{hop(KindHSet, n, "h", "a", "10000000"), with(hop(KindHIncrBy, n, "h", "a"), 0, 0, 100000000)}, true},
		{"many duplicate pairs", []Op{hop(KindHSet, n, "h", "a", "1", "a", "1", "a", "1", "a", "1", "a", "1")}, true},
		{"hsetex", []Op{with(hop(KindHSetEx, n, "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), SetExpiry, n+100, 0)}, true},
		{"a deleted big hash starts over packed", []Op{hop(KindHSet, n, "h", "a", "123456789"), hop(KindHDel, n, "h", "a"), hop(KindHSet, n, "h", "a", "1")}, false},
		{"stays big after shrinking", []Op{hop(KindHSet, n, "h", "a", "123456789", "b", "1"), hop(KindHDel, n, "h", "a")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := hashStore(4, 8)
			for i := range c.ops {
				if r := s.Apply(&c.ops[i]); r.Kind == RErr {
					t.Fatalf("op %d: %v", i, r.Err)
				}
			}
			e, ok := rawEntry(s, "h")
			if !ok {
				t.Fatal("no hash")
			}
			if got := e.big != nil; got != c.big {
				t.Fatalf("big = %v, want %v", got, c.big)
			}
		})
	}
}

func TestHashPackedFormat(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(128, 64)
	// A 10-field session: the packed form costs two bytes per field on
	// top of the names and values, plus a two-byte header.
	var args []string
	payload := 0
	for i := range 10 {
		f, v := fmt.Sprintf("field%d", i), strings.Repeat("v", 20+i)
		args = append(args, f, v)
		payload += len(f) + len(v)
	}
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "sess", args...), "10"}})
	e, _ := rawEntry(s, "sess")
	if e.big != nil || len(e.s) != payload+2*10+2 {
		t.Fatalf("packed size %d for %d payload bytes", len(e.s), payload)
	}
	// Deadlines add their varints only while some field has one.
	runHashSteps(t, s, []hashStep{{with(hop(KindHExpire, n, "sess", "field3"), 0, n+1000, 0), "[1]"}})
	e, _ = rawEntry(s, "sess")
	if e.s[0]&packTTL == 0 || len(e.s) != payload+2*10+2+9+uvarintLen(uint64(n+1000)) {
		t.Fatalf("packed size with a deadline: %d", len(e.s))
	}
	runHashSteps(t, s, []hashStep{{hop(KindHPersist, n, "sess", "field3"), "[1]"}})
	e, _ = rawEntry(s, "sess")
	if e.s[0] != 0 || len(e.s) != payload+2*10+2 {
		t.Fatalf("packed size after persist: %d", len(e.s))
	}
}

func TestHashWatchAndNoops(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(8, 16)
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", "a", "1"), "1"}})
	e, _ := rawEntry(s, "h")
	ver := e.ver
	for _, op := range []Op{
		with(hop(KindHSet, n, "h", "a", "2"), NX, 0, 0),
		hop(KindHDel, n, "h", "x"),
		with(hop(KindHExpire, n, "h", "a", "x"), XX, n+5, 0),
		hop(KindHPersist, n, "h", "a"),
		hop(KindHGetEx, n, "h", "a"),
		with(hop(KindHSetEx, n, "h", "x", "1"), FXX, 0, 0),
		hop(KindHGetDel, n, "h", "x"),
		hop(KindHGetAll, n, "h"),
	} {
		s.Apply(&op)
	}
	if e, _ = rawEntry(s, "h"); e.ver != ver {
		t.Fatal("an op that changed nothing bumped the version")
	}
	op := hop(KindHSet, n, "h", "a", "1")
	s.Apply(&op)
	if e, _ = rawEntry(s, "h"); e.ver == ver {
		t.Fatal("HSET did not bump the version")
	}
}

func TestHashKeepsKeyTTL(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(2, 16)
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", "a", "1"), "1"}})
	exp := Op{Kind: KindExpire, Now: n, Key: []byte("h"), At: n + 10_000}
	s.Apply(&exp)
	for _, op := range []Op{
		hop(KindHSet, n, "h", "b", "2", "c", "3"),
		with(hop(KindHIncrBy, n, "h", "a"), 0, 0, 1),
		with(hop(KindHExpire, n, "h", "b"), 0, n+5000, 0),
		hop(KindHDel, n, "h", "c"),
	} {
		if r := s.Apply(&op); r.Kind == RErr {
			t.Fatal(r.Err)
		}
		if e, _ := rawEntry(s, "h"); e.exp != n+10_000 {
			t.Fatalf("key deadline %d after kind %d", e.exp, op.Kind)
		}
	}
}

func BenchmarkHashHSet(b *testing.B) {
	s := New(Config{})
	var args []string
	for i := range 10 {
		args = append(args, fmt.Sprintf("field%d", i), strings.Repeat("v", 24))
	}
	setup := hop(KindHSet, hashT0, "sess", args...)
	s.Apply(&setup)
	op := hop(KindHSet, hashT0, "sess", "field4", "another-value-of-24-bytes")
	b.ReportAllocs()
	for b.Loop() {
		s.Apply(&op)
	}
}

func BenchmarkHashHGetAll(b *testing.B) {
	s := New(Config{})
	var args []string
	for i := range 10 {
		args = append(args, fmt.Sprintf("field%d", i), strings.Repeat("v", 24))
	}
	setup := hop(KindHSet, hashT0, "sess", args...)
	s.Apply(&setup)
	op := hop(KindHGetAll, hashT0, "sess")
	b.ReportAllocs()
	for b.Loop() {
		s.Read(&op)
	}
}

func BenchmarkHashHGet(b *testing.B) {
	s := New(Config{})
	var args []string
	for i := range 10 {
		args = append(args, fmt.Sprintf("field%d", i), strings.Repeat("v", 24))
	}
	setup := hop(KindHSet, hashT0, "sess", args...)
	s.Apply(&setup)
	op := hop(KindHGet, hashT0, "sess", "field7")
	b.ReportAllocs()
	for b.Loop() {
		s.Read(&op)
	}
}

// TestHashEncodingFollowsOpLimits checks that the op's hash limits, and
// nothing the store is configured with, choose the packed or big
// encoding: each case runs, encoded and decoded as the log carries it,
// on two stores built differently, which must end up alike.
func TestHashEncodingFollowsOpLimits(t *testing.T) {
	const n = hashT0
	lim := func(op Op, entries, value int32) Op {
		stampHashLimits(&op, entries, value)
		return op
	}
	many := func(kind Kind, fields int) Op { // fields f0..f<fields-1>
		op := hop(kind, n, "h")
		for i := 0; i < fields; i++ {
			op.Args = append(op.Args, []byte(fmt.Sprint("f", i)), []byte("v"))
		}
		return op
	}
	long := strings.Repeat("x", 65)
	tests := []struct {
		name    string
		ops     []Op
		wantBig bool
	}{
		{"no limits: 128 fields stay packed", []Op{many(KindHSet, 128)}, false},
		{"no limits: 129 fields are big", []Op{many(KindHSet, 129)}, true},
		{"no limits: a 64-byte value stays packed", []Op{hop(KindHSet, n, "h", "f", long[:64])}, false},
		{"no limits: a 65-byte value is big", []Op{hop(KindHSet, n, "h", "f", long)}, true},
		{"entries 3: 3 fields packed", []Op{lim(many(KindHSet, 3), 3, 0)}, false},
		{"entries 2: 3 fields big", []Op{lim(many(KindHSet, 3), 2, 0)}, true},
		{"entries 200: 129 fields packed", []Op{lim(many(KindHSet, 129), 200, 0)}, false},
		{"value 4: a 5-byte field big", []Op{lim(hop(KindHSet, n, "h", "abcde", "v"), 0, 4)}, true},
		{"value 100: a 65-byte value packed", []Op{lim(hop(KindHSet, n, "h", "f", long), 0, 100)}, false},
		{"HSETNX past entries", []Op{lim(hop(KindHSet, n, "h", "a", "1"), 1, 0),
			lim(with(hop(KindHSet, n, "h", "b", "2"), NX, 0, 0), 1, 0)}, true},
		{"HINCRBY past entries", []Op{lim(hop(KindHSet, n, "h", "a", "1"), 1, 0),
			lim(with(hop(KindHIncrBy, n, "h", "b"), 0, 0, 5), 1, 0)}, true},
		{"HINCRBYFLOAT past entries", []Op{lim(hop(KindHSet, n, "h", "a", "1"), 1, 0),
			lim(Op{Kind: KindHIncrByFloat, Now: n, Key: []byte("h"), Args: hbs("b", "1.5"), F: 1.5}, 1, 0)}, true},
		{"HSETEX past entries", []Op{lim(with(hop(KindHSetEx, n, "h", "a", "1", "b", "2"), 0, 0, 0), 1, 0)}, true},
		{"MULTI sub past entries", []Op{{Kind: KindMulti, Now: n,
			Subs: []Op{lim(hop(KindHSet, n, "h", "a", "1", "b", "2"), 1, 0)}}}, true},
		{"MULTI sub within entries", []Op{{Kind: KindMulti, Now: n,
			Subs: []Op{lim(hop(KindHSet, n, "h", "a", "1", "b", "2"), 2, 0)}}}, false},
		// Like Redis, only a write that sets a value converts: deleting
		// fields or changing deadlines without limits keeps the packing
		// a larger limit allowed.
		{"HDEL without limits keeps packing", []Op{lim(many(KindHSet, 200), 300, 0),
			hop(KindHDel, n, "h", "f0")}, false},
		{"HEXPIRE without limits keeps packing", []Op{lim(many(KindHSet, 200), 300, 0),
			with(hop(KindHExpire, n, "h", "f0"), 0, n+10_000, 0)}, false},
		{"HSET of an existing field without limits converts", []Op{lim(many(KindHSet, 200), 300, 0),
			hop(KindHSet, n, "h", "f0", "w")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stores := []*Store{
				New(Config{Stripes: 1, Clock: ttl.NewFakeClock(ttl.SystemClock{}.Now())}),
				New(Config{Stripes: 256}),
			}
			var dumps []string
			for _, s := range stores {
				for i := range tc.ops {
					op, err := Decode(AppendEncode(nil, &tc.ops[i]))
					if err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
					if r := s.Apply(&op); r.Kind == RErr {
						t.Fatalf("op %d: %v", i, r.Err)
					}
				}
				e, ok := rawEntry(s, "h")
				if !ok || e.typ != TypeHash {
					t.Fatalf("no hash stored: %+v", e)
				}
				if big := e.big != nil; big != tc.wantBig {
					t.Errorf("big = %v, want %v", big, tc.wantBig)
				}
				get := hop(KindHGetAll, n, "h")
				dumps = append(dumps, fmtRes(s.Apply(&get)))
			}
			if dumps[0] != dumps[1] {
				t.Errorf("stores differ:\n%s\n%s", dumps[0], dumps[1])
			}
		})
	}
}
