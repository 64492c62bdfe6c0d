package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"sessiond/shard"
)

// Errors a Group returns. They wrap the underlying Raft error.
var (
	// ErrNotLeader means the op was not appended to the log: this node is
	// not (or no longer) the leader. Retrying on the leader is safe.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnknownOutcome means the op may or may not have been committed
	// (leadership was lost or the node shut down while it was in flight).
	// It must never be reported to a client as success or as a clean
	// failure.
	ErrUnknownOutcome = errors.New("write outcome unknown")
	// ErrClosed means the group is shut down.
	ErrClosed = errors.New("replication group closed")
)

// Fsync says when the Raft log is flushed to stable storage; the names
// are redis.conf's appendfsync values.
type Fsync int

// Fsync modes.
const (
	// FsyncEverysec flushes the log once a second. A write is on a
	// majority's log (in the OS page cache) before it is acknowledged, so
	// only a simultaneous power loss of a majority loses up to a second.
	FsyncEverysec Fsync = iota
	// FsyncAlways flushes before every acknowledgement (per batch).
	FsyncAlways
	// FsyncNo leaves flushing to the operating system.
	FsyncNo
)

// ParseFsync parses an appendfsync value.
func ParseFsync(s string) (Fsync, error) {
	switch s {
	case "everysec":
		return FsyncEverysec, nil
	case "always":
		return FsyncAlways, nil
	case "no":
		return FsyncNo, nil
	}
	return 0, fmt.Errorf("appendfsync must be always, everysec or no, not %q", s)
}

func (f Fsync) String() string {
	switch f {
	case FsyncAlways:
		return "always"
	case FsyncNo:
		return "no"
	}
	return "everysec"
}

// Config configures a Group.
type Config struct {
	NodeID string // this node's Raft server ID
	Dir    string // log, stable store and snapshots live under Dir
	// Bind is the Raft listen address (host:port; port 0 picks one).
	Bind string
	// Advertise is the Raft address peers reach this node at; default
	// the listener's address.
	Advertise string
	// Peers maps every voter's ID to its Raft address, this node
	// included, for the first start of a new cluster. Empty: a
	// one-member group of this node. Ignored once state exists.
	Peers map[string]string
	// Join makes a node without state wait to be added to an existing
	// group (AddVoter, from the group's leader) instead of bootstrapping
	// one of its own. Ignored once state exists.
	Join bool
	// ClientAddr is this node's client (RESP) address, recorded in the log
	// when it leads so that followers can forward to it.
	ClientAddr string
	Fsync      Fsync
	// Linearizable makes ReadBarrier confirm leadership with a quorum
	// instead of trusting the leader lease.
	Linearizable bool
	Store        *shard.Store
	Logger       *slog.Logger
	// Port, when set, is the node's Raft port to use (shared by its
	// groups; tests inject faults through it); nil: Open listens on Bind.
	// The group closes its stream when it closes (also when Open fails),
	// and the Port closes with the last of its streams.
	Port *Port
	// GroupID is the byte that names this group on the Port's
	// connections (0 for a node's only group).
	GroupID byte

	HeartbeatTimeout   time.Duration // default 600ms
	ElectionTimeout    time.Duration // default 600ms
	LeaderLeaseTimeout time.Duration // default 300ms
	SnapshotThreshold  uint64        // entries between snapshots; default 8192
	SnapshotInterval   time.Duration // how often to check; default 30s
	TrailingLogs       uint64        // entries kept after a snapshot; default 10240
	ApplyTimeout       time.Duration // enqueue timeout; default 10s
	MaxBatchOps        int           // ops per log entry; default 1024
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, 600*time.Millisecond)
	def(&c.ElectionTimeout, 600*time.Millisecond)
	def(&c.LeaderLeaseTimeout, 300*time.Millisecond)
	def(&c.SnapshotInterval, 30*time.Second)
	def(&c.ApplyTimeout, 10*time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.MaxBatchOps <= 0 {
		c.MaxBatchOps = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Group is one Raft group replicating one store.
type Group struct {
	cfg    Config
	raft   *raft.Raft
	fsm    *fsm
	trans  *raft.NetworkTransport
	logs   *raftboltdb.BoltStore
	stable *raftboltdb.BoltStore
	snaps  *raft.FileSnapshotStore
	log    *slog.Logger

	qmu     sync.Mutex
	queue   []*call // submitted, not yet in a log entry
	qclosed bool
	wake    chan struct{} // something was queued
	calls   sync.Pool
	stop    chan struct{}
	// futureWait overrides the package's futureWait (tests); 0: that.
	futureWait time.Duration
	wg         sync.WaitGroup

	entries      atomic.Uint64                // op entries proposed by this node (group commit: ops/entries per entry)
	ops          atomic.Uint64                // ops in those entries
	readyTerm    atomic.Uint64                // term in which this leader applied everything before it
	transferring atomic.Bool                  // TransferLeadership is running: take no new ops
	last         atomic.Pointer[pendingBatch] // the newest entry proposed
	taking       atomic.Bool                  // the batcher holds ops it has not proposed yet
	reads        readBatcher

	// cfgMu runs this node's membership changes one at a time, each from
	// the check of the configuration to the change's commit, so that no
	// change acts on a configuration another has just replaced.
	cfgMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

// call is one op waiting for its batch.
type call struct {
	g     *Group
	enc   []byte        // the op's encoding; a script op's without its body
	sha   []byte        // a script op: its SHA1 hex (shard.ScriptBody), else empty
	body  []byte        // a script op: its body, which the entry stores once
	batch *pendingBatch // set by the batcher before it signals ready
	slot  int           // the op's position in the batch
	ready chan struct{}
}

// pendingBatch is one log entry in flight.
type pendingBatch struct {
	n        int
	f        raft.ApplyFuture
	once     sync.Once
	finished atomic.Bool
	res      []shard.Result
	err      error
}

// Open opens (or creates) the group's storage under cfg.Dir, checks every
// log entry and the newest snapshot, and starts Raft. Corrupt data on
// disk is an error wrapping ErrCorrupt: the node must not start.
func Open(cfg Config) (*Group, error) {
	cfg.setDefaults()
	if cfg.NodeID == "" || cfg.Store == nil {
		return nil, errors.New("replication: NodeID and Store are required")
	}
	g := &Group{
		cfg:  cfg,
		log:  cfg.Logger,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	g.calls.New = func() any { return &call{g: g, ready: make(chan struct{}, 1)} }
	if err := g.openStorage(); err != nil {
		g.closeStorage()
		return nil, err
	}
	if err := g.start(); err != nil {
		g.closeStorage()
		return nil, err
	}
	return g, nil
}

func (g *Group) openStorage() error {
	dir := filepath.Join(g.cfg.Dir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	var err error
	// Term and vote must survive power loss whatever appendfsync says,
	// or a node could vote twice in one term: the stable store always
	// syncs; it is written only on elections.
	if g.stable, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "stable.db")}); err != nil {
		return fmt.Errorf("replication: open stable store: %w", err)
	}
	logPath := filepath.Join(dir, "log.db")
	// The free-page list is not written on every commit (bolt rebuilds
	// it by scanning the file on open): a commit of one entry then writes
	// the entry's pages and the meta page, nothing proportional to how much
	// log was truncated before it.
	logOpts := &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType, Timeout: time.Second}
	if g.logs, err = raftboltdb.New(raftboltdb.Options{Path: logPath, NoSync: g.cfg.Fsync != FsyncAlways, BoltOptions: logOpts}); err != nil {
		return fmt.Errorf("replication: open log %s: %w", logPath, err)
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: slogWriter{g.log}, Level: hclog.Warn})
	if g.snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, 2, hl); err != nil {
		return fmt.Errorf("replication: open snapshots: %w", err)
	}
	if err := g.checkStorage(); err != nil {
		return err
	}
	return nil
}

// checkStorage validates every stored log entry and the newest snapshot,
// which is the one Raft will restore.
func (g *Group) checkStorage() error {
	first, err := g.logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("replication: %w: log: %w", ErrCorrupt, err)
	}
	last, err := g.logs.LastIndex()
	if err != nil {
		return fmt.Errorf("replication: %w: log: %w", ErrCorrupt, err)
	}
	if last > 0 {
		for i := first; i <= last; i++ {
			var l raft.Log
			if err := g.logs.GetLog(i, &l); err != nil {
				return fmt.Errorf("replication: %w: log entry %d of %d..%d: %w", ErrCorrupt, i, first, last, err)
			}
			if l.Index != i {
				return fmt.Errorf("replication: %w: log entry %d holds index %d", ErrCorrupt, i, l.Index)
			}
			if l.Type == raft.LogCommand {
				if err := checkEntry(l.Data); err != nil {
					return fmt.Errorf("replication: log entry %d: %w", i, err)
				}
			}
		}
	}
	metas, err := g.snaps.List()
	if err != nil {
		return fmt.Errorf("replication: %w: snapshots: %w", ErrCorrupt, err)
	}
	if len(metas) > 0 {
		_, rc, err := g.snaps.Open(metas[0].ID)
		if err != nil {
			return fmt.Errorf("replication: %w: snapshot %s: %w", ErrCorrupt, metas[0].ID, err)
		}
		err = checkSnapshot(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("replication: snapshot %s: %w", metas[0].ID, err)
		}
		if last > 0 && first > metas[0].Index+1 {
			return fmt.Errorf("replication: %w: log starts at %d, after snapshot index %d", ErrCorrupt, first, metas[0].Index)
		}
	}
	return nil
}

func (g *Group) start() error {
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: slogWriter{g.log}, Level: hclog.Warn})
	port := g.cfg.Port
	if port == nil {
		var err error
		if port, err = Listen(g.cfg.Bind, g.cfg.Advertise); err != nil {
			return err
		}
	}
	stream, err := port.Stream(g.cfg.GroupID)
	if err != nil {
		if g.cfg.Port == nil {
			port.Close()
		}
		return err
	}
	g.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  hl,
		// No pipelined AppendEntries: in hashicorp/raft v1.7 a follower
		// answering Success=false ends the pipeline's decoder while its
		// sender parks on the next send for good (its channels are
		// unbuffered at the default of 2 in flight; hashicorp/raft#612).
		// Heartbeats go on, so no election heals it: that follower gets
		// no entry again, a membership change needing it never commits,
		// and Shutdown waits for ever. Seen as a hung SESSIOND-MOVE and
		// a hung Close in tests. One RPC in flight per follower costs
		// little here: each entry already carries a batch of writes.
		MaxRPCsInFlight: 1,
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(g.cfg.NodeID)
	rc.Logger = hl
	rc.HeartbeatTimeout = g.cfg.HeartbeatTimeout
	rc.ElectionTimeout = g.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = g.cfg.LeaderLeaseTimeout
	rc.SnapshotThreshold = g.cfg.SnapshotThreshold
	rc.SnapshotInterval = g.cfg.SnapshotInterval
	rc.TrailingLogs = g.cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	rc.CommitTimeout = 20 * time.Millisecond

	g.fsm = newFSM(g.cfg.Store)
	has, err := raft.HasExistingState(g.logs, g.stable, g.snaps)
	if err != nil {
		g.trans.Close()
		return fmt.Errorf("replication: %w", err)
	}
	// The newest entries stay in memory, so sending them to followers
	// does not read them back from bolt and decode them once per
	// follower. Entries are at most a few MiB (see batch); 64 of them
	// cover any follower that keeps up.
	logs, err := raft.NewLogCache(logCacheEntries, g.logs)
	if err != nil {
		g.trans.Close()
		return fmt.Errorf("replication: %w", err)
	}
	r, err := raft.NewRaft(rc, g.fsm, logs, g.stable, g.snaps, g.trans)
	if err != nil {
		g.trans.Close()
		return fmt.Errorf("replication: start raft: %w", err)
	}
	g.raft = r
	if !has && !g.cfg.Join {
		var conf raft.Configuration
		peers := g.cfg.Peers
		if len(peers) == 0 {
			peers = map[string]string{g.cfg.NodeID: string(g.trans.LocalAddr())}
		}
		if _, ok := peers[g.cfg.NodeID]; !ok {
			r.Shutdown()
			g.trans.Close()
			return fmt.Errorf("replication: --peers does not name this node %q", g.cfg.NodeID)
		}
		for id, addr := range peers {
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
		}
		if err := r.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown()
			g.trans.Close()
			return fmt.Errorf("replication: bootstrap: %w", err)
		}
	}
	g.wg.Add(2)
	go g.batch()
	go g.watchLeadership()
	if g.cfg.Fsync == FsyncEverysec {
		g.wg.Add(1)
		go g.syncEverySecond(filepath.Join(g.cfg.Dir, "raft", "log.db"))
	}
	return nil
}

// syncEverySecond flushes the log file once a second (appendfsync
// everysec): fsync on any descriptor of the file flushes its pages.
func (g *Group) syncEverySecond(path string) {
	defer g.wg.Done()
	f, err := os.Open(path)
	if err != nil {
		g.log.Warn("appendfsync everysec: cannot open log", "err", err)
		return
	}
	defer f.Close()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			f.Sync()
			return
		case <-t.C:
			if err := f.Sync(); err != nil {
				g.log.Warn("appendfsync everysec: fsync failed", "err", err)
			}
		}
	}
}

// watchLeadership marks the leader ready once everything committed before
// its term is applied, and records its client address in the log.
func (g *Group) watchLeadership() {
	defer g.wg.Done()
	ch := g.raft.LeaderCh()
	for {
		select {
		case <-g.stop:
			return
		case isLeader := <-ch:
			g.readyTerm.Store(0)
			if !isLeader {
				continue
			}
			term := g.raft.CurrentTerm()
			// A new leader's barrier waits for it to apply its whole
			// backlog, which may take long after a restart: no bound
			// but the group's shutdown (Raft fails it if leadership is
			// lost).
			if err := g.awaitUntil(g.raft.Barrier(g.cfg.ApplyTimeout), nil, 0); err != nil {
				g.log.Warn("leader barrier failed", "err", err)
				continue
			}
			g.readyTerm.Store(term)
			g.log.Info("leader ready", "node", g.cfg.NodeID, "term", term)
			if addr, ok := g.fsm.nodeAddr(g.cfg.NodeID); !ok || addr != g.cfg.ClientAddr {
				if err := g.await(g.raft.Apply(encodeNode(g.cfg.NodeID, g.cfg.ClientAddr), g.cfg.ApplyTimeout)); err != nil {
					g.log.Warn("recording client address failed", "err", err)
				}
			}
		}
	}
}

// Apply replicates op and returns its result once a majority has it in
// its log and the local store has applied it. ErrNotLeader: not appended;
// ErrUnknownOutcome: maybe applied. Result errors (WRONGTYPE...) are in
// the Result. op may alias caller buffers: it is encoded before Apply
// returns and not kept.
func (g *Group) Apply(ctx context.Context, op *shard.Op) (shard.Result, error) {
	p, err := g.Submit(op)
	if err != nil {
		return shard.Result{}, err
	}
	return p.Wait()
}

// Pending is a submitted op whose result is not yet known.
type Pending struct{ c *call }

// Submit encodes op (which may alias caller buffers: they may be reused
// once Submit returns) and queues it for the next log entry without
// waiting. The caller must call Wait on the Pending exactly once. Ops
// submitted by one goroutine are applied in submission order.
func (g *Group) Submit(op *shard.Op) (Pending, error) {
	if !g.IsLeader() {
		return Pending{}, ErrNotLeader
	}
	c := g.calls.Get().(*call)
	c.encode(op)
	g.qmu.Lock()
	if g.qclosed || g.transferring.Load() {
		g.qmu.Unlock()
		g.calls.Put(c)
		if g.qclosed {
			return Pending{}, ErrClosed
		}
		return Pending{}, ErrNotLeader
	}
	g.queue = append(g.queue, c)
	g.qmu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return Pending{c}, nil
}

// encode keeps op's encoding (copied: op may alias buffers its caller
// reuses). A script op is kept without its body, which goes apart: the
// entry stores it once for all its ops that run the script (entryShared),
// and a lock script's body is most of its op's bytes.
func (c *call) encode(op *shard.Op) {
	if sha, body, ok := shard.ScriptBody(op); ok {
		c.enc = shard.AppendEncodeNoBody(c.enc[:0], op)
		c.sha = append(c.sha[:0], sha...)
		c.body = append(c.body[:0], body...)
		return
	}
	c.enc = shard.AppendEncode(c.enc[:0], op)
	c.sha, c.body = c.sha[:0], c.body[:0]
}

// Wait returns the op's result (see Apply for the errors).
func (p Pending) Wait() (shard.Result, error) {
	c := p.c
	<-c.ready // the batch the op went into exists
	b := c.batch
	b.once.Do(b.finish)
	res, err := shard.Result{}, b.err
	if err == nil {
		res = b.res[c.slot]
	}
	c.batch, c.slot = nil, 0
	if cap(c.enc) <= 64<<10 && cap(c.body) <= 64<<10 {
		c.g.calls.Put(c)
	}
	return res, err
}

// done reports whether the batch's outcome is known.
func (b *pendingBatch) done() bool { return b.finished.Load() }

// finish waits for the batch's log entry to be applied (the first
// waiter does, the others wait on its once) and keeps the outcome.
func (b *pendingBatch) finish() {
	defer b.finished.Store(true)
	if b.f == nil {
		return // err already set: never proposed
	}
	err := b.f.Error()
	if err != nil {
		b.err = classify(err)
		return
	}
	b.res, _ = b.f.Response().([]shard.Result)
	if len(b.res) != b.n {
		b.err = fmt.Errorf("%w: %d results for %d ops", ErrUnknownOutcome, len(b.res), b.n)
	}
}

// logCacheEntries is how many of the newest log entries are kept in
// memory for replication.
const logCacheEntries = 64

// batchWait is how long the batcher may wait for a wave of clients to
// come back before it proposes a short entry (see batch). Go's timers
// wake an idle process at millisecond granularity, so when nothing else
// runs the wait can last up to about a millisecond; under load it ends
// as soon as the wave is back. On SET -P 16 at 50 clients this took
// entries from ~180 to ~330 ops and the CPU per command down ~7%; it
// also shortened the P1 latency tail (p99 at 10 clients 4.8 -> 1.2 ms).
const batchWait = 200 * time.Microsecond

// batch turns the queued calls into log entries: everything queued while
// the previous entry was being handed to Raft goes into the next one
// (group commit).
func (g *Group) batch() {
	defer g.wg.Done()
	const maxBytes = 4 << 20
	var spare []*call
	scripts := map[string]uint64{} // appendOpsEntry's, reused
	var prev *pendingBatch
	var timer *time.Timer
	var waves [8]int // sizes of the last entries, for gather's target
	wave := 0
	for {
		select {
		case <-g.wake:
		case <-g.stop:
			g.qmu.Lock()
			g.qclosed = true
			q := g.queue
			g.queue = nil
			g.qmu.Unlock()
			closed := &pendingBatch{err: ErrClosed}
			for _, c := range q {
				c.batch = closed
				c.ready <- struct{}{}
			}
			return
		}
		// One entry in flight at a time: while it is being stored,
		// replicated and applied, the next one fills up. Proposing
		// every op as soon as it arrives would instead split a wave of
		// clients into many small entries, each paying the full cost of
		// a log write.
		if prev != nil {
			prev.once.Do(prev.finish)
			// The clients recent entries answered are writing their
			// replies and sending their next commands: wait (at most
			// batchWait) until most of a recent wave is back, so that
			// it shares the next entry instead of trickling into
			// several small ones, each paying a log write.
			waves[wave%len(waves)] = prev.n
			wave++
			if w := slices.Max(waves[:]); w >= 2 && !g.gather(w, &timer) {
				prev = nil
				continue // stopping: the select above fails the queue
			}
			prev = nil
		}
		g.qmu.Lock()
		q := g.queue
		g.queue = spare[:0]
		g.taking.Store(len(q) > 0) // TransferLeadership: taken, not yet proposed
		g.qmu.Unlock()
		for len(q) > 0 {
			n, size := 0, 0
			for n < len(q) && n < g.cfg.MaxBatchOps && size < maxBytes {
				size += len(q[n].enc) + len(q[n].body)
				n++
			}
			calls := q[:n]
			q = q[n:]
			data, typ := appendOpsEntry(make([]byte, entryHeader, entryHeader+size+2*binary.MaxVarintLen64*(n+1)), calls, scripts)
			g.entries.Add(1)
			g.ops.Add(uint64(n))
			b := &pendingBatch{n: n, f: g.raft.Apply(sealEntry(data, typ), g.cfg.ApplyTimeout)}
			for i, c := range calls {
				c.batch, c.slot = b, i
				c.ready <- struct{}{}
			}
			prev = b
			g.last.Store(b)
		}
		g.taking.Store(false)
		spare = q[:0]
	}
}

// gather waits until at least target calls are queued, batchWait has
// passed, or the group is stopping (it then returns false). timer is the
// batcher's, reused across calls.
func (g *Group) gather(target int, timer **time.Timer) bool {
	started := false
	for {
		g.qmu.Lock()
		n := len(g.queue)
		g.qmu.Unlock()
		if n >= target {
			break
		}
		if !started {
			started = true
			if *timer == nil {
				*timer = time.NewTimer(batchWait)
			} else {
				(*timer).Reset(batchWait)
			}
		}
		select {
		case <-g.wake:
		case <-(*timer).C:
			return true
		case <-g.stop:
			(*timer).Stop()
			return false
		}
	}
	if started {
		(*timer).Stop()
	}
	return true
}

// classify maps a Raft apply error to ErrNotLeader (never appended) or
// ErrUnknownOutcome.
func classify(err error) error {
	switch {
	case errors.Is(err, ErrUnknownOutcome), errors.Is(err, ErrClosed):
		return err // await's own
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
}

// futureWait bounds how long a membership change, a leadership transfer
// or a node record is waited for (not a new leader's barrier: see
// watchLeadership). While Raft runs it answers
// each of them in time (a leader that loses its quorum steps down within
// LeaderLeaseTimeout and fails what is in flight), but an entry
// committed as Raft shuts down, or an FSM that stalls, can leave a future
// unanswered for good (hashicorp/raft#498); the caller then gets
// ErrUnknownOutcome instead of waiting, with whatever locks it holds, for
// ever.
const futureWait = 30 * time.Second

// await waits for f like f.Error(), bounded by futureWait and by the
// group's shutdown (ErrClosed). Raft's errors come back unclassified.
func (g *Group) await(f raft.Future) error {
	wait := g.futureWait
	if wait == 0 {
		wait = futureWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	return g.awaitUntil(f, t.C, wait)
}

// awaitUntil waits for f until the group's shutdown (ErrClosed) or, when
// timeout is not nil, until it fires (ErrUnknownOutcome, naming wait).
func (g *Group) awaitUntil(f raft.Future, timeout <-chan time.Time, wait time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-g.stop:
		return ErrClosed
	case <-timeout:
		return fmt.Errorf("%w: raft gave no answer in %v", ErrUnknownOutcome, wait)
	}
}

// IsLeader reports whether this node currently believes it leads and is
// not handing its leadership over.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader && !g.transferring.Load() }

// Ready reports whether this node leads and has applied every entry
// committed before its term, so its store may answer reads.
func (g *Group) Ready() bool {
	t := g.readyTerm.Load()
	return t != 0 && g.IsLeader() && t == g.raft.CurrentTerm()
}

// LeaseReadOK reports, without blocking or allocating, whether a read
// may be answered locally now: lease mode and a ready leader. When it
// says false, call ReadBarrier.
func (g *Group) LeaseReadOK() bool { return !g.cfg.Linearizable && g.Ready() }

// ReadBarrier returns nil when the local store may answer a read that
// arrived before the call: this node leads, has applied its predecessors'
// entries, and (in linearizable mode) a quorum confirmed its leadership
// after the call began. Lease mode trusts the leader lease: a leader cut
// off from a quorum steps down within LeaderLeaseTimeout, before a new
// leader can be elected (HeartbeatTimeout), given bounded clock drift.
func (g *Group) ReadBarrier(ctx context.Context) error {
	for !g.Ready() {
		if !g.IsLeader() {
			return ErrNotLeader
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotLeader, ctx.Err())
		case <-g.stop:
			return ErrClosed
		case <-time.After(time.Millisecond):
		}
	}
	if !g.cfg.Linearizable {
		return nil
	}
	return g.reads.verify(ctx, g.raft)
}

// readBatcher shares one VerifyLeader round among all reads waiting when
// it starts; a read arriving during a round waits for the next one.
type readBatcher struct {
	mu      sync.Mutex
	waiting []chan error
	running bool
}

func (b *readBatcher) verify(ctx context.Context, r *raft.Raft) error {
	ch := make(chan error, 1)
	b.mu.Lock()
	b.waiting = append(b.waiting, ch)
	if !b.running {
		b.running = true
		go b.run(r)
	}
	b.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNotLeader, ctx.Err())
	}
}

func (b *readBatcher) run(r *raft.Raft) {
	for {
		b.mu.Lock()
		w := b.waiting
		b.waiting = nil
		if len(w) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		err := r.VerifyLeader().Error()
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		for _, ch := range w {
			ch <- err
		}
	}
}

// Leader returns the current leader's ID and its client address as
// recorded in the log; ok is false while there is no known leader or its
// address is not yet known.
func (g *Group) Leader() (id, clientAddr string, ok bool) {
	_, sid := g.raft.LeaderWithID()
	if sid == "" {
		return "", "", false
	}
	addr, ok := g.fsm.nodeAddr(string(sid))
	return string(sid), addr, ok
}

// OnApply sets a function called after every applied batch of entries,
// from the FSM goroutine; it must not block.
func (g *Group) OnApply(fn func()) { g.fsm.notify.Store(&fn) }

// NodeID returns this node's ID.
func (g *Group) NodeID() string { return g.cfg.NodeID }

// AppliedIndex returns the index of the last entry applied to the store.
func (g *Group) AppliedIndex() uint64 { return g.fsm.applied.Load() }

// CaughtUp reports whether this replica has applied every entry it knows
// to be committed, configuration changes included (AppliedIndex counts
// only the entries the store applies).
func (g *Group) CaughtUp() bool {
	c := g.raft.CommitIndex()
	return c > 0 && g.raft.AppliedIndex() >= c
}

// StoreCurrent reports whether the store has applied every command in
// this node's log (AppliedIndex counts commands only, so a log that ends
// with a no-op or configuration entry reports false until the next
// command). Unlike CaughtUp, it does not count entries raft has handed
// to the FSM but the store has not applied yet.
func (g *Group) StoreCurrent() bool { return g.fsm.applied.Load() >= g.raft.LastIndex() }

// LastIndex returns the index of the last entry in this node's log.
func (g *Group) LastIndex() uint64 { return g.raft.LastIndex() }

// ClientAddr returns the client address this node records in the log.
func (g *Group) ClientAddr() string { return g.cfg.ClientAddr }

// RaftAddr returns this node's Raft address.
func (g *Group) RaftAddr() string { return string(g.trans.LocalAddr()) }

// Status is a snapshot of the group's Raft state for INFO and ROLE.
type Status struct {
	State         string // Leader, Follower, Candidate, Shutdown
	Term          uint64
	LeaderID      string
	LeaderAddr    string // Raft address
	CommitIndex   uint64
	AppliedIndex  uint64
	LastIndex     uint64
	SnapshotIndex uint64
	LastContact   time.Duration // since the leader was last heard from; 0 on the leader; -1 never
	Voters        []string      // IDs, in configuration order
	Fsync         Fsync
	Linearizable  bool
	Entries       uint64 // op entries this node proposed
	Ops           uint64 // ops in them (Ops/Entries: the group-commit batch size)
}

// Status returns the group's current state.
func (g *Group) Status() Status {
	st := g.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	la, lid := g.raft.LeaderWithID()
	s := Status{
		State:         g.raft.State().String(),
		Term:          g.raft.CurrentTerm(),
		LeaderID:      string(lid),
		LeaderAddr:    string(la),
		CommitIndex:   g.raft.CommitIndex(),
		AppliedIndex:  g.fsm.applied.Load(),
		LastIndex:     g.raft.LastIndex(),
		SnapshotIndex: u("last_snapshot_index"),
		Fsync:         g.cfg.Fsync,
		Linearizable:  g.cfg.Linearizable,
		Entries:       g.entries.Load(),
		Ops:           g.ops.Load(),
	}
	switch {
	case g.raft.State() == raft.Leader:
	case g.raft.LastContact().IsZero():
		s.LastContact = -1
	default:
		s.LastContact = time.Since(g.raft.LastContact())
	}
	if f := g.raft.GetConfiguration(); f.Error() == nil {
		for _, sv := range f.Configuration().Servers {
			if sv.Suffrage == raft.Voter {
				s.Voters = append(s.Voters, string(sv.ID))
			}
		}
	}
	return s
}

// Member is a server of the group's configuration as this node knows it.
type Member struct {
	ID         string
	RaftAddr   string // from the Raft configuration
	ClientAddr string // recorded in the log; "" while not yet known
	Voter      bool   // false for a non-voter still catching up (AddNonvoter)
}

// Members returns the group's voters in configuration order, with the
// client addresses the log records for them (this node's own is always
// known).
func (g *Group) Members() []Member {
	var out []Member
	for _, m := range g.Servers() {
		if m.Voter {
			out = append(out, m)
		}
	}
	return out
}

// Servers is Members with the non-voters.
func (g *Group) Servers() []Member {
	f := g.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []Member
	for _, sv := range f.Configuration().Servers {
		m := Member{ID: string(sv.ID), RaftAddr: string(sv.Address), Voter: sv.Suffrage == raft.Voter}
		if m.ID == g.cfg.NodeID {
			m.ClientAddr = g.cfg.ClientAddr
		} else {
			m.ClientAddr, _ = g.fsm.nodeAddr(m.ID)
		}
		out = append(out, m)
	}
	return out
}

// RecordedIDs returns the IDs of every node the log recorded an address
// for, members or not.
func (g *Group) RecordedIDs() []string {
	g.fsm.mu.RLock()
	defer g.fsm.mu.RUnlock()
	ids := make([]string, 0, len(g.fsm.nodes))
	for id := range g.fsm.nodes {
		ids = append(ids, id)
	}
	return ids
}

// ErrAddressConflict is returned when a node ID is already a member of
// the group at another Raft address: it must leave before it rejoins,
// or an empty node could take over a member's vote and lose writes.
var ErrAddressConflict = errors.New("node id is already a member at another address")

// AddNonvoter adds node id, reached for Raft at raftAddr, as a non-voting
// member: it receives the log (or a snapshot) without counting towards
// the quorum, so that adding it cannot stall writes while it catches up.
// It does nothing for a member already at that address. Only the leader
// can (ErrNotLeader otherwise).
func (g *Group) AddNonvoter(id, raftAddr string) error {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	if !g.IsLeader() {
		return ErrNotLeader
	}
	for _, m := range g.Servers() {
		if m.ID == id {
			if m.RaftAddr != raftAddr {
				return fmt.Errorf("%w: %s is at %s", ErrAddressConflict, id, m.RaftAddr)
			}
			return nil
		}
	}
	if err := g.await(g.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, g.cfg.ApplyTimeout)); err != nil {
		return classify(err)
	}
	return nil
}

// AddVoter makes node id, reached for Raft at raftAddr, a voter (adding
// it, or promoting a non-voter); it does nothing for a voter already at
// that address and refuses an ID that is a member at another address.
// Only the leader can (ErrNotLeader otherwise).
func (g *Group) AddVoter(id, raftAddr string) error {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	if !g.IsLeader() {
		return ErrNotLeader
	}
	for _, m := range g.Servers() {
		if m.ID == id && m.RaftAddr != raftAddr {
			return fmt.Errorf("%w: %s is at %s", ErrAddressConflict, id, m.RaftAddr)
		}
		if m.ID == id && m.Voter {
			return nil
		}
	}
	if err := g.await(g.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, g.cfg.ApplyTimeout)); err != nil {
		return classify(err)
	}
	return nil
}

// ErrNotNonvoter is returned by PromoteNonvoter for a node that is not
// (or no longer) a non-voter of the group at the given address.
var ErrNotNonvoter = errors.New("node is not a non-voter of the group")

// PromoteNonvoter makes non-voter id, reached at raftAddr, a voter (nil
// if it already is one there), but only if it still is that non-voter: a node removed (or changed) by
// another call meanwhile is never added back, because this node's
// membership changes run one at a time, each from its check to its
// commit (cfgMu). Only the leader can (ErrNotLeader otherwise).
func (g *Group) PromoteNonvoter(id, raftAddr string) error {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	if !g.IsLeader() {
		return ErrNotLeader
	}
	cfg := g.raft.GetConfiguration().Configuration()
	if hasSuffrage(cfg, id, raftAddr, raft.Voter) {
		return nil // already promoted (a concurrent admit of the same node)
	}
	if !hasSuffrage(cfg, id, raftAddr, raft.Nonvoter) {
		return ErrNotNonvoter
	}
	if err := g.await(g.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, g.cfg.ApplyTimeout)); err != nil {
		return classify(err)
	}
	return nil
}

// hasSuffrage reports whether cfg has id at raftAddr with suffrage su.
func hasSuffrage(cfg raft.Configuration, id, raftAddr string, su raft.ServerSuffrage) bool {
	for _, sv := range cfg.Servers {
		if string(sv.ID) == id {
			return sv.Suffrage == su && string(sv.Address) == raftAddr
		}
	}
	return false
}

// RemoveServer removes node id (voter or not) from the group; it does
// nothing for a node that is not a member. Only the leader can
// (ErrNotLeader otherwise). A leader removing itself hands leadership
// over first and returns ErrNotLeader: ask the new leader. The removed
// node stops taking part once it applies its removal.
func (g *Group) RemoveServer(id string) error {
	g.cfgMu.Lock()
	defer g.cfgMu.Unlock()
	if !g.IsLeader() {
		return ErrNotLeader
	}
	member := false
	for _, m := range g.Servers() {
		member = member || m.ID == id
	}
	if !member {
		return nil
	}
	if id == g.cfg.NodeID {
		if err := g.TransferLeadership(); err != nil {
			return err
		}
		return fmt.Errorf("%w: leadership handed over; remove the node through the new leader", ErrNotLeader)
	}
	if err := g.await(g.raft.RemoveServer(raft.ServerID(id), 0, g.cfg.ApplyTimeout)); err != nil {
		return classify(err)
	}
	return nil
}

// RecordNode records in the log that node id answers clients at addr, so
// that every replica can name it (CLUSTER SLOTS, NODES). It does nothing
// when the log already says so; only the leader can record
// (ErrNotLeader otherwise).
func (g *Group) RecordNode(id, addr string) error {
	if a, ok := g.fsm.nodeAddr(id); ok && a == addr {
		return nil
	}
	if !g.IsLeader() {
		return ErrNotLeader
	}
	if err := g.await(g.raft.Apply(encodeNode(id, addr), g.cfg.ApplyTimeout)); err != nil {
		return classify(err)
	}
	return nil
}

// Snapshot asks Raft for a snapshot now and waits for it.
func (g *Group) Snapshot() error {
	if err := g.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// TransferLeadership hands leadership to another voter if this node leads
// a group of more than one, and waits (bounded by Raft) for it.
func (g *Group) TransferLeadership() error { return g.transferTo("") }

// TransferLeadershipTo hands leadership to voter id (manual failover)
// and waits (bounded by Raft) for it. It does nothing when id already
// leads; only the leader can (ErrNotLeader otherwise).
func (g *Group) TransferLeadershipTo(id string) error {
	if !g.IsLeader() {
		if _, lid := g.raft.LeaderWithID(); string(lid) == id {
			return nil
		}
		return ErrNotLeader
	}
	if id == g.cfg.NodeID {
		return nil
	}
	for _, m := range g.Members() {
		if m.ID == id {
			return g.transferTo(id)
		}
	}
	return fmt.Errorf("leadership transfer: %s is not a voter", id)
}

// finishBy finishes batch b (its once) but waits for that only until
// deadline or the group's shutdown (false): a transfer, which runs with
// the membership lock held, must not wait for ever on an entry Raft
// never answers (futureWait).
func (g *Group) finishBy(b *pendingBatch, deadline time.Time) bool {
	done := make(chan struct{})
	go func() {
		b.once.Do(b.finish)
		close(done)
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-g.stop:
		return false
	}
	return true
}

// transferTo hands leadership to voter id, or to any voter when id is "".
func (g *Group) transferTo(id string) error {
	if !g.IsLeader() {
		return nil
	}
	f := g.raft.GetConfiguration()
	if f.Error() != nil || len(f.Configuration().Servers) < 2 {
		return nil
	}
	var to raft.ServerAddress
	for _, sv := range f.Configuration().Servers {
		if string(sv.ID) == id {
			to = sv.Address
		}
	}
	g.qmu.Lock()
	started := g.transferring.CompareAndSwap(false, true) // Submit checks it under qmu
	g.qmu.Unlock()
	if !started {
		return fmt.Errorf("%w: a leadership transfer is already under way", ErrNotLeader)
	}
	defer g.transferring.Store(false)
	// Let what was already submitted commit first: Raft refuses new
	// entries during a transfer, and those would be answered errors.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if b := g.last.Load(); b != nil && !b.done() && !g.finishBy(b, deadline) {
			return ErrClosed
		}
		g.qmu.Lock()
		idle := len(g.queue) == 0 && !g.taking.Load()
		g.qmu.Unlock()
		if idle && (g.last.Load() == nil || g.last.Load().done()) {
			break
		}
		time.Sleep(time.Millisecond) // the batcher is proposing the rest, bounded
	}
	var fut raft.Future
	if id == "" {
		fut = g.raft.LeadershipTransfer()
	} else {
		fut = g.raft.LeadershipTransferToServer(raft.ServerID(id), to)
	}
	if err := g.await(fut); err != nil {
		return fmt.Errorf("leadership transfer: %w", err)
	}
	return nil
}

// Close shuts Raft down and closes the storage. Pending Applys finish
// with an error.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		close(g.stop)
		err := g.raft.Shutdown().Error()
		g.wg.Wait()
		g.trans.Close()
		if cerr := g.closeStorage(); err == nil {
			err = cerr
		}
		g.closeErr = err
	})
	return g.closeErr
}

func (g *Group) closeStorage() error {
	var err error
	if g.logs != nil {
		err = g.logs.Close()
	}
	if g.stable != nil {
		if e := g.stable.Close(); err == nil {
			err = e
		}
	}
	return err
}

// slogWriter adapts Raft's hclog output to the node's slog logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	for len(msg) > 0 && (msg[len(msg)-1] == '\n') {
		msg = msg[:len(msg)-1]
	}
	w.l.Warn(msg)
	return len(p), nil
}

var _ net.Listener = (*StreamLayer)(nil)
