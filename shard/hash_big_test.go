package shard

import (
	"fmt"
	"strconv"
	"testing"
)

func TestHashBigOps(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(4, 8)
	var args []string
	var pairs []string
	for i := range 20 {
		f, v := fmt.Sprintf("f%02d", i), strconv.Itoa(i)
		args = append(args, f, v)
		pairs = append(pairs, f+" "+v)
	}
	runHashSteps(t, s, []hashStep{
		{hop(KindHSet, n, "h", args...), "20"},
		{hop(KindHLen, n, "h"), "20"},
		{hop(KindHGet, n, "h", "f07"), `"7"`},
		{hop(KindHSet, n, "h", "f07", "seven", "new", "x"), "1"},
		{hop(KindHDel, n, "h", "new", "f00"), "2"},
		{hop(KindHSet, n, "h", "f00", "0", "f07", "7"), "1"},
		{hop(KindHGetAll, n, "h"), "map[" + bigOrder(pairs...) + "]"},
		{with(hop(KindHExpire, n, "h", "f01", "f02", "f03"), 0, n+100, 0), "[1 1 1]"},
		{with(hop(KindHExpire, n, "h", "f02"), 0, n+50, 0), "[1]"},
		{hop(KindHTTL, n, "h", "f01", "f02", "f04"), "[1 1 -1]"},
		{with(hop(KindHTTL, n, "h", "f01", "f02"), Millis, 0, 0), "[100 50]"},
		{hop(KindHLen, n+50, "h"), "20"}, // f02's last millisecond
		{hop(KindHGet, n+50, "h", "f02"), `"2"`},
		{with(hop(KindHTTL, n+50, "h", "f02"), Millis, 0, 0), "[0]"},
		{hop(KindHLen, n+51, "h"), "19"},
		{hop(KindHGet, n+51, "h", "f02"), "nil"},
		{hop(KindHLen, n+100, "h"), "19"},
		{hop(KindHLen, n+101, "h"), "17"},
		{with(hop(KindHIncrBy, n+101, "h", "f01"), 0, 0, 5), "5"},
		{hop(KindHTTL, n+101, "h", "f01"), "[-1]"},
		{hop(KindHLen, n+101, "h"), "18"},
		{with(hop(KindHSetEx, n+101, "h", "f04", "x"), KeepTTL|FXX, 0, 0), "1"},
		{hop(KindHPersist, n+101, "h", "f04"), "[-1]"},
		{hop(KindHGetDel, n+101, "h", "f04", "f02"), "[x nil]"},
		{hop(KindHLen, n+101, "h"), "17"},
	})
	e, _ := rawEntry(s, "h")
	if e.big == nil || e.big.minExp != 0 || e.big.nexp != 0 || len(e.big.hash) != 17 {
		t.Fatalf("big hash state: %+v", e.big)
	}
	var want int64 = bigOverhead
	for f, hf := range e.big.hash {
		want += fieldCost(f, hf.v)
	}
	if e.big.size() != want {
		t.Fatalf("size %d, want %d", e.big.size(), want)
	}
	// Deleting every field removes the key.
	var all []string
	for f := range e.big.hash {
		all = append(all, f)
	}
	runHashSteps(t, s, []hashStep{
		{hop(KindHDel, n+101, "h", all...), "17"},
	})
	if _, ok := rawEntry(s, "h"); ok {
		t.Fatal("empty big hash still stored")
	}
	if keys, _ := s.Len(); keys != 0 {
		t.Fatalf("%d keys left", keys)
	}
}

func TestHashBigDeadlineHeap(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(2, 64)
	var args []string
	for i := range 200 {
		args = append(args, "f"+strconv.Itoa(i), "v")
	}
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", args...), "200"}})
	// Churn deadlines so that the heap fills with stale entries.
	for round := range 20 {
		for i := range 200 {
			op := with(hop(KindHExpire, n, "h", "f"+strconv.Itoa(i)), 0, n+int64(1000+(i*7+round*13)%500), 0)
			s.Apply(&op)
		}
	}
	e, _ := rawEntry(s, "h")
	min := int64(0)
	for _, hf := range e.big.hash {
		if hf.exp != 0 && (min == 0 || hf.exp < min) {
			min = hf.exp
		}
	}
	if fieldDeadline(e) != min {
		t.Fatalf("fieldDeadline %d, want %d", fieldDeadline(e), min)
	}
	if len(e.big.ttl) > 2*e.big.nexp+32 {
		t.Fatalf("heap holds %d entries for %d deadlines", len(e.big.ttl), e.big.nexp)
	}
	reap := Op{Kind: KindReap, Now: n + 1200, Args: hbs("h")}
	removed := s.Apply(&reap).Int
	e, _ = rawEntry(s, "h")
	left := 0
	for _, hf := range e.big.hash {
		if hf.exp != 0 && hf.exp < n+1200 { // passed at the reap's time
			t.Fatalf("due field left: %+v", hf)
		}
		left++
	}
	if int(removed)+left != 200 || fieldDeadline(e) < n+1200 {
		t.Fatalf("removed %d, left %d, next deadline %d", removed, left, fieldDeadline(e))
	}
}

func TestHashBigFreeze(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(1, 64)
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", "a", "1", "b", "2"), "2"}})
	e, _ := rawEntry(s, "h")
	e.big.freeze()
	snap := e.big
	runHashSteps(t, s, []hashStep{
		{hop(KindHSet, n, "h", "a", "changed", "c", "3"), "1"},
		{with(hop(KindHExpire, n, "h", "b"), 0, n+10, 0), "[1]"},
		{hop(KindHDel, n, "h", "b"), "1"},
	})
	if len(snap.hash) != 2 || snap.hash["a"].v != "1" || snap.hash["b"] != (hfield{v: "2"}) {
		t.Fatalf("frozen hash changed: %v", snap.hash)
	}
	e, _ = rawEntry(s, "h")
	if e.big == snap || len(e.big.hash) != 2 || e.big.hash["a"].v != "changed" {
		t.Fatalf("live hash: %v", e.big.hash)
	}
}

func TestHashScan(t *testing.T) {
	n := int64(hashT0)
	scan := func(key string, cursor uint64, count int64, fl Flags, match string) Op {
		op := with(hop(KindHScan, n, key), fl, count, int64(cursor))
		if match != "" {
			op.Flags |= Match
			op.Args = hbs(match)
		}
		return op
	}
	s := hashStore(8, 16)
	runHashSteps(t, s, []hashStep{
		{scan("nokey", 0, 0, 0, ""), "scan 0 []"},
		{hop(KindHSet, n, "h", "a1", "1", "b1", "2", "a2", "3"), "3"},
		{scan("h", 0, 0, 0, ""), "scan 0 [a1 1 b1 2 a2 3]"},
		{scan("h", 12345, 1, 0, ""), "scan 0 [a1 1 b1 2 a2 3]"},
		{scan("h", 0, 0, NoValues, ""), "scan 0 [a1 b1 a2]"},
		{scan("h", 0, 0, 0, "a*"), "scan 0 [a1 1 a2 3]"},
		{scan("h", 0, 0, NoValues, "*2"), "scan 0 [a2]"},
		{with(hop(KindHExpire, n, "h", "b1"), 0, n, 0), "[2]"},
		{scan("h", 0, 0, 0, ""), "scan 0 [a1 1 a2 3]"},
	})

	// A big hash, walked with several counts, returns every field once.
	big := hashStore(4, 16)
	var args []string
	for i := range 100 {
		args = append(args, "k"+strconv.Itoa(i), strconv.Itoa(i))
	}
	runHashSteps(t, big, []hashStep{{hop(KindHSet, n, "h", args...), "100"}})
	for _, count := range []int64{1, 7, 10, 1000} {
		seen := map[string]int{}
		cursor, calls := uint64(0), 0
		for {
			op := scan("h", cursor, count, 0, "")
			r := big.Apply(&op)
			if r.Kind != RScan || len(r.Vals)%2 != 0 {
				t.Fatalf("reply %s", fmtRes(r))
			}
			if c := int64(len(r.Vals) / 2); c > count {
				t.Fatalf("count %d: %d fields in one call", count, c)
			}
			for i := 0; i < len(r.Vals); i += 2 {
				seen[r.Vals[i].S]++
			}
			cursor = uint64(r.Int)
			calls++
			if cursor == 0 || calls > 1000 {
				break
			}
		}
		if len(seen) != 100 {
			t.Fatalf("count %d: saw %d fields", count, len(seen))
		}
		for f, c := range seen {
			if c != 1 {
				t.Fatalf("count %d: %s seen %d times", count, f, c)
			}
		}
	}
}

func TestHashScanEqualHashes(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(1, 16)
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4"), "4"}})
	e, _ := rawEntry(s, "h")
	// Pretend that b and c share a hash: a scan of COUNT 2 must not stop
	// between them.
	e.big.order = orderOf([]hkey{{10, "a"}, {20, "b"}, {20, "c"}, {30, "d"}})
	op := with(hop(KindHScan, n, "h"), NoValues, 2, 0)
	if got := fmtRes(s.Apply(&op)); got != "scan 30 [a b c]" {
		t.Fatalf("first call: %s", got)
	}
	op = with(hop(KindHScan, n, "h"), NoValues, 2, 30)
	if got := fmtRes(s.Apply(&op)); got != "scan 0 [d]" {
		t.Fatalf("second call: %s", got)
	}
	op = with(hop(KindHScan, n, "h"), NoValues, 1, 15)
	if got := fmtRes(s.Apply(&op)); got != "scan 30 [b c]" {
		t.Fatalf("resume inside: %s", got)
	}
}

func TestHashRandField(t *testing.T) {
	n := int64(hashT0)
	for _, big := range []bool{false, true} {
		t.Run(fmt.Sprintf("big=%v", big), func(t *testing.T) {
			s := hashStore(8, 16)
			if big {
				s = hashStore(2, 16)
			}
			runHashSteps(t, s, []hashStep{
				{hop(KindHRandField, n, "nokey"), "nil"},
				{with(hop(KindHRandField, n, "nokey"), HasCount, 0, 3), "[]"},
				{with(hop(KindHRandField, n, "nokey"), HasCount|WithValues, 0, -3), "pairs[]"},
				{hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4", "x", "9"), "5"},
				{with(hop(KindHExpire, n, "h", "x"), 0, n+1, 0), "[1]"},
				// x's last millisecond: still drawn.
				{with(hop(KindHRandField, n+1, "h"), HasCount, 0, 10), map[bool]string{false: "[x a b c d]", true: "[" + bigOrder("a", "b", "c", "d", "x") + "]"}[big]},
				{with(hop(KindHRandField, n+2, "h"), HasCount, 0, 0), "[]"},
			})
			valueOf := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
			for _, count := range []int64{1, 2, 3, 4, 10, -1, -10} {
				for _, withValues := range []bool{false, true} {
					fl := HasCount
					if withValues {
						fl |= WithValues
					}
					for _, read := range []bool{false, true} {
						op := with(hop(KindHRandField, n+2, "h"), fl, 0, count)
						var r Result
						if read {
							r = s.Read(&op)
						} else {
							r = s.Apply(&op)
						}
						per := 1
						if withValues {
							per = 2
							if r.Kind != RPairs {
								t.Fatalf("kind %d", r.Kind)
							}
						}
						want := int(count)
						switch {
						case count < 0:
							want = int(-count)
						case count > 4:
							want = 4
						}
						if len(r.Vals) != per*want {
							t.Fatalf("count %d: %s", count, fmtRes(r))
						}
						seen := map[string]bool{}
						for i := 0; i < len(r.Vals); i += per {
							f := r.Vals[i].S
							if _, ok := valueOf[f]; !ok {
								t.Fatalf("count %d: field %q", count, f)
							}
							if withValues && r.Vals[i+1].S != valueOf[f] {
								t.Fatalf("count %d: %s", count, fmtRes(r))
							}
							if count > 0 && seen[f] {
								t.Fatalf("count %d: repeated %q", count, f)
							}
							seen[f] = true
						}
						if count >= 4 && !big && fmtRes(r) != map[bool]string{false: "[a b c d]", true: "pairs[a 1 b 2 c 3 d 4]"}[withValues] {
							t.Fatalf("whole hash out of order: %s", fmtRes(r))
						}
					}
				}
			}
			// One field: every live field comes up.
			seen := map[string]bool{}
			for range 200 {
				op := hop(KindHRandField, n+2, "h")
				seen[s.Read(&op).Str] = true
			}
			if len(seen) != 4 || seen["x"] {
				t.Fatalf("fields seen: %v", seen)
			}
			// Inside Apply the choice is a function of the op and state.
			s2 := hashStore(8, 16)
			if big {
				s2 = hashStore(2, 16)
			}
			setup := hop(KindHSet, n, "h", "a", "1", "b", "2", "c", "3", "d", "4")
			s2.Apply(&setup)
			s3 := hashStore(8, 16)
			if big {
				s3 = hashStore(2, 16)
			}
			s3.Apply(&setup)
			for _, count := range []int64{2, -5} {
				a := with(hop(KindHRandField, n+2, "h"), HasCount, 0, count)
				b := a
				if x, y := fmtRes(s2.Apply(&a)), fmtRes(s3.Apply(&b)); x != y {
					t.Fatalf("replicas disagree: %s vs %s", x, y)
				}
			}
		})
	}
}

// TestHashRandFieldFewOfMany reads a few distinct fields of a big hash,
// the path that draws random ranks instead of walking every field.
func TestHashRandFieldFewOfMany(t *testing.T) {
	n := int64(hashT0)
	s := hashStore(2, 16)
	args := []string{}
	for i := range 40 {
		args = append(args, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
	}
	runHashSteps(t, s, []hashStep{{hop(KindHSet, n, "h", args...), "40"}})
	for _, count := range []int64{1, 3, 9} {
		op := with(hop(KindHRandField, n, "h"), HasCount|WithValues, 0, count)
		r := s.Read(&op)
		seen := map[string]bool{}
		for i := 0; i+1 < len(r.Vals); i += 2 {
			f, v := r.Vals[i].S, r.Vals[i+1].S
			if seen[f] || "v"+f[1:] != v {
				t.Fatalf("count %d: %s", count, fmtRes(r))
			}
			seen[f] = true
		}
		if len(seen) != int(count) {
			t.Fatalf("count %d: %d distinct fields in %s", count, len(seen), fmtRes(r))
		}
	}
}
