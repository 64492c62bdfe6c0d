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
// That point must come before any later write of the connection to the
// same key: a write that names a deferred key (or no key, or runs a
// script) first sends every deferred write to the log, in order
// (submitDeferred). Writes to other keys may overtake a deferred write,
// as reads of other keys overtake in-flight writes (readCanPass).

// deferUnchanged holds back the write in c.op, whose key (hash h) one of
// the connection's in-flight writes names, when it changes nothing now
// and so will most likely change nothing once they are applied. It
// reports whether it did; the caller then has nothing left to do.
func (c *client) deferUnchanged(cmd *command, h uint64) bool {
	if _, ok := c.u.store.Unchanged(&c.op); !ok {
		return false
	}
	c.inflight = append(c.inflight, inflight{cmd: cmd, u: c.u, def: detachOp(&c.op)})
	c.inflightKeys = append(c.inflightKeys, h)
	c.deferKeys = append(c.deferKeys, h)
	return true
}

// detachOp returns a copy of op whose key and arguments no longer alias
// the connection's read buffer (one allocation for all their bytes).
func detachOp(op *shard.Op) *shard.Op {
	n := len(op.Key)
	for _, a := range op.Args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	cp := *op
	buf = append(buf, op.Key...)
	cp.Key = buf[:len(buf):len(buf)]
	cp.Args = make([][]byte, len(op.Args))
	for i, a := range op.Args {
		start := len(buf)
		buf = append(buf, a...)
		cp.Args[i] = buf[start:len(buf):len(buf)]
	}
	return &cp
}

// deferredClash reports whether the write cmd (args, of kind k) must not
// overtake the connection's deferred writes: it names one of their keys,
// names no key, or runs a script, which may write any key.
func (c *client) deferredClash(cmd *command, args [][]byte, k shard.Kind) bool {
	if cmd.first <= 0 || k == shard.KindEval {
		return true
	}
	clash := false
	forKeys(cmd, args, func(key []byte) {
		if !clash {
			h := c.keyHash(key)
			for _, d := range c.deferKeys {
				if d == h {
					clash = true
					break
				}
			}
		}
	})
	return clash
}

// submitDeferred sends every deferred write to the log, in order, where
// it then waits like any in-flight write. It reports false if one could
// not be submitted (this node lost the group's leadership): the caller
// must settle before it writes anything else.
func (c *client) submitDeferred() bool {
	for i := range c.inflight {
		f := &c.inflight[i]
		if f.def == nil {
			continue
		}
		p, err := f.u.group.Submit(f.def)
		if err != nil {
			return false
		}
		f.p, f.def = p, nil
	}
	c.deferKeys = c.deferKeys[:0]
	return true
}

// resolveDeferred answers the deferred write f, every write before it
// being applied (settle): from the store if it still changes nothing and
// this node may still answer reads of its key, else through the log.
func (c *client) resolveDeferred(f *inflight) {
	g := f.u.group
	if g.LeaseReadOK() {
		if res, ok := f.u.store.Unchanged(f.def); ok {
			c.w.resultOrLateError(f.cmd, res, nil)
			return
		}
	}
	p, err := g.Submit(f.def)
	var res shard.Result
	if err == nil {
		res, err = p.Wait()
	}
	if err != nil {
		c.replicationError(err)
		return
	}
	c.wrote(f.u)
	c.w.resultOrLateError(f.cmd, res, nil)
}
