package ttl

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeKeys is a ReapFunc's world: pending due keys and a clock that each
// reap call advances, standing in for the time the work takes.
type fakeKeys struct {
	clock    *FakeClock
	pending  int
	perCall  time.Duration
	calls    int
	maxSeen  int
	lastNows []int64
}

func (f *fakeKeys) reap(now int64, max int) int {
	f.calls++
	f.lastNows = append(f.lastNows, now)
	if max > f.maxSeen {
		f.maxSeen = max
	}
	n := min(max, f.pending)
	f.pending -= n
	f.clock.Advance(f.perCall)
	return n
}

func TestReaperCycleBudget(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name      string
		pending   int
		batch     int
		budget    time.Duration
		perCall   time.Duration
		wantCalls int // in the first cycle
	}{
		// 25 ms budget, 1 ms per batch: the 25th call spends it.
		{"million due, budget bounds the cycle", 1_000_000, 512, 25 * time.Millisecond, time.Millisecond, 25},
		{"slow batches", 1_000_000, 512, 25 * time.Millisecond, 10 * time.Millisecond, 3},
		{"one batch longer than the budget", 1_000_000, 512, 25 * time.Millisecond, time.Second, 1},
		{"few due: one short batch", 100, 512, 25 * time.Millisecond, time.Millisecond, 1},
		{"exactly one batch: a second call finds none", 512, 512, 25 * time.Millisecond, time.Millisecond, 2},
		{"nothing due", 0, 512, 25 * time.Millisecond, time.Millisecond, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewFakeClock(start)
			f := &fakeKeys{clock: clock, pending: tc.pending, perCall: tc.perCall}
			r := &Reaper{Clock: clock, Batch: tc.batch, Budget: tc.budget, Reap: f.reap}
			got := r.Cycle()
			if f.calls != tc.wantCalls {
				t.Fatalf("first cycle made %d calls, want %d", f.calls, tc.wantCalls)
			}
			if want := min(tc.pending, tc.wantCalls*tc.batch); got != want {
				t.Fatalf("first cycle reaped %d, want %d", got, want)
			}
			if f.maxSeen > tc.batch {
				t.Fatalf("a call was allowed %d keys, batch is %d", f.maxSeen, tc.batch)
			}
			// Each call sees the time it runs at, never earlier.
			for i := 1; i < len(f.lastNows); i++ {
				if f.lastNows[i] < f.lastNows[i-1] {
					t.Fatalf("now went back: %v", f.lastNows)
				}
			}
			if f.lastNows[0] != start.UnixMilli() {
				t.Fatalf("first call at %d, want %d", f.lastNows[0], start.UnixMilli())
			}
			// Repeated cycles reclaim everything, each within its budget.
			cycles := 1
			for f.pending > 0 {
				before := f.calls
				r.Cycle()
				if c := f.calls - before; c > tc.wantCalls {
					t.Fatalf("cycle %d made %d calls, budget allows %d", cycles, c, tc.wantCalls)
				}
				cycles++
				if cycles > tc.pending {
					t.Fatalf("no progress after %d cycles", cycles)
				}
			}
		})
	}
}

func TestReaperDefaults(t *testing.T) {
	r := &Reaper{Reap: func(int64, int) int { return 0 }}
	r.Cycle()
	if r.Interval != 100*time.Millisecond || r.Budget != 25*time.Millisecond || r.Batch != 512 || r.Clock == nil {
		t.Fatalf("defaults: %+v", r)
	}
}

func TestReaperRunStops(t *testing.T) {
	clock := NewFakeClock(time.UnixMilli(1_000))
	var mu sync.Mutex
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reaper{Clock: clock, Interval: time.Millisecond, Reap: func(int64, int) int {
		mu.Lock()
		calls++
		mu.Unlock()
		return 0
	}}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		c := calls
		mu.Unlock()
		if c >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run made %d calls in 10s", c)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
