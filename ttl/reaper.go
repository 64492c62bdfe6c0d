package ttl

import (
	"context"
	"time"
)

// ReapFunc reclaims up to max keys that are due at now (Unix ms) and
// returns how many it found due. It is called from one goroutine only.
type ReapFunc func(now int64, max int) int

// Reaper calls a ReapFunc periodically, in batches, spending at most a
// bounded share of each period: like Redis's active expire cycle, it stops
// a cycle once Budget has been used and resumes on the next tick, so a
// million keys expiring at once cost a bounded fraction of one core.
type Reaper struct {
	Clock    Clock
	Interval time.Duration // time between cycles; default 100 ms
	Budget   time.Duration // time one cycle may spend; default 25 ms
	Batch    int           // keys per ReapFunc call; default 512
	Reap     ReapFunc
}

func (r *Reaper) defaults() {
	if r.Interval <= 0 {
		r.Interval = 100 * time.Millisecond
	}
	if r.Budget <= 0 {
		r.Budget = r.Interval / 4
	}
	if r.Batch <= 0 {
		r.Batch = 512
	}
	if r.Clock == nil {
		r.Clock = SystemClock{}
	}
}

// Cycle runs one reaping cycle: batches until a batch finds fewer keys
// than it may take or the budget is spent. It returns the keys found due.
// The budget is measured on Clock, so a cycle makes at most about
// Budget/(time one batch takes) + 1 calls; with a clock that does not move
// (a FakeClock nobody advances) a cycle runs until a batch comes back short.
func (r *Reaper) Cycle() int {
	r.defaults()
	start := r.Clock.Now()
	total := 0
	for now := start; ; now = r.Clock.Now() {
		n := r.Reap(now.UnixMilli(), r.Batch)
		total += n
		if n < r.Batch || r.Clock.Now().Sub(start) >= r.Budget {
			return total
		}
	}
}

// Run calls Cycle every Interval until ctx is done.
func (r *Reaper) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Cycle()
		}
	}
}
