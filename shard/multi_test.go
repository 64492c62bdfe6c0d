package shard

import (
	"testing"
	"time"

	"sessiond/ttl"
)

// TestWatch checks when a MULTI op with a watched key runs: never when
// the key changed after WATCH, as Redis 7 decides it.
func TestWatch(t *testing.T) {
	const t0 = int64(1_700_000_000_000)
	set := func(now int64, k, v string, at int64) Op {
		return Op{Kind: KindSet, Now: now, Key: []byte(k), Args: [][]byte{[]byte(v)}, At: at}
	}
	del := func(now int64, k string) Op {
		return Op{Kind: KindDel, Now: now, Args: [][]byte{[]byte(k)}}
	}
	reap := func(now int64, k string) Op {
		return Op{Kind: KindReap, Now: now, Args: [][]byte{[]byte(k)}}
	}
	tests := []struct {
		name    string
		before  []Op  // applied before WATCH (at t0)
		watchAt int64 // clock when WATCH runs
		after   []Op  // applied between WATCH and EXEC
		execAt  int64
		runs    bool
	}{
		{"unchanged", []Op{set(t0, "k", "v", 0)}, t0, nil, t0, true},
		{"unchanged absent", nil, t0, nil, t0, true},
		{"overwritten", []Op{set(t0, "k", "v", 0)}, t0, []Op{set(t0, "k", "v", 0)}, t0, false},
		{"created", nil, t0, []Op{set(t0, "k", "v", 0)}, t0, false},
		{"deleted", []Op{set(t0, "k", "v", 0)}, t0, []Op{del(t0, "k")}, t0, false},
		{"created and deleted", nil, t0, []Op{set(t0, "k", "v", 0), del(t0, "k")}, t0, false},
		{"absent, flushed", []Op{set(t0, "other", "v", 0)}, t0, []Op{{Kind: KindFlush, Now: t0}}, t0, true},
		{"present, flushed", []Op{set(t0, "k", "v", 0)}, t0, []Op{{Kind: KindFlush, Now: t0}}, t0, false},
		{"absent, older key deleted", []Op{set(t0, "other", "v", 0)}, t0, []Op{del(t0, "other")}, t0, true},
		{"absent, created and flushed", nil, t0, []Op{set(t0, "k", "v", 0), {Kind: KindFlush, Now: t0}}, t0, false},
		{"deadline reached, not passed", []Op{set(t0, "k", "v", t0+100)}, t0, nil, t0 + 100, true},
		{"expired since", []Op{set(t0, "k", "v", t0+100)}, t0, nil, t0 + 101, false},
		{"expired and reaped since", []Op{set(t0, "k", "v", t0+100)}, t0, []Op{reap(t0+200, "k")}, t0 + 200, false},
		{"watched at its deadline, expired since", []Op{set(t0, "k", "v", t0+100)}, t0 + 100, nil, t0 + 101, false},
		{"expired before watch", []Op{set(t0, "k", "v", t0+100)}, t0 + 101, nil, t0 + 200, true},
		{"expired before watch, reaped since", []Op{set(t0, "k", "v", t0+100)}, t0 + 101, []Op{reap(t0+150, "k")}, t0 + 200, true},
		{"expired before watch, set since", []Op{set(t0, "k", "v", t0+100)}, t0 + 101, []Op{set(t0+150, "k", "v", 0)}, t0 + 200, false},
		{"ttl not reached", []Op{set(t0, "k", "v", t0+1000)}, t0, nil, t0 + 999, true},
		{"write refused by NX", []Op{set(t0, "k", "v", 0)}, t0, []Op{{Kind: KindSet, Now: t0, Key: []byte("k"), Args: [][]byte{[]byte("x")}, Flags: NX}}, t0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := ttl.NewFakeClock(time.UnixMilli(t0))
			s := New(Config{Clock: clk})
			for i := range tc.before {
				s.Apply(&tc.before[i])
			}
			clk.Set(time.UnixMilli(tc.watchAt))
			w := s.WatchKey([]byte("k"))
			for i := range tc.after {
				s.Apply(&tc.after[i])
			}
			exec := Op{Kind: KindMulti, Now: tc.execAt, Watch: []Watch{w},
				Subs: []Op{{Kind: KindGet, Now: tc.execAt, Key: []byte("k")}}}
			got := s.Apply(&exec)
			if runs := got.Kind == RMulti; runs != tc.runs {
				t.Errorf("EXEC ran = %v (%+v), want %v", runs, got, tc.runs)
			}
		})
	}
}

// TestMultiAtomicResults checks that a MULTI op answers each sub-op in
// order, errors included, and applies the writes.
func TestMultiAtomicResults(t *testing.T) {
	s := New(Config{Clock: ttl.NewFakeClock(time.UnixMilli(1_700_000_000_000))})
	op := Op{Kind: KindMulti, Subs: []Op{
		{Kind: KindSet, Key: []byte("a"), Args: [][]byte{[]byte("x")}},
		{Kind: KindIncrBy, Key: []byte("a"), N: 1},
		{Kind: KindAppend, Key: []byte("a"), Args: [][]byte{[]byte("y")}},
		{Kind: KindGet, Key: []byte("a")},
	}}
	got := s.Apply(&op)
	if got.Kind != RMulti || len(got.Subs) != 4 {
		t.Fatalf("got %+v", got)
	}
	want := []Result{OK(), Err(ErrNotInteger), Int(2), Str("xy")}
	for i, w := range want {
		if !sameResult(got.Subs[i], w) {
			t.Errorf("sub %d: got %+v, want %+v", i, got.Subs[i], w)
		}
	}
}
