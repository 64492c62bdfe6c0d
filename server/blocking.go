package server

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/shard"
)

// Blocking list pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
//
// A blocking command is tried as its non-blocking form, the usual way:
// a write through the log at its group's leader, here or forwarded. When
// every list it names is empty the store answers shard.ErrListBlocking,
// and the connection waits on this node, for a write to one of its keys
// to be applied here (the stores report keyspace events while anyone
// waits), for its timeout, for the client to go away, or for the server
// to stop; a write wakes it to try again. So every pop is an ordinary
// replicated write, decided once for all replicas; a client blocked on a
// follower is woken when the follower applies the push. A try that finds
// every list empty is answered by the leader from memory, without a log
// entry (shard.Unchanged). On a node that holds no replica of the keys'
// group (--replicas below the node count) the client tries every
// remotePoll instead.
//
// A node wakes its waiters on a key one at a time, longest waiting first
// (blockers). Unlike Redis, which hands a pushed element to that client
// inside the push itself, the woken client's pop is a write of its own,
// so another client's pop may get there first (the woken one waits
// again), and waiters on different nodes race. Within MULTI the commands
// do not block: an empty list answers nil at once, as in Redis.

// blockers are the connections of this node waiting in a blocking
// command, by key, longest waiting first. A write to a key wakes its
// first waiter only, and a waiter that leaves (served, timed out, gone)
// wakes the next one of each of its keys: so a node serves its waiters
// in the order they blocked, as Redis does, and a push wakes one client,
// not all of them. A waiter that keeps waiting after a wake because its
// key took another type passes the wake on (passOn); one whose try found
// nothing (another client took the element) does not: nothing is left.
type blockers struct {
	n    atomic.Int64 // waiters, read without the lock by the event hook
	mu   sync.Mutex
	keys map[string][]*blockWaiter
	// idle is how often a waiter tries again without a wake (0:
	// idlePoll); tests lengthen it so that only wakes serve clients.
	idle time.Duration
}

// blockWaiter is one waiting connection: ch receives a token when a write
// to one of its keys is applied.
type blockWaiter struct {
	keys []string
	ch   chan struct{}
}

// add registers a waiter for keys, behind those already waiting. The
// caller must remove it.
func (b *blockers) add(keys []string) (*blockWaiter, bool) {
	slices.Sort(keys)
	w := &blockWaiter{keys: slices.Compact(keys), ch: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keys == nil {
		b.keys = map[string][]*blockWaiter{}
	}
	for _, k := range w.keys {
		b.keys[k] = append(b.keys[k], w)
	}
	return w, b.n.Add(1) == 1
}

// remove unregisters w and wakes the next waiter of each of its keys (a
// wake w took may have been meant for it); it reports whether no waiter
// is left.
func (b *blockers) remove(w *blockWaiter) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range w.keys {
		ws := slices.DeleteFunc(b.keys[k], func(x *blockWaiter) bool { return x == w })
		if len(ws) == 0 {
			delete(b.keys, k)
			continue
		}
		b.keys[k] = ws
		ws[0].signal()
	}
	return b.n.Add(-1) == 0
}

// passOn wakes the waiter behind w on each of w's keys: w was woken but
// stays waiting although the write may have left something for others
// (its key took another type).
func (b *blockers) passOn(w *blockWaiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range w.keys {
		ws := b.keys[k]
		if i := slices.Index(ws, w); i >= 0 && i+1 < len(ws) {
			ws[i+1].signal()
		}
	}
}

// wakeAll wakes the first waiter of every key (after a snapshot restore,
// which reports no per-key writes).
func (b *blockers) wakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ws := range b.keys {
		ws[0].signal()
	}
}

// signal leaves w a token unless one is already there.
func (w *blockWaiter) signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// wake tells the first waiter of the event's key that it was written. It
// never blocks (the store's event sink calls it).
func (b *blockers) wake(e shard.Event) {
	if b.n.Load() == 0 || e.Class == shard.EventPublish || e.Class == shard.EventKeyMiss {
		return
	}
	b.mu.Lock()
	if ws := b.keys[e.Key]; len(ws) > 0 {
		ws[0].signal()
	}
	b.mu.Unlock()
}

// eventsOn reports whether the stores must report keyspace events: for
// notify-keyspace-events, or to wake blocked clients.
func (s *Server) eventsOn() bool {
	return notifyEventsOn(s.config().NotifyKeyspaceEvents) || s.blocked.n.Load() > 0
}

// refreshEvents turns the stores' event reporting on or off (eventsOn),
// one call at a time: a waiter leaving must not turn events off after
// one arriving turned them on.
func (s *Server) refreshEvents() {
	s.eventsMu.Lock()
	defer s.eventsMu.Unlock()
	on := s.eventsOn()
	for _, u := range s.local() {
		u.store.EnableEvents(on)
	}
}

// blockTimeout returns the timeout argument of a blocking command and
// whether it is valid (parseListTimeout); 0 means none.
func blockTimeout(cmd *command, args [][]byte) (time.Duration, bool) {
	var arg []byte
	switch cmd.name {
	case "blpop", "brpop", "bzpopmin", "bzpopmax":
		arg = args[len(args)-1]
	case "blmove":
		arg = args[5]
	case "brpoplpush":
		arg = args[3]
	case "blmpop", "bzmpop":
		arg = args[1]
	default:
		return 0, false
	}
	if parseListTimeout(arg) != nil {
		return 0, false
	}
	f, _, err := big.ParseFloat(string(arg), 0, 64, big.ToNearestEven)
	if err != nil {
		return 0, false
	}
	ms, _ := f.Float64()
	ms = math.Ceil(ms * 1000)
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, true // beyond any wait: as good as none
	}
	return time.Duration(ms) * time.Millisecond, true
}

// blockingCommand runs a blocking list command outside MULTI (see the
// comment at the top of this file).
func (c *client) blockingCommand(cmd *command, args [][]byte) {
	c.settle()
	timeout, ok := blockTimeout(cmd, args)
	mark := len(c.w.b)
	if !c.tryPop(cmd, args) || !ok {
		return // popped, or an error (a bad timeout among them)
	}
	c.w.b = c.w.b[:mark]
	// Nothing to pop. Register, then try once more: a push applied
	// after that try leaves its token in w.ch. (Registering only now
	// keeps a queue that is never empty from turning events on.)
	w, first := c.s.blocked.add(waitKeys(cmd, args))
	if first {
		c.s.refreshEvents()
	}
	defer func() {
		if c.s.blocked.remove(w) {
			c.s.refreshEvents()
		}
	}()
	if !c.tryPop(cmd, args) {
		return
	}
	c.w.b = c.w.b[:mark]
	// The replies before this command go out now, not when it ends; a
	// RESP3 subscriber's messages go out while it waits, as in Redis.
	if !c.flushIdle() {
		c.quit = true
		return
	}
	if c.ps != nil {
		defer c.ps.setBusy(true) // the serve loop takes them again
	}
	mark, c.replyMark = 0, 0 // flush emptied the buffer
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	// Tries come from writes applied here. A group this node does not
	// hold reports none, so its leader is asked again every remotePoll
	// (a try that finds nothing is answered from its memory, without a
	// log entry); any other wait tries again every idlePoll, in case a
	// wake was missed while the group moved.
	tk := time.NewTicker(c.pollEvery())
	defer tk.Stop()
	gone, stop := c.watchConn()
	defer stop()
	select {
	case <-c.unblock: // meant for an earlier wait
	default:
	}
	// Blocked from here on for CLIENT LIST, CLIENT UNBLOCK and INFO's
	// blocked_clients alike (registering above came first).
	c.info.blocked.Store(true)
	c.s.blockedClients.Add(1)
	defer func() {
		c.info.blocked.Store(false)
		c.s.blockedClients.Add(-1)
	}()
	since := c.s.sinceEpoch()
	defer func() { c.waited += c.s.sinceEpoch() - since }() // not in SLOWLOG
	for {
		select {
		case withErr := <-c.unblock:
			if withErr {
				c.w.errorText("UNBLOCKED client unblocked via CLIENT UNBLOCK")
			} else {
				c.w.nullArray()
			}
			return
		case <-w.ch:
		case <-tk.C:
		case <-expired:
			c.w.nullArray() // BLMOVE too, as Redis answers a timeout
			return
		case <-gone:
			c.quit = true
			return
		case <-c.s.ctx.Done():
			c.quit = true
			return
		}
		c.u = c.s.cmdUnit(cmd, args) // the group may have moved
		tk.Reset(c.pollEvery())
		if c.ps != nil {
			c.ps.setBusy(true) // messages after the pop go after its reply
		}
		if !c.tryPop(cmd, args) {
			// Redis keeps a waiting client waiting when one of its keys
			// takes another type (it wakes clients for pushes only).
			// Unlike Redis 7.0, which then serves such a client from
			// another of its keys, sessiond goes on waiting until the
			// key is a list (or sorted set) again, or the timeout.
			if !bytes.HasPrefix(c.w.b[mark:], wrongTypeReply) {
				return
			}
			c.s.blocked.passOn(w) // what was written is for those behind
		}
		c.w.b = c.w.b[:mark]
		if c.ps != nil && !c.flushIdle() { // what came during the try
			c.quit = true
			return
		}
	}
}

// waitKeys returns the keys a blocking command waits on: those it pops
// from. BLMOVE's and BRPOPLPUSH's destination is not one: a client
// waiting there would take the wakes meant for those popping from it.
func waitKeys(cmd *command, args [][]byte) []string {
	if cmd.name == "blmove" || cmd.name == "brpoplpush" {
		return []string{string(args[1])}
	}
	var keys []string
	forKeys(cmd, args, func(k []byte) { keys = append(keys, string(k)) })
	return keys
}

// pollEvery is how often a waiting client tries again without a wake
// (see blockingCommand).
func (c *client) pollEvery() time.Duration {
	if c.u == nil || c.u.store == nil {
		return remotePoll
	}
	if d := c.s.blocked.idle; d > 0 {
		return d
	}
	return idlePoll
}

// idlePoll is how often a blocked client tries again without a wake.
const idlePoll = time.Second

// wrongTypeReply starts a WRONGTYPE error reply.
var wrongTypeReply = []byte("-WRONGTYPE ")

// remotePoll is how often a client blocked on keys of a group this node
// does not hold tries again.
const remotePoll = 100 * time.Millisecond

// blockingReply is how the store answers a blocking command that finds
// nothing to pop, here or relayed from a leader.
var blockingReply = []byte("-" + shard.ErrListBlocking.Error() + "\r\n")

// tryPop runs the command once, the usual way, and writes its reply. It
// reports whether that reply is "nothing to pop" (blockingReply), which
// the caller then removes.
func (c *client) tryPop(cmd *command, args [][]byte) bool {
	mark := len(c.w.b)
	c.popping = true // dispatch counts the final reply, if an error
	defer func() { c.popping = false }()
	if !(c.s.sharded() && c.routeGroups(cmd, args)) && !c.routeRemote(cmd, args) {
		if err := c.s.checkOOM(cmd); err != nil {
			c.rejectStat(cmd)
			c.w.err(err)
		} else {
			c.execData(cmd, args)
		}
	}
	c.settle()
	c.replyMark = mark // the reply settle wrote is the command's own
	return bytes.Equal(c.w.b[mark:], blockingReply)
}

// blockedStashMax bounds what a blocked connection reads ahead (commands
// pipelined behind the blocking one) while it watches for the client
// going away: Redis's default client-query-buffer-limit. A client that
// sends more is dropped, as Redis drops it.
const blockedStashMax = 1 << 30

// watchConn reads from the connection while it is blocked, so that a
// client that goes away is noticed (gone is closed) instead of having an
// element popped for it; bytes that arrive meanwhile are kept in
// c.stash, where the reader takes them first. stop ends the watch and
// must be called before the connection is read again.
func (c *client) watchConn() (gone <-chan struct{}, stop func()) {
	g := make(chan struct{})
	done := make(chan struct{})
	var stopping atomic.Bool
	c.nc.SetReadDeadline(time.Time{}) // blocked clients never time out, as in Redis
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.nc.Read(buf)
			c.stash = append(c.stash, buf[:n]...)
			c.s.stats.netInput.Add(int64(n))
			if err != nil || len(c.stash) > blockedStashMax {
				if err == nil || !stopping.Load() || !errors.Is(err, os.ErrDeadlineExceeded) {
					close(g)
				}
				return
			}
			if len(buf) < 64<<10 && n == len(buf) {
				buf = make([]byte, 64<<10) // a big pipeline: read it in fewer calls
			}
		}
	}()
	return g, func() {
		stopping.Store(true)
		c.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
	}
}

// cmdClientUnblock is CLIENT UNBLOCK id [TIMEOUT|ERROR]: a connection
// waiting in a blocking command answers as if its timeout had passed, or
// with an UNBLOCKED error. It answers 1 if the connection was waiting.
func cmdClientUnblock(c *client, args [][]byte) {
	if len(args) > 4 {
		c.w.errorText("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try CLIENT HELP.")
		return
	}
	withErr := false
	if len(args) == 4 {
		switch {
		case eq(args[3], "timeout"):
		case eq(args[3], "error"):
			withErr = true
		default:
			c.w.errorText("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	id, ok := shard.ParseInt(args[2])
	if !ok {
		c.w.err(errNotInt)
		return
	}
	c.s.mu.Lock()
	cl := c.s.clients[id]
	c.s.mu.Unlock()
	if cl == nil || !cl.info.blocked.Load() {
		c.w.int(0)
		return
	}
	select {
	case cl.unblock <- withErr:
		c.w.int(1)
	default:
		c.w.int(0) // unblocked already
	}
}
