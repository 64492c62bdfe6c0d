package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"sessiond/replication"
	"sessiond/shard"
)

// client is one connection's state. Only its own goroutine touches it,
// except the fields read by CLIENT LIST and INFO, which are guarded by
// info (see clientInfo).
type client struct {
	s  *Server
	id int64
	nc net.Conn
	rd *reader
	w  replyWriter
	// warmKeys and warmMembers are warmReads' scratch (empty between its
	// calls).
	warmKeys, warmMembers [][]byte
	// stat is the command whose commandstats the command being
	// dispatched counts in once it returns (nil: none, as for one
	// refused or queued in a MULTI).
	stat   *command
	addr   string
	laddr  string
	authed bool
	quit   bool // close after the pending replies are written

	multi    *multiState
	watches  []shard.Watch
	readonly bool

	u            *unit         // the shard group of the command being run (dispatch)
	replica      *replicaLink  // set by REPLCONF on a follower's link (guarded by s.mu)
	lastWrite    uint64        // applied index of lastUnit after this connection's last write (WAIT)
	lastUnit     *unit         // the group of that write
	lastFwd      bool          // the last write was forwarded to another node's group leader (WAIT refuses)
	batchWrote   bool          // the batch being served has written (serve)
	fwdConn      bool          // named sessiond-forwarder: another node's forwarding connection
	inLocalRetry bool          // forward found this node leading: no second retry
	inflight     []inflight    // pipelined writes submitted to the group, replies pending
	inflightKeys []uint64      // hashes of the keys those writes name
	inflightAll  bool          // one of them names no key (FLUSHALL): every read waits
	deferred     int           // deferred no-op writes in inflight (deferred.go)
	stash        []byte        // read while blocked (watchConn): the reader's next input
	popping      bool          // tryPop is running: settle leaves error counting to dispatch
	unblock      chan bool     // CLIENT UNBLOCK of this connection: true for ERROR (blocking.go)
	waited       time.Duration // how long the last command waited blocked (left out of SLOWLOG)
	replyMark    int           // where in w.b the command dispatch runs writes its reply (error counting)
	pendOut      []byte        // replies of reads answered while writes were in flight
	early        bool          // answerEarly is running
	settling     bool          // settle is running
	forwardAlone bool          // forward on a connection of its own (forwardExec)
	fwd          *fwdBatch     // commands queued for a leader, sent at the next settle (forward_pipeline.go)
	fwdNext      bool          // dispatch found the command forwardable: routeRemote queues it
	keySeed      maphash.Seed
	ps           *subscriber // pub/sub state, from the first (P)SUBSCRIBE (pubsub_hub.go)

	info clientInfo

	batchNow time.Time   // the clock, read once per batch of commands
	op       shard.Op    // scratch space for the command being executed
	vals     []shard.Val // reused by reads that return lists (Op.Scratch)

	// rng, when set, is where parse functions take the random seeds they
	// stamp into ops (c.rand): a script run inside Apply sets a seeded one
	// so that every replica parses its commands alike.
	rng *rand.Rand

	noTouch bool // CLIENT NO-TOUCH: reads leave the access clock alone
}

// rand returns a random number for a parse function to stamp into an op
// (SPOP, SRANDMEMBER, RANDOMKEY, HRANDFIELD seeds): from c.rng when set,
// else from the process's generator.
func (c *client) rand() uint64 {
	if c.rng != nil {
		return c.rng.Uint64()
	}
	return rand.Uint64()
}

// inflight is a write submitted to the replication group whose reply is
// not written yet: a pipeline of writes is submitted at once and goes
// into one log entry instead of one round trip each.
type inflight struct {
	cmd        *command
	u          *unit // the group the write was submitted to
	late       *errIfFound
	p          replication.Pending
	read       bool           // a read answered early: its reply is pendOut[start:end]
	def        *deferredWrite // a no-op write held back until the writes before it apply (deferred.go)
	start, end int
	fwd        int // > 0: command fwd-1 of c.fwd, forwarded (forward_pipeline.go)
}

// maxInflight bounds the writes one connection has in flight; a node's
// shared forwarding connection (upstream_mux.go), which carries the
// pipelines of many clients, may have maxInflightForwarder.
const (
	maxInflight          = 512
	maxInflightForwarder = 8192
)

// inflightMax is the connection's bound on writes in flight.
func (c *client) inflightMax() int {
	if c.fwdConn {
		return maxInflightForwarder
	}
	return maxInflight
}

// settle waits for the connection's in-flight writes and writes their
// replies, in order. Anything that writes a reply calls it first.
func (c *client) settle() {
	if c.early || c.settling {
		// Inside answerEarly; or settle relaying a queued forward ran a
		// command here that settles (a parse error): every reply before
		// it is written already.
		return
	}
	c.settling = true
	defer func() { c.settling = false }()
	for i := range c.inflight {
		f := &c.inflight[i]
		if f.read {
			c.w.b = append(c.w.b, c.pendOut[f.start:f.end]...)
			continue
		}
		mark := len(c.w.b)
		if f.fwd > 0 {
			c.fwdReply(f.fwd - 1)
		} else if f.def != nil {
			c.resolveDeferred(i)
		} else {
			res, err := f.p.Wait()
			switch {
			case err != nil:
				c.replicationError(err)
			default:
				c.wrote(f.u)
				c.w.resultOrLateError(f.cmd, res, f.late)
			}
		}
		if !c.popping {
			c.countReply(f.cmd, c.w.b[mark:])
		}
	}
	c.fwd = nil
	c.replyMark = len(c.w.b)
	clear(c.inflight)
	c.inflight = c.inflight[:0]
	c.inflightKeys = c.inflightKeys[:0]
	c.deferred = 0
	c.inflightAll = false
	if cap(c.pendOut) > idleReplyBuf {
		c.pendOut = nil
	} else {
		c.pendOut = c.pendOut[:0]
	}
}

// countReply counts reply in total_error_replies and errorstats if it is
// an error, but not "nothing to pop yet" answered to another node's
// forwarding connection: that node's client waits, and sees no error.
// The error counts in the failed_calls of cmd (nil: none known), which
// ran.
func (c *client) countReply(cmd *command, reply []byte) {
	if len(reply) > 0 && reply[0] == '-' && !(c.fwdConn && bytes.HasPrefix(reply, blockingReply)) {
		c.s.stats.errorReplies.Add(1)
		c.s.countErrorCode(reply)
		if cmd != nil && cmd.stats != nil {
			cmd.stats.failed.Add(1)
		}
	}
}

// rejectStat counts cmd's call as refused before it ran: in its
// rejected_calls, not in its calls.
func (c *client) rejectStat(cmd *command) {
	if cmd.stats != nil {
		cmd.stats.rejected.Add(1)
	}
	c.stat = nil
}

// keyHash hashes a key for inflightKeys.
func (c *client) keyHash(k []byte) uint64 { return maphash.Bytes(c.keySeed, k) }

// forKeys calls fn for each key argument of cmd (its key positions).
func forKeys(cmd *command, args [][]byte, fn func(k []byte)) {
	if cmd.first <= 0 {
		return
	}
	if cmd.keyRange != nil {
		first, last := cmd.keyRange(args)
		if cmd.destKey > 0 && cmd.destKey < len(args) && first > 0 {
			fn(args[cmd.destKey])
		}
		for i := first; first > 0 && i <= last && i < len(args); i++ {
			fn(args[i])
		}
		return
	}
	last := cmd.last
	if last < 0 {
		last += len(args)
	}
	for i := cmd.first; i <= last && i < len(args); i += max(cmd.step, 1) {
		fn(args[i])
	}
}

// readCanPass reports whether a read may be answered now, ahead of the
// connection's in-flight writes: it names keys, none of which those
// writes name, and this node may answer reads locally. Its reply is then
// held back (answerEarly) so that replies stay in order. A pipeline of
// session reads and writes on different keys thus waits once, not once
// per write.
func (c *client) readCanPass(cmd *command, args [][]byte) bool {
	if cmd == nil || cmd.parse == nil || cmd.has(flagWrite) || cmd.first <= 0 || c.inflightAll ||
		c.multi != nil || !c.authed || !cmd.arityOK(len(args)) || len(c.inflight) >= c.inflightMax() ||
		len(c.pendOut) >= replyFlushSize ||
		c.u.group == nil || !c.u.group.LeaseReadOK() {
		return false
	}
	clash, slot := false, -1
	cluster := c.s.clusterOn()
	forKeys(cmd, args, func(k []byte) {
		if c.s.sharded() && c.s.unitOfKey(k) != c.u {
			clash = true // keys of several groups: fanOut answers it
		}
		h := c.keyHash(k)
		for _, w := range c.inflightKeys {
			if w == h {
				clash = true
			}
		}
		// In cluster mode a read of several slots must get CROSSSLOT
		// from clusterRoute, in its place.
		if cluster {
			if s := shard.KeySlot(k); slot < 0 {
				slot = s
			} else if s != slot {
				clash = true
			}
		}
	})
	return !clash
}

// answerEarly runs a read while writes are in flight, keeping its reply
// in pendOut until settle writes it in its place.
func (c *client) answerEarly(cmd *command, args [][]byte) {
	c.holdReply(func() {
		c.early = true // settle must not run inside: it would write into pendOut
		c.execData(cmd, args)
		c.early = false
	})
}

// holdReply runs reply, which writes one reply, with the reply buffer
// switched to pendOut, and queues that reply behind the connection's
// in-flight writes: settle writes it in its place.
func (c *client) holdReply(reply func()) {
	out := c.w.b
	c.w.b = c.pendOut
	start := len(c.w.b)
	reply()
	c.pendOut = c.w.b
	c.w.b = out
	c.countReply(c.stat, c.pendOut[start:])
	c.inflight = append(c.inflight, inflight{read: true, start: start, end: len(c.pendOut)})
}

// answerUnchanged answers the write in c.op without a log entry when it
// would change nothing (shard.Store.Unchanged: SADD of members already
// there, ZADD of the scores members already have, SET NX of a key that
// exists, ...), as Redis answers such a write without propagating it.
// It does so only where a read of the key could be answered locally at
// this point: this node leads the key's group within its lease, and none
// of the connection's in-flight writes names the key (the reply then
// waits behind theirs, in pendOut). When one does, the write is deferred
// instead (deferUnchanged). It reports whether it answered or deferred.
func (c *client) answerUnchanged(cmd *command, args [][]byte) bool {
	if !shard.MayBeUnchanged(&c.op) || c.inflightAll || len(c.inflight) >= c.inflightMax() ||
		len(c.pendOut) >= replyFlushSize || !c.u.group.LeaseReadOK() {
		return false
	}
	if c.op.Key == nil && len(c.inflight) > 0 {
		return false // keys in Args (a blocking pop): not checked against in-flight writes
	}
	if shard.IsBlockingTry(&c.op) && !c.u.group.StoreCurrent() {
		// A client blocked on a follower tries when the follower applies
		// a push, which this leader may have committed but not applied
		// yet: answered "nothing" from memory, that wake would be lost.
		// Through the log, the try comes after the push.
		return false
	}
	h := c.keyHash(c.op.Key)
	if slices.Contains(c.inflightKeys, h) {
		return c.deferUnchanged(cmd, args, h)
	}
	res, ok := c.u.store.Unchanged(&c.op)
	if !ok {
		return false
	}
	if len(c.inflight) == 0 {
		c.w.resultOrLateError(cmd, res, nil)
		return true
	}
	c.holdReply(func() { c.w.resultOrLateError(cmd, res, nil) })
	return true
}

// multiState is a transaction being queued by MULTI.
type multiState struct {
	queued [][][]byte // each command's arguments, copied
	dirty  bool       // a queuing error happened: EXEC answers EXECABORT
}

func newClient(s *Server, nc net.Conn) *client {
	cfg := s.config()
	c := &client{
		s:       s,
		id:      s.nextID.Add(1),
		nc:      nc,
		addr:    nc.RemoteAddr().String(),
		laddr:   nc.LocalAddr().String(),
		authed:  cfg.RequirePass == "",
		keySeed: maphash.MakeSeed(),
		unblock: make(chan bool, 1),
	}
	c.rd = newReader(nc, cfg.ProtoMaxBulkLen, func() bool { return c.authed })
	c.info.multiLen.Store(-1)
	c.info.created = s.clock.Now()
	c.batchNow = c.info.created
	c.info.lastTime.Store(c.info.created.UnixNano())
	return c
}

// serve runs the connection until the client leaves, sends QUIT, breaks
// the protocol, stays idle longer than the timeout, or the server closes.
// It executes every command already buffered before writing the replies
// in one go, and between requests drops buffers that grew for a large one,
// so an idle connection holds only the reader's small buffer.
func (c *client) serve() {
	defer c.nc.Close()
	defer func() {
		if c.ps != nil {
			c.ps.close()
		}
	}()
	c.rd.src = connSource{c}
	for !c.quit {
		c.rd.maxBulk = c.s.config().ProtoMaxBulkLen
		args, err := c.rd.next(true)
		if err != nil {
			c.readFailed(err)
			return
		}
		if c.ps != nil {
			c.ps.setBusy(true) // messages now wait for the serve loop
		}
		c.warmReads(args)
		// Execute everything already buffered, then write once. The clock
		// is read once per 32 commands: like Redis's cached command time,
		// every command of a batch sees the same "now".
		c.batchWrote = false
		n := 0
		// Slow log: one monotonic clock read per command, the end of a
		// command being the start of the next (which so also counts the
		// few hundred nanoseconds of parsing it), instead of three.
		slow := c.s.slowlogOn()
		track := c.s.config().LatencyTracking == "yes"
		mark := c.s.sinceEpoch()
		for ; args != nil && !c.quit; n++ {
			if n%32 == 0 {
				c.batchNow = c.s.clock.Now()
			}
			if c.ps != nil {
				c.w.b = c.ps.take(c.w.b) // messages published before this command
			}
			if c.s.monitoring.Load() > 0 {
				c.s.feedMonitors(c, args)
			}
			c.dispatch(args)
			end := c.s.sinceEpoch()
			if slow {
				c.s.slowlogRecord(c, args, end-mark-c.waited)
			}
			if c.stat != nil {
				c.stat.countCall(int64(end-mark-c.waited), track)
				c.stat = nil
			}
			mark = end
			c.waited = 0
			if len(c.w.b) > replyFlushSize {
				c.settle()
				if !c.flush() {
					return
				}
				mark = c.s.sinceEpoch() // the wait is no command's
			}
			args, err = c.rd.next(false)
			if err != nil {
				c.readFailed(err)
				return
			}
		}
		wrote := len(c.inflight) > 0 || c.batchWrote
		c.settle()
		if n >= yieldBatch && !wrote {
			// A pipeline of reads: let the other connections' ready
			// batches run first, so that the replies go out in a burst
			// instead of one every few microseconds. The client (one
			// event loop, usually) then wakes once for many of them:
			// waking a sleeping process is the dearest part of a write
			// on loopback. Writes need no help; their replies wait for
			// the same log entry.
			runtime.Gosched()
		}
		if !c.flushIdle() {
			return
		}
		c.rd.shrink()
	}
}

// yieldBatch is the smallest batch of reads after which the connection
// yields before writing its replies (serve).
const yieldBatch = 4

// Reply buffer sizes: replies are written out once this many bytes are
// pending, and a buffer that grew past idleReplyBuf is dropped after a
// write instead of being kept for the next request.
const (
	replyFlushSize = 64 * 1024
	idleReplyBuf   = 64 * 1024
)

// connSource is what a client's reader reads from: the connection, with
// the idle timeout (Config.Timeout) armed before every read, so a client
// that keeps sending, however slowly, is never idle. It counts input bytes.
type connSource struct{ c *client }

// Read reads from the connection.
func (s connSource) Read(p []byte) (int, error) {
	c := s.c
	if len(c.stash) > 0 {
		n := copy(p, c.stash)
		c.stash = c.stash[n:]
		if len(c.stash) == 0 {
			c.stash = nil
		}
		return n, nil
	}
	// The reader has consumed everything: usually this client is waiting
	// for replies just written. Letting the other goroutines run first
	// gives its next commands time to arrive, so the read below finds
	// them instead of failing with EAGAIN and parking. Under SET
	// pipeline 16 at 50 clients this took reads from 2.0 to 1.0 per
	// reply write (one yield: 1.35); on an idle node it costs two
	// yields that return at once.
	runtime.Gosched()
	runtime.Gosched()
	c.nc.SetReadDeadline(c.deadline())
	n, err := c.nc.Read(p)
	c.s.stats.netInput.Add(int64(n))
	return n, err
}

// deadline returns when the connection counts as idle if nothing moves
// until then, or the zero time when there is no timeout. Deadlines are
// socket deadlines, so they use the operating system's clock.
func (c *client) deadline() time.Time {
	if c.info.subs.Load()+c.info.psubs.Load() > 0 {
		return time.Time{} // as in Redis, the timeout spares subscribers
	}
	if t := c.s.config().Timeout; t > 0 {
		return time.Now().Add(t)
	}
	return time.Time{}
}

// readFailed ends a connection whose read failed: a malformed request
// gets its error reply first, as in Redis; a closed, timed-out or
// over-limit client is dropped without one.
func (c *client) readFailed(err error) {
	// The commands read before the failure run and are answered first, as
	// in Redis (queued forwards included: they are sent now).
	c.settle()
	switch {
	case isProtocolError(err):
		c.w.errorText(err.Error())
		c.flush()
	case errors.Is(err, errQueryBufLimit):
		c.s.log.Warn("closing client that reached max query buffer length", "id", c.id, "addr", c.addr)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
	default:
		c.s.log.Debug("client read failed", "id", c.id, "err", err)
	}
}

// flush writes the pending replies; false means the connection is gone
// (closed, reset, or idle past the timeout: a client that reads nothing
// for that long is idle too, while one that reads slowly is not).
func (c *client) flush() bool { return c.flushOut(false) }

// flushIdle is flush at the end of a batch of commands: from then on,
// until the next request arrives, the subscriber's writer goroutine
// writes published messages itself.
func (c *client) flushIdle() bool { return c.flushOut(true) }

func (c *client) flushOut(idle bool) bool {
	if sb := c.ps; sb != nil {
		// Queued messages go out after the replies before them, and
		// the writer goroutine writes only after this write.
		sb.writeMu.Lock()
		defer sb.writeMu.Unlock()
		c.w.b = sb.take(c.w.b)
		if idle {
			sb.setBusy(false)
		}
	}
	b := c.w.b
	var err error
	_, isTLS := c.nc.(*tls.Conn)
	for len(b) > 0 {
		c.nc.SetWriteDeadline(c.deadline())
		chunk := b
		if isTLS && len(chunk) > tlsWriteChunk {
			chunk = chunk[:tlsWriteChunk]
		}
		var n int
		n, err = c.nc.Write(chunk)
		c.s.stats.netOutput.Add(int64(n))
		b = b[n:]
		if isTLS && err == nil {
			continue // the next chunk, with a new deadline
		}
		if err == nil || n == 0 || isTLS || !errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		err = nil // timed out after some progress: keep going
	}
	if cap(c.w.b) > idleReplyBuf {
		c.w.b = nil
	} else {
		c.w.b = c.w.b[:0]
	}
	return err == nil
}

// lowerName lower-cases a command name into buf without allocating.
func lowerName(buf []byte, name []byte) []byte {
	if len(name) > len(buf) {
		return []byte(strings.ToLower(string(name)))
	}
	out := buf[:len(name)]
	for i, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		out[i] = ch
	}
	return out
}

// lookup finds the command args[0] names, or nil.
func (c *client) lookup(name []byte) *command {
	var buf [32]byte
	return c.s.cmds[string(lowerName(buf[:], name))]
}

// dispatch runs one command and appends its reply.
func (c *client) dispatch(args [][]byte) {
	s := c.s
	s.stats.commands.Add(1)
	cmd := c.lookup(args[0])
	c.stat = cmd
	c.u = s.cmdUnit(cmd, args)
	c.fwdNext = c.forwardable(cmd, args)
	if c.fwd != nil && !c.fwdNext {
		// Queued forwards go out before anything runs here: should this
		// node have taken their group's leadership meanwhile, a write
		// here must not overtake them.
		c.settle()
	}
	if len(c.inflight) > 0 && !c.fwdNext && !(cmd != nil && cmd.parse != nil && cmd.has(flagWrite) && c.multi == nil &&
		c.authed && cmd.arityOK(len(args)) && len(c.inflight) < c.inflightMax()) {
		if c.readCanPass(cmd, args) {
			c.info.setLastCmd(&cmd.name, c.batchNow)
			c.answerEarly(cmd, args)
			return
		}
		c.settle()
	}
	// The command's own reply, if written now, starts at c.replyMark:
	// a settle on the way writes (and counts) earlier replies first.
	c.replyMark = len(c.w.b)
	defer func() {
		if len(c.w.b) > c.replyMark {
			// A refusal has cleared c.stat: it counts as rejected only.
			c.countReply(c.stat, c.w.b[c.replyMark:])
		}
	}()
	if cmd == nil {
		c.rejectUnknown(args)
		return
	}
	c.info.setLastCmd(&cmd.name, c.batchNow)
	// Redis checks the arity before authentication.
	if !cmd.arityOK(len(args)) {
		c.rejectStat(cmd)
		c.reject(cmd, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	}
	if !c.authed && !cmd.has(flagNoAuth) {
		c.rejectStat(cmd)
		c.reject(cmd, "NOAUTH Authentication required.")
		return
	}
	if (cmd.first > 0 || cmd.name == "exec" || cmd.parse != nil && cmd.has(flagWrite)) && s.clusterOn() && !c.clusterRoute(cmd, args) {
		c.rejectStat(cmd) // -MOVED, -ASK, -CROSSSLOT... as Redis counts them
		return
	}
	if c.ps != nil && !c.subscribedCommand(cmd, args) {
		return // answered here: refused (rejectStat), or PING's reply
	}
	if s.pause.paused.Load() && !c.waitPause(cmd, args) {
		c.stat = nil
		c.quit = true
		return
	}
	if c.multi != nil && !cmd.has(flagMultiControl) {
		if cmd.has(flagNoMulti) {
			c.rejectStat(cmd)
			c.w.errorText("ERR Command not allowed inside a transaction")
			c.abortMulti()
			return
		}
		if msg := c.subcommandError(cmd, args); msg != "" {
			c.w.errorText(msg)
			c.abortMulti()
			return
		}
		if err := s.checkOOMQueued(); err != nil {
			c.rejectStat(cmd)
			c.w.err(err)
			c.abortMulti()
			return
		}
		c.stat = nil // counted when EXEC runs it
		q := make([][]byte, len(args))
		for i, a := range args {
			q[i] = append([]byte(nil), a...)
		}
		c.multi.queued = append(c.multi.queued, q)
		c.info.multiLen.Store(int32(len(c.multi.queued)))
		c.w.simple("QUEUED")
		return
	}
	if cmd.run != nil {
		cmd.run(c, args)
		return
	}
	if cmd.has(flagBlocking) && !c.fwdConn {
		// Another node's forwarding connection carries many clients:
		// there the command answers at once, and that node waits.
		c.blockingCommand(cmd, args)
		return
	}
	if cmd.parse != nil && s.sharded() && c.routeGroups(cmd, args) {
		return
	}
	if cmd.parse != nil && c.routeRemote(cmd, args) {
		return
	}
	if err := s.checkOOM(cmd); err != nil {
		c.settle()
		c.rejectStat(cmd)
		c.w.err(err)
		return
	}
	c.execData(cmd, args)
}

// reject answers a command refused before it runs, as Redis's
// rejectCommand does: a transaction being queued fails, and a refused
// EXEC discards the transaction and the watches at once, answering
// EXECABORT with the reason.
func (c *client) reject(cmd *command, msg string) {
	if cmd.name == "exec" {
		c.endMulti()
		c.w.errorText("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR "))
		return
	}
	c.w.errorText(msg)
	c.abortMulti()
}

// abortMulti marks a transaction being queued as failed (EXECABORT).
func (c *client) abortMulti() {
	if c.multi != nil {
		c.multi.dirty = true
	}
}

// rejectUnknown answers an unknown command in Redis's words.
func (c *client) rejectUnknown(args [][]byte) {
	// Redis formats with printf's %.*s, which also stops at a NUL byte.
	cString := func(a []byte, max int) []byte {
		if i := bytes.IndexByte(a, 0); i >= 0 {
			a = a[:i]
		}
		if len(a) > max {
			a = a[:max]
		}
		return a
	}
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		a = cString(a, 128-b.Len())
		b.WriteByte('\'')
		b.Write(a)
		b.WriteString("' ")
	}
	name := cString(args[0], 128)
	c.w.errorText("ERR unknown command '" + string(name) + "', with args beginning with: " + b.String())
	c.abortMulti()
}

// now returns the server clock in Unix milliseconds, as read for the
// current batch of commands.
func (c *client) now() int64 { return c.batchNow.UnixMilli() }

// execData parses, executes and answers a data command.
func (c *client) execData(cmd *command, args [][]byte) {
	now := c.now()
	op, err := cmd.parse(c, args, now)
	var late *errIfFound
	if err != nil {
		// A separate variable: errors.As makes its target escape, and
		// late must not cost a heap allocation on every command.
		var e *errIfFound
		if !errors.As(err, &e) {
			c.settle()
			c.w.err(err)
			return
		}
		late = e
	}
	op.Now = now
	// The op lives in the client so that handing it on does not cost a
	// heap allocation per command.
	c.op = op
	if g := c.u.group; g != nil && op.Kind.IsWrite() && c.multi == nil && !c.inLocalRetry {
		if late == nil && c.answerUnchanged(cmd, args) {
			c.op = shard.Op{}
			return
		}
		if c.deferred > 0 && !c.submitDeferred(0) {
			c.settle() // a deferred write could not be submitted: answer them all first
		}
		p, err := g.Submit(&c.op)
		c.op = shard.Op{}
		if err == nil {
			c.inflight = append(c.inflight, inflight{cmd: cmd, u: c.u, late: late, p: p})
			c.batchWrote = true
			if cmd.first <= 0 || op.Kind == shard.KindEval {
				// A script may write keys it did not declare: every
				// later read or no-op write must wait for it.
				c.inflightAll = true
			}
			forKeys(cmd, args, func(k []byte) { c.inflightKeys = append(c.inflightKeys, c.keyHash(k)) })
			return
		}
		c.settle() // not the leader: answer what is in flight, then forward
		c.op = op
	}
	if !op.Kind.IsWrite() && len(c.inflight) > 0 {
		// A write command whose op is a read (an argument error Redis
		// reports only once it finds the key, a no-writes script) was
		// not held to the read rules before it came here: its reply
		// must neither overtake the writes before it nor miss them.
		c.settle()
		c.op = op
	}
	if !op.Kind.IsWrite() {
		c.op.Scratch = c.vals[:0]
		if c.noTouch && cmd.name != "touch" {
			c.op.Flags |= shard.NoTouch
		}
	}
	res, err := c.execOp(&c.op)
	write := c.op.Kind.IsWrite()
	c.op = shard.Op{}
	if err != nil {
		if c.u.group != nil && errors.Is(err, replication.ErrNotLeader) && !c.inLocalRetry {
			c.forward(args, cmd.has(flagWrite), func() { c.execData(cmd, args) })
			return
		}
		c.replicationError(err)
		return
	}
	if write {
		c.wrote(c.u)
	}
	c.w.resultOrLateError(cmd, res, late)
	// The reply is written: the list it held can take the next read's,
	// once cleared so that it keeps no value alive.
	clear(res.Vals)
	if cap(res.Vals) > cap(c.vals) && cap(res.Vals) <= 1024 {
		c.vals = res.Vals[:0]
	}
}

// execOp sends a write through the command's group's Applier and
// answers a read from its store.
func (c *client) execOp(op *shard.Op) (shard.Result, error) {
	if op.Kind.IsWrite() {
		return c.u.applier.Apply(c.s.ctx, op)
	}
	if err := c.readBarrier(); err != nil {
		return shard.Result{}, err
	}
	return c.u.store.Read(op), nil
}

// wrote records that this connection's last write went to u and has
// been applied (WAIT counts the replicas that applied as much).
func (c *client) wrote(u *unit) {
	if u.group != nil {
		c.lastWrite, c.lastUnit, c.lastFwd = u.group.AppliedIndex(), u, false
		c.batchWrote = true
	}
}

// subscribedCommand handles the rules of a connection with a pub/sub
// state: a RESP2 connection with subscriptions runs only (P)(UN)SUBSCRIBE,
// PING (answered ["pong", arg]), QUIT and RESET; RESET drops every
// subscription. It returns false when it answered the command.
func (c *client) subscribedCommand(cmd *command, args [][]byte) bool {
	sb := c.ps
	if cmd.name == "reset" {
		sb.unsubscribeAll(nil, false)
		sb.unsubscribeAll(nil, true)
		return true
	}
	if c.w.resp3 || sb.count() == 0 {
		return true
	}
	if !subscribedAllowed(cmd.name) {
		c.settle()
		c.rejectStat(cmd)
		c.w.errorText(subscribedError(cmd, args))
		c.abortMulti()
		return false
	}
	if cmd.name == "ping" && len(args) <= 2 {
		c.w.array(2)
		c.w.bulk("pong")
		if len(args) == 2 {
			c.w.bulkBytes(args[1])
		} else {
			c.w.bulk("")
		}
		return false
	}
	return true
}

// warmReads brings the keys of the reads the client pipelined, first
// among them, into the CPU cache before any of them runs, so that their
// cache misses overlap instead of coming one read at a time
// (shard.Store.Warm). With a million keys this took GET -P 16 from
// 1.9-2.2 to 1.5-1.8 us of server CPU per command. Only keys of groups
// whose reads this node serves are looked at.
func (c *client) warmReads(first [][]byte) {
	if !c.rd.buffered() || !c.authed || c.multi != nil {
		return
	}
	keys, members := c.warmKeys[:0], c.warmMembers[:0]
	if len(first) >= 2 {
		if at := c.warmable(first[0], len(first)); at == 0 {
			keys, members = append(keys, first[1]), append(members, nil)
		} else if at > 0 {
			keys, members = append(keys, first[1]), append(members, first[at])
		}
	}
	keys, members = c.rd.peekKeys(keys, members, warmMax, c.warmable)
	if len(keys) >= warmMin {
		us := c.s.units()
		if len(us) == 1 {
			if c.servesReads(us[0]) {
				us[0].store.WarmMembers(keys, members)
			}
		} else {
			c.warmSharded(keys, members)
		}
	}
	clear(keys)
	clear(members)
	c.warmKeys, c.warmMembers = keys[:0], members[:0]
}

// Pipelines of fewer reads than warmMin are run as they come; warmMax is
// the most keys warmed at once (shard.Store.Warm's limit).
const warmMin, warmMax = 4, 32

// warmArg names the argument of a command that warmReads looks up in its
// key's set, sorted set or hash: at (0: none), for calls of nargs
// arguments (0: any number).
type warmArg struct{ at, nargs int }

// warmArgs are the commands whose member or field is warmed with their
// key: reads, and the writes a leader may answer from memory when they
// change nothing (SADD of a member already there...) or that look the
// member up first anyway.
var warmArgs = map[string]warmArg{
	"sismember": {2, 0}, "smismember": {2, 0}, "sadd": {2, 0}, "srem": {2, 0},
	"zscore": {2, 0}, "zmscore": {2, 0}, "zrank": {2, 0}, "zrevrank": {2, 0},
	"zadd": {3, 4}, "zincrby": {3, 4}, "zrem": {2, 0},
	"hget": {2, 0}, "hmget": {2, 0}, "hexists": {2, 0}, "hstrlen": {2, 0},
	"hset": {2, 0}, "hsetnx": {2, 0}, "hincrby": {2, 0}, "hdel": {2, 0},
}

// warmable tells warmReads (and reader.peekKeys) what to warm of a
// command named name with nargs arguments (its name included) whose
// first key is its first argument: -1 nothing (stop there), 0 its key,
// or the index of the argument to look up in the key's value too. Reads
// are warmed, and writes that have such an argument.
func (c *client) warmable(name []byte, nargs int) int {
	cmd := c.lookup(name)
	if cmd == nil || cmd.first != 1 || !cmd.arityOK(nargs) {
		return -1
	}
	if w := cmd.warm; w.at > 0 && w.at < nargs && (w.nargs == 0 || w.nargs == nargs) {
		return w.at
	}
	if cmd.has(flagReadonly) {
		return 0
	}
	return -1
}

// servesReads reports whether u's reads run on this node's store: a
// standalone server, the group's leader, or a READONLY connection to a
// replica. Other reads are forwarded, so warming their keys is wasted.
func (c *client) servesReads(u *unit) bool {
	return u.store != nil && (u.group == nil || c.readonly || u.group.IsLeader())
}

// warmSharded is warmReads' pass over several shard groups: the keys of
// each group this node serves reads for (with their members), one
// WarmMembers per group.
func (c *client) warmSharded(keys, members [][]byte) {
	var byUnit [warmMax]*unit
	for i, k := range keys {
		byUnit[i] = c.s.unitOfKey(k)
	}
	var batch, batchM [warmMax][]byte
	for i, u := range byUnit[:len(keys)] {
		if u == nil || !c.servesReads(u) {
			continue
		}
		n := 0
		for j := i; j < len(keys); j++ {
			if byUnit[j] == u {
				batch[n], batchM[n] = keys[j], members[j]
				n++
				byUnit[j] = nil
			}
		}
		u.store.WarmMembers(batch[:n], batchM[:n])
	}
}
