package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MixConfig configures the session-mix load generator. An operation is a
// session read (HGETALL of a random session) with probability
// ReadPercent/100, otherwise a session write: HSET of one field followed
// by EXPIRE, sent back to back and counted as one operation whose latency
// ends with the EXPIRE reply.
type MixConfig struct {
	Addr        string        // host:port of the server
	Conns       int           // concurrent connections
	Pipeline    int           // operations sent per batch on each connection
	Requests    int           // stop after this many operations in total...
	Duration    time.Duration // ...or after this long, whichever comes first
	Keys        int           // sessions are sessKey(0) .. sessKey(Keys-1)
	ReadPercent int           // share of operations that are reads, 0..100
	Seed        uint64        // seeds each connection's random source
}

// DefaultMixConfig returns the mix: 50 connections, no
// pipelining, 80% reads over 100,000 sessions.
func DefaultMixConfig() MixConfig {
	return MixConfig{
		Addr: "127.0.0.1:6379", Conns: 50, Pipeline: 1, Requests: 1_000_000,
		Duration: 5 * time.Second, Keys: 100_000, ReadPercent: 80, Seed: 1,
	}
}

// RegisterFlags defines c's flags on fs, with c's current values as the
// defaults; Args produces the matching command line.
func (c *MixConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "server `host:port`")
	fs.IntVar(&c.Conns, "c", c.Conns, "concurrent connections")
	fs.IntVar(&c.Pipeline, "P", c.Pipeline, "operations per pipelined batch on each connection")
	fs.IntVar(&c.Requests, "n", c.Requests, "stop after this many operations in total")
	fs.DurationVar(&c.Duration, "d", c.Duration, "stop after this long")
	fs.IntVar(&c.Keys, "r", c.Keys, "number of sessions (keys sess:000000000000 upwards)")
	fs.IntVar(&c.ReadPercent, "read-pct", c.ReadPercent, "percentage of operations that are HGETALL")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed")
}

// Args returns the flags that make RegisterFlags reproduce c.
func (c MixConfig) Args() []string {
	return []string{
		"-addr", c.Addr, "-c", strconv.Itoa(c.Conns), "-P", strconv.Itoa(c.Pipeline),
		"-n", strconv.Itoa(c.Requests), "-d", c.Duration.String(), "-r", strconv.Itoa(c.Keys),
		"-read-pct", strconv.Itoa(c.ReadPercent), "-seed", strconv.FormatUint(c.Seed, 10),
	}
}

// validate reports a configuration RunMix cannot run.
func (c MixConfig) validate() error {
	switch {
	case c.Conns < 1, c.Pipeline < 1, c.Requests < 1, c.Keys < 1:
		return errors.New("mix: -c, -P, -n and -r must be positive")
	case c.Duration <= 0:
		return errors.New("mix: -d must be positive")
	case c.ReadPercent < 0 || c.ReadPercent > 100:
		return errors.New("mix: -read-pct must be within 0..100")
	}
	return nil
}

// MixResult is what RunMix measured. Latencies are in milliseconds;
// Errors counts error replies (FirstError is the first one's text);
// Misses counts HGETALL replies that found no session.
type MixResult struct {
	Ops        int64   `json:"ops"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	AvgMs      float64 `json:"avg_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Reads      int64   `json:"reads"`
	Writes     int64   `json:"writes"`
	Misses     int64   `json:"misses"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
}

// mixWorker is one connection's share of a mix run.
type mixWorker struct {
	hist                          Histogram
	reads, writes, misses, errors int64
	firstError                    string
}

// RunMix drives the session mix against cfg.Addr until cfg.Requests
// operations are done, cfg.Duration has passed or ctx is cancelled. Each
// connection sends a batch of cfg.Pipeline operations in one write, then
// reads their replies; an operation's latency runs from that write to the
// moment its last reply has been read. Error replies are counted, not
// fatal; an I/O failure on any connection ends the run with an error.
func RunMix(ctx context.Context, cfg MixConfig) (MixResult, error) {
	if err := cfg.validate(); err != nil {
		return MixResult{}, err
	}
	conns := make([]*Conn, cfg.Conns)
	for i := range conns {
		c, err := Dial(ctx, cfg.Addr, 5*time.Second)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return MixResult{}, fmt.Errorf("mix: %w", err)
		}
		conns[i] = c
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var budget atomic.Int64
	budget.Store(int64(cfg.Requests))
	workers := make([]mixWorker, cfg.Conns)
	errs := make([]error, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			errs[i] = workers[i].run(ctx, c, cfg, rng, &budget)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total mixWorker
	for i := range workers {
		w := &workers[i]
		total.hist.Merge(&w.hist)
		total.reads += w.reads
		total.writes += w.writes
		total.misses += w.misses
		total.errors += w.errors
		if total.firstError == "" {
			total.firstError = w.firstError
		}
	}
	if err := errors.Join(errs...); err != nil {
		return MixResult{}, fmt.Errorf("mix: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	ops := int64(total.hist.Count())
	return MixResult{
		Ops: ops, Seconds: elapsed.Seconds(), RPS: float64(ops) / elapsed.Seconds(),
		AvgMs: ms(total.hist.Mean()), P50Ms: ms(total.hist.Quantile(0.50)),
		P95Ms: ms(total.hist.Quantile(0.95)), P99Ms: ms(total.hist.Quantile(0.99)),
		MaxMs: ms(total.hist.Max()), Reads: total.reads, Writes: total.writes,
		Misses: total.misses, Errors: total.errors, FirstError: total.firstError,
	}, nil
}

// claim takes up to n operations from budget and returns how many it got.
func claim(budget *atomic.Int64, n int) int {
	left := budget.Add(-int64(n))
	if left >= 0 {
		return n
	}
	return max(0, n+int(left))
}

// run is one connection's loop; it returns nil when the budget or the
// time is used up, and the I/O error otherwise.
func (w *mixWorker) run(ctx context.Context, c *Conn, cfg MixConfig, rng *rand.Rand, budget *atomic.Int64) error {
	isWrite := make([]bool, cfg.Pipeline)
	for ctx.Err() == nil {
		n := claim(budget, cfg.Pipeline)
		if n == 0 {
			return nil
		}
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		for j := range n {
			key := paddedKey(sessPrefix, rng.IntN(cfg.Keys))
			isWrite[j] = rng.IntN(100) >= cfg.ReadPercent
			if isWrite[j] {
				c.Send("HSET", key, "last_seen", now)
				c.Send("EXPIRE", key, sessionTTL)
			} else {
				c.Send("HGETALL", key)
			}
		}
		sent := time.Now()
		if err := c.Flush(); err != nil {
			return w.ioError(ctx, err)
		}
		for j := range n {
			replies := 1
			if isWrite[j] {
				replies = 2
				w.writes++
			} else {
				w.reads++
			}
			for range replies {
				length, err := c.Skip()
				var re *ReplyError
				switch {
				case errors.As(err, &re):
					w.errors++
					if w.firstError == "" {
						w.firstError = re.Msg
					}
				case err != nil:
					return w.ioError(ctx, err)
				case !isWrite[j] && length == 0:
					w.misses++
				}
			}
			w.hist.Record(time.Since(sent))
		}
	}
	return nil
}

// ioError returns nil for the error a connection closed by the end of the
// run causes, and err otherwise.
func (w *mixWorker) ioError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
