package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ClusterMixResult is what RunClusterMix measured: RunMix's figures, plus
// the operations a -MOVED reply sent to another node (Redirects) and the
// number of masters the load was spread over.
type ClusterMixResult struct {
	MixResult
	Redirects int64 `json:"redirects"`
	Masters   int   `json:"masters"`
}

// movedTarget returns the address of a "MOVED slot host:port" error
// reply, and false for any other error.
func movedTarget(msg string) (string, bool) {
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "MOVED" {
		return "", false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", false
	}
	return f[2], true
}

// keysByMaster returns, for each master of m, the indexes i < keys whose
// session key sessKey(i) it serves.
func keysByMaster(m *slotMap, keys int) map[string][]int {
	out := map[string][]int{}
	for i := range keys {
		a := m.owner(paddedKey(sessPrefix, i))
		out[a] = append(out[a], i)
	}
	return out
}

// RunClusterMix drives RunMix's session mix against a cluster, of which
// cfg.Addr is one node. It reads the slot map from that node's CLUSTER
// SLOTS and binds each of the cfg.Conns connections to one master, in
// turn, as redis-benchmark --cluster does; a connection draws its
// sessions among those its master serves. A -MOVED reply (the map went
// stale) is followed: the operation is sent again to the named node, on
// a connection opened for it, and its latency runs to that reply. Other
// error replies are counted; an I/O failure ends the run with an error.
func RunClusterMix(ctx context.Context, cfg MixConfig) (ClusterMixResult, error) {
	if err := cfg.validate(); err != nil {
		return ClusterMixResult{}, err
	}
	seed, err := Dial(ctx, cfg.Addr, 5*time.Second)
	if err != nil {
		return ClusterMixResult{}, fmt.Errorf("cluster mix: %w", err)
	}
	seed.SetDeadline(time.Now().Add(5 * time.Second))
	rep, err := seed.Do("CLUSTER", "SLOTS")
	seed.Close()
	if err != nil {
		return ClusterMixResult{}, fmt.Errorf("cluster mix: CLUSTER SLOTS: %w", err)
	}
	host, _, _ := strings.Cut(cfg.Addr, ":")
	m, err := parseClusterSlots(rep, host)
	if err != nil {
		return ClusterMixResult{}, fmt.Errorf("cluster mix: %w", err)
	}
	byMaster := keysByMaster(m, cfg.Keys)
	var masters []string
	for _, a := range m.masters {
		if len(byMaster[a]) > 0 {
			masters = append(masters, a)
		}
	}
	if len(masters) == 0 {
		return ClusterMixResult{}, errors.New("cluster mix: CLUSTER SLOTS names no master of the sessions")
	}
	workers := make([]clusterMixWorker, cfg.Conns)
	for i := range workers {
		a := masters[i%len(masters)]
		c, err := Dial(ctx, a, 5*time.Second)
		if err != nil {
			for j := range i {
				workers[j].close()
			}
			return ClusterMixResult{}, fmt.Errorf("cluster mix: %w", err)
		}
		workers[i] = clusterMixWorker{home: c, keys: byMaster[a], others: map[string]*Conn{}}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var budget atomic.Int64
	budget.Store(int64(cfg.Requests))
	errs := make([]error, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.close()
			stop := context.AfterFunc(ctx, w.close)
			defer stop()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			errs[i] = w.run(ctx, cfg, rng, &budget)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var total mixWorker
	var redirects int64
	for i := range workers {
		w := &workers[i]
		total.hist.Merge(&w.hist)
		total.reads += w.reads
		total.writes += w.writes
		total.misses += w.misses
		total.errors += w.errors
		redirects += w.redirects
		if total.firstError == "" {
			total.firstError = w.firstError
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ClusterMixResult{}, fmt.Errorf("cluster mix: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	ops := int64(total.hist.Count())
	return ClusterMixResult{MixResult: MixResult{
		Ops: ops, Seconds: elapsed.Seconds(), RPS: float64(ops) / elapsed.Seconds(),
		AvgMs: ms(total.hist.Mean()), P50Ms: ms(total.hist.Quantile(0.50)),
		P95Ms: ms(total.hist.Quantile(0.95)), P99Ms: ms(total.hist.Quantile(0.99)),
		MaxMs: ms(total.hist.Max()), Reads: total.reads, Writes: total.writes,
		Misses: total.misses, Errors: total.errors, FirstError: total.firstError,
	}, Redirects: redirects, Masters: len(masters)}, nil
}

// clusterMixWorker is one connection's share of a cluster mix run: its
// connection to its master, the sessions it draws from, and connections
// opened to follow -MOVED replies.
type clusterMixWorker struct {
	mixWorker
	home      *Conn
	keys      []int
	others    map[string]*Conn
	mu        sync.Mutex // guards closing the connections
	redirects int64
}

// close closes every connection of the worker; it may run concurrently
// with run, to end it.
func (w *clusterMixWorker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.home.Close()
	for _, c := range w.others {
		c.Close()
	}
}

// other returns the worker's connection to addr, dialling it once.
func (w *clusterMixWorker) other(ctx context.Context, addr string) (*Conn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.others[addr]; c != nil {
		return c, nil
	}
	c, err := Dial(ctx, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	w.others[addr] = c
	return c, nil
}

// mixOp is one operation of a batch: its key, whether it writes, and the
// node a -MOVED reply named ("" when none did).
type mixOp struct {
	key     string
	write   bool
	movedTo string
}

// replies returns how many replies op's commands get.
func (op mixOp) replies() int {
	if op.write {
		return 2
	}
	return 1
}

// send queues op's commands on c: HGETALL, or HSET last_seen now and
// EXPIRE.
func (op mixOp) send(c *Conn, now string) {
	if op.write {
		c.Send("HSET", op.key, "last_seen", now)
		c.Send("EXPIRE", op.key, sessionTTL)
		return
	}
	c.Send("HGETALL", op.key)
}

// reply reads one reply of op; it records a -MOVED target in op, counts
// other error replies and misses, and returns I/O errors.
func (w *clusterMixWorker) reply(c *Conn, op *mixOp) error {
	length, err := c.Skip()
	var re *ReplyError
	switch {
	case errors.As(err, &re):
		if to, ok := movedTarget(re.Msg); ok {
			op.movedTo = to
			return nil
		}
		w.errors++
		if w.firstError == "" {
			w.firstError = re.Msg
		}
	case err != nil:
		return err
	case !op.write && length == 0:
		w.misses++
	}
	return nil
}

// run is one connection's loop, as mixWorker.run, with -MOVED replies
// followed once per operation.
func (w *clusterMixWorker) run(ctx context.Context, cfg MixConfig, rng *rand.Rand, budget *atomic.Int64) error {
	ops := make([]mixOp, cfg.Pipeline)
	for ctx.Err() == nil {
		n := claim(budget, cfg.Pipeline)
		if n == 0 {
			return nil
		}
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		for j := range n {
			ops[j] = mixOp{key: paddedKey(sessPrefix, w.keys[rng.IntN(len(w.keys))]), write: rng.IntN(100) >= cfg.ReadPercent}
			ops[j].send(w.home, now)
		}
		sent := time.Now()
		if err := w.home.Flush(); err != nil {
			return w.ioError(ctx, err)
		}
		var moved []int
		for j := range n {
			op := &ops[j]
			if op.write {
				w.writes++
			} else {
				w.reads++
			}
			for range op.replies() {
				if err := w.reply(w.home, op); err != nil {
					return w.ioError(ctx, err)
				}
			}
			if op.movedTo != "" {
				moved = append(moved, j)
				continue
			}
			w.hist.Record(time.Since(sent))
		}
		for _, j := range moved {
			op := &ops[j]
			c, err := w.other(ctx, op.movedTo)
			if err != nil {
				return w.ioError(ctx, err)
			}
			w.redirects++
			op.send(c, now)
			if err := c.Flush(); err != nil {
				return w.ioError(ctx, err)
			}
			op.movedTo = ""
			for range op.replies() {
				if err := w.reply(c, op); err != nil {
					return w.ioError(ctx, err)
				}
			}
			if op.movedTo != "" { // moved twice: count it as an error
				w.errors++
				if w.firstError == "" {
					w.firstError = "MOVED again to " + op.movedTo
				}
				continue
			}
			w.hist.Record(time.Since(sent))
		}
	}
	return nil
}

// clusterMix runs RunClusterMix in a child process ("Self cluster-mix")
// pinned to the client CPU against rc's first node, and stores its
// figures in s; redirects become a note.
func (r *runner) clusterMix(ctx context.Context, rc *runningCluster, pl int, s *Sample) error {
	var res ClusterMixResult
	err := r.mixProcess(ctx, "cluster-mix", rc.nodes[0].Addr, pl, s, &res, &res.MixResult)
	if res.Redirects > 0 {
		s.Note = fmt.Sprintf("%d operations followed a -MOVED reply", res.Redirects)
	}
	return err
}
