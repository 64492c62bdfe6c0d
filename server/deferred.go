package server

import "sessiond/shard"

// Deferred no-op writes.
//
// A pipeline of SADDs (or ZADDs) to one key, most of whose members are
// there already, is the shape of a session index under load: one real
// add, then no-ops. The no-ops behind the in-flight add cannot be answered
// from the store at once (the add is not applied yet: a DEL from another
// connection ordered between them would make replies no order gives), and
// sending each to the log as a write costs a log entry's share and an
// apply on every replica. Instead such a write is held back in the
// connection's in-flight list, with its arguments copied, and settle
// decides it in its place, once every write before it is applied: if it
// still changes nothing it is answered from the store there and then
// (its point in the order of commands), else it goes to the log.
//
// That point must come before any later write of the connection: a
// write first sends every deferred write to the log, in order
// (submitDeferred), so the log keeps the connection's writes in the
// order it sent them. (Reads of other keys may still overtake in-flight
// writes, as before: readCanPass.) A pipeline of SADDs to one index
// thus logs its real adds and the no-ops between them, but not the
// no-ops after the last add, where most of them are once the index is
// full.

// deferredWrite is a write held back: its arguments, copied out of the
// connection's read buffer, and the clock it was parsed with. It is
// parsed again when it is decided.
type deferredWrite struct {
	args [][]byte
	now  int64
}

// deferUnchanged holds back the write in c.op (cmd, args), whose key
// (hash h) one of the connection's in-flight writes names, when it
// changes nothing now and so will most likely change nothing once they
// are applied. It reports whether it did; the caller then has nothing
// left to do.
func (c *client) deferUnchanged(cmd *command, args [][]byte, h uint64) bool {
	if _, ok := c.u.store.Unchanged(&c.op); !ok {
		return false
	}
	c.inflight = append(c.inflight, inflight{cmd: cmd, u: c.u, def: &deferredWrite{args: detached(args), now: c.op.Now}})
	c.inflightKeys = append(c.inflightKeys, h)
	c.deferred++
	return true
}

// copyArgs copies args into one allocation for all their bytes, n.
func copyArgs(args [][]byte) (out [][]byte, n int) {
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out = make([][]byte, len(args))
	for i, a := range args {
		start := len(buf)
		buf = append(buf, a...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out, n
}

// detached is copyArgs without the count.
func detached(args [][]byte) [][]byte {
	out, _ := copyArgs(args)
	return out
}

// op parses the deferred write again.
func (d *deferredWrite) op(c *client, cmd *command) (shard.Op, error) {
	op, err := cmd.parse(c, d.args, d.now)
	op.Now = d.now
	return op, err
}

// submitDeferred sends the deferred writes from c.inflight[from] on to
// the log, in order, where each then waits like any in-flight write. It
// stops at one that cannot be submitted (this node no longer leads its
// group), which stays deferred, and reports whether all went.
func (c *client) submitDeferred(from int) bool {
	for i := from; i < len(c.inflight); i++ {
		f := &c.inflight[i]
		if f.def == nil {
			continue
		}
		op, err := f.def.op(c, f.cmd)
		if err != nil {
			return false // it parsed when it was deferred: cannot happen
		}
		p, err := f.u.group.Submit(&op)
		if err != nil {
			return false
		}
		f.p, f.def = p, nil
		c.deferred--
	}
	return true
}

// resolveDeferred answers c.inflight[i], a deferred write, every write
// before it being applied (settle): from the store if it still changes
// nothing and this node may still answer reads of its key; else through
// the log, together with the deferred writes after it (one entry, not
// one round trip each); else, this node no longer leading the group,
// forwarded to its leader as execData would have.
func (c *client) resolveDeferred(i int) {
	f := &c.inflight[i]
	op, err := f.def.op(c, f.cmd)
	if err != nil {
		c.w.err(err)
		return
	}
	if f.u.group.LeaseReadOK() {
		if res, ok := f.u.store.Unchanged(&op); ok {
			c.w.resultOrLateError(f.cmd, res, nil)
			return
		}
	}
	c.submitDeferred(i)
	if f.def == nil {
		res, err := f.p.Wait()
		if err != nil {
			c.replicationError(err)
			return
		}
		c.wrote(f.u)
		c.w.resultOrLateError(f.cmd, res, nil)
		return
	}
	c.deferred--
	saved := c.u
	c.u = f.u
	defer func() { c.u = saved }()
	args := f.def.args
	f.def = nil
	c.forwardNow(args, true, func() { c.execData(f.cmd, args) })
}
