package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/shard"
)

// CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE, as Redis: for the
// timeout (milliseconds) this node runs no command of any client (ALL),
// or no write, script or PUBLISH (WRITE); a client sending one waits,
// its earlier replies written, until the pause ends. Used to let
// replicas catch up before a switch-over. A node pauses only its own
// clients (and the commands other nodes forward to it); CLIENT PAUSE and
// CLIENT UNPAUSE themselves are never held, so an ALL pause can be ended
// early.

// pauseState is the node's current pause. paused is read without the
// lock on every command.
type pauseState struct {
	paused atomic.Bool
	mu     sync.Mutex
	until  time.Time     // zero: not paused
	all    bool          // ALL; else WRITE
	end    chan struct{} // closed when this pause ends early or is replaced
}

// pausedFor reports whether a command (write: one WRITE pauses) must
// wait now, and if so until when and the channel that is closed if the
// pause changes first.
func (p *pauseState) pausedFor(write bool, now time.Time) (time.Time, <-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.until.IsZero() && !now.Before(p.until) {
		p.until, p.all = time.Time{}, false // over: the fast path again
		p.paused.Store(false)
	}
	if p.until.IsZero() || !p.all && !write {
		return time.Time{}, nil, false
	}
	return p.until, p.end, true
}

// set starts a pause until the given time (Redis keeps the later of two
// pauses' ends, and ALL over WRITE while both run); a zero until ends it.
func (p *pauseState) set(until time.Time, all bool, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	running := !p.until.IsZero() && now.Before(p.until)
	if p.end != nil {
		close(p.end) // waiters look again
	}
	p.end = make(chan struct{})
	p.paused.Store(!until.IsZero())
	switch {
	case until.IsZero():
		p.until, p.all = time.Time{}, false
	case running:
		if until.After(p.until) {
			p.until = until
		}
		p.all = p.all || all
	default:
		p.until, p.all = until, all
	}
}

// pausable reports whether cmd (args) waits out a WRITE pause: writes,
// scripts, PUBLISH, and EXEC of a transaction that writes, as Redis's
// "may replicate" commands.
func (c *client) pausable(cmd *command) bool {
	if cmd.has(flagWrite) || cmd.name == "publish" {
		return true
	}
	if cmd.name == "exec" && c.multi != nil {
		for _, q := range c.multi.queued {
			if qc := c.lookup(q[0]); qc != nil && (qc.has(flagWrite) || qc.name == "publish") {
				return true
			}
		}
	}
	return false
}

// waitPause holds cmd while the node is paused for it (see pauseState),
// after writing the replies before it. It reports false if the
// connection must end (its write failed, or the server stops).
func (c *client) waitPause(cmd *command, args [][]byte) bool {
	if cmd.name == "client" && len(args) > 1 && (eq(args[1], "pause") || eq(args[1], "unpause")) ||
		cmd.name == "replconf" || strings.HasPrefix(cmd.name, "sessiond-") && cmd.name != "sessiond-in" && cmd.name != "sessiond-exec" {
		// Nodes' own traffic (follower links, the directory, moves, the
		// pub/sub relay) goes on, as Redis never pauses its replicas;
		// clients' writes forwarded by other nodes wait.
		return true
	}
	write := c.pausable(cmd)
	since := c.s.sinceEpoch()
	defer func() { c.waited += c.s.sinceEpoch() - since }() // no command's time (SLOWLOG, commandstats)
	for {
		until, changed, paused := c.s.pause.pausedFor(write, time.Now())
		if !paused {
			return true
		}
		c.settle()
		if !c.flush() {
			return false
		}
		c.replyMark = 0
		t := time.NewTimer(time.Until(until))
		select {
		case <-t.C:
		case <-changed:
		case <-c.s.ctx.Done():
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// cmdClientPause is CLIENT PAUSE timeout [WRITE|ALL].
func cmdClientPause(c *client, args [][]byte) {
	if len(args) > 4 {
		c.w.errorText("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try CLIENT HELP.")
		return
	}
	ms, ok := c.timeoutMS(args[2])
	if !ok {
		return
	}
	all := true
	if len(args) == 4 {
		switch {
		case eq(args[3], "write"):
			all = false
		case eq(args[3], "all"):
		default:
			c.w.errorText("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	}
	now := time.Now()
	c.s.pause.set(now.Add(time.Duration(min(ms, int64(365*24*time.Hour/time.Millisecond)))*time.Millisecond), all, now)
	c.w.ok()
}

// cmdClientUnpause is CLIENT UNPAUSE.
func cmdClientUnpause(c *client, _ [][]byte) {
	c.s.pause.set(time.Time{}, false, time.Now())
	c.w.ok()
}

// timeoutMS parses a timeout in milliseconds (WAIT, CLIENT PAUSE); when
// it is not a non-negative integer it answers Redis's error and returns
// false.
func (c *client) timeoutMS(arg []byte) (int64, bool) {
	ms, ok := shard.ParseInt(arg)
	switch {
	case !ok:
		c.w.errorText("ERR timeout is not an integer or out of range")
	case ms < 0:
		c.w.errorText("ERR timeout is negative")
	}
	return ms, ok && ms >= 0
}
