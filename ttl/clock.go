package ttl

import (
	"sync"
	"time"
)

// Clock is the only source of time in sessiond. Production code uses
// SystemClock; tests use a *FakeClock so that expiry is controlled.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// SystemClock reads the operating system's wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// UnixMilli returns c's current time in Unix milliseconds.
func UnixMilli(c Clock) int64 { return c.Now().UnixMilli() }

// FakeClock is a Clock that only moves when told to. It is safe for
// concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake current time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Set moves the clock to t, which may be in the past.
func (f *FakeClock) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}
