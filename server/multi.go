package server

import (
	"errors"
	"fmt"
	"strings"

	"sessiond/shard"
)

func cmdMulti(c *client, _ [][]byte) {
	if c.multi != nil {
		c.w.errorText("ERR MULTI calls can not be nested")
		return
	}
	c.multi = &multiState{}
	c.info.multiLen.Store(0)
	c.w.ok()
}

func cmdDiscard(c *client, _ [][]byte) {
	if c.multi == nil {
		c.w.errorText("ERR DISCARD without MULTI")
		return
	}
	c.endMulti()
	c.w.ok()
}

func (c *client) endMulti() {
	c.multi = nil
	c.watches = nil
	c.info.multiLen.Store(-1)
}

func cmdWatch(c *client, args [][]byte) {
	if c.multi != nil {
		c.w.errorText("ERR WATCH inside MULTI is not allowed")
		return
	}
	for _, k := range args[1:] {
		dup := false
		for _, w := range c.watches {
			if string(w.Key) == string(k) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		// The key's version comes from its group's leader, where EXEC
		// will compare it: a follower's replica may not have applied the
		// latest writes yet, this connection's own included, and a stale
		// version would abort the transaction for nothing.
		u := c.s.unitOfKey(k)
		if !u.remote && (u.group == nil || u.group.IsLeader()) {
			c.watches = append(c.watches, u.store.WatchKey(k))
			continue
		}
		w, ok := c.remoteWatch(u, k)
		if !ok {
			return
		}
		c.watches = append(c.watches, w)
	}
	c.w.ok()
}

// remoteWatch takes the version of key, of group u which another node
// leads, from u's leader (SESSIOND-WATCHKEY). On failure it answers the
// error and returns false.
func (c *client) remoteWatch(u *unit, key []byte) (shard.Watch, bool) {
	saved := c.u
	c.u = u
	mark := len(c.w.b)
	c.forward([][]byte{[]byte("sessiond-watchkey"), key}, false, func() { c.w.errorText(errClusterDown) })
	c.u = saved
	reply := string(c.w.b[mark:])
	var w shard.Watch
	var exp int
	if _, err := fmt.Sscanf(reply, "+%d %d %d\r\n", &w.Version, &w.Seq, &exp); err != nil || !strings.HasSuffix(reply, "\r\n") {
		if !strings.HasPrefix(reply, "-") {
			c.w.b = c.w.b[:mark]
			c.w.errorText("ERR sessiond: bad answer to WATCH from the key's group leader")
		}
		return w, false
	}
	c.w.b = c.w.b[:mark]
	w.Key = append([]byte(nil), key...)
	w.Expired = exp == 1
	return w, true
}

// cmdSessiondWatchKey is SESSIOND-WATCHKEY key: the key's version as
// WATCH takes it, for a node that does not lead its group (remoteWatch):
// "+version seq expired".
func cmdSessiondWatchKey(c *client, args [][]byte) {
	u := c.s.unitOfKey(args[1])
	if u.remote {
		c.w.errorText("ERR sessiond: the key's shard group is not held by this node")
		return
	}
	if g := u.group; g != nil && !g.IsLeader() && c.fwdConn {
		c.w.errorText(errNotLeaderForwarded) // the asking node looks for the leader again
		return
	}
	w := u.store.WatchKey(args[1])
	exp := 0
	if w.Expired {
		exp = 1
	}
	c.w.simple(fmt.Sprintf("%d %d %d", w.Version, w.Seq, exp))
}

func cmdUnwatch(c *client, _ [][]byte) {
	c.watches = nil
	c.w.ok()
}

// containerArities are the subcommands (with Redis's arities) of the
// containers whose subcommands the container's own run function tells
// apart; serverSubcommands has the others (CONFIG, CLIENT, CLUSTER,
// COMMAND). As Redis 7's command table, so that MULTI refuses the same
// subcommands when it queues them.
var containerArities = map[string]map[string]int{
	"object":  {"encoding": 3, "freq": 3, "idletime": 3, "refcount": 3, "help": 2},
	"memory":  {"doctor": 2, "malloc-stats": 2, "purge": 2, "stats": 2, "usage": -3, "help": 2},
	"script":  {"debug": 3, "exists": -3, "flush": -2, "kill": 2, "load": 3, "help": 2},
	"pubsub":  {"channels": -2, "numpat": 2, "numsub": -2, "shardchannels": -2, "shardnumsub": -2, "help": 2},
	"latency": {"doctor": 2, "graph": 3, "histogram": -2, "history": 3, "latest": 2, "reset": -2, "help": 2},
	"slowlog": {"get": -2, "len": 2, "reset": 2, "help": 2},
}

// subcommandError returns the error Redis answers, instead of QUEUED,
// for a container's unknown subcommand or a subcommand's wrong number of
// arguments, or "". It clears c.stat for an unknown one (which counts
// for no command) and counts a rejected call of a known one.
func (c *client) subcommandError(cmd *command, args [][]byte) string {
	if len(args) < 2 {
		return ""
	}
	name := cmd.name + "|" + strings.ToLower(string(args[1]))
	var sub *command
	if arities, ok := containerArities[cmd.name]; ok {
		if a, ok := arities[name[len(cmd.name)+1:]]; ok {
			sub = &command{name: name, arity: a}
		}
	} else if cmd.subs != nil {
		for _, sc := range cmd.subs {
			if sc.name == name {
				sub = sc
			}
		}
	} else {
		return ""
	}
	switch {
	case sub == nil:
		c.stat = nil
		typed := args[1]
		if len(typed) > 128 {
			typed = typed[:128]
		}
		return "ERR unknown subcommand '" + string(typed) + "'. Try " + strings.ToUpper(string(args[0])) + " HELP."
	case !sub.arityOK(len(args)):
		c.rejectStat(sub)
		return "ERR wrong number of arguments for '" + sub.name + "' command"
	}
	return ""
}

// queuedCmd is one command of an EXEC with its parse outcome.
type queuedCmd struct {
	cmd  *command
	stat *command // whose commandstats count it (cmd, or the container of a keyed subcommand)
	args [][]byte
	err  error       // parse error: answered in place, the rest still runs
	late *errIfFound // error to answer if the (read) sub-op finds a value
	sub  int         // index in the Multi op's Subs, or -1
}

// cmdExec runs the queued commands. Data commands become one KindMulti op,
// applied atomically (one replication log entry); the others (PING,
// INFO...) run in their place in the reply.
func cmdExec(c *client, _ [][]byte) {
	if c.multi == nil {
		c.w.errorText("ERR EXEC without MULTI")
		return
	}
	m := c.multi
	watches := c.watches
	c.endMulti()
	if m.dirty {
		c.w.errorText("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	for _, a := range m.queued {
		if cmd := c.lookup(a[0]); cmd != nil {
			if err := c.s.checkOOM(cmd); err != nil {
				c.w.errorText("EXECABORT Transaction discarded because of: " + err.Error())
				return
			}
		}
	}
	now := c.now()
	cmds := make([]queuedCmd, len(m.queued))
	op := shard.Op{Kind: shard.KindMulti, Now: now, Watch: watches}
	for i, args := range m.queued {
		q := queuedCmd{cmd: c.lookup(args[0]), args: args, sub: -1}
		q.stat = q.cmd
		if q.cmd.keyed != nil {
			switch sc, err := q.cmd.keyed(c, args); {
			case err != nil:
				q.err = err
			case sc != nil:
				q.cmd = sc // OBJECT ENCODING...: read in its place
			}
		}
		if q.err == nil && q.cmd.parse != nil {
			sub, err := q.cmd.parse(c, args, now)
			if err != nil && !errors.As(err, &q.late) {
				q.err = err
			} else {
				sub.Now = now
				q.sub = len(op.Subs)
				op.Subs = append(op.Subs, sub)
			}
		}
		cmds[i] = q
	}
	u, ok := c.execUnit(cmds, watches)
	if !ok {
		c.w.errorText(errExecGroups)
		return
	}
	c.u = u
	if u.remote && (len(op.Subs) > 0 || len(op.Watch) > 0) {
		// Held by other nodes: the group's leader parses and runs it all.
		c.forwardExec(m.queued, watches)
		return
	}
	if g := u.group; g != nil && !g.IsLeader() && (len(op.Subs) > 0 || len(op.Watch) > 0) {
		c.forwardExec(m.queued, watches)
		return
	}
	var res shard.Result
	if len(op.Subs) > 0 || len(op.Watch) > 0 {
		var err error
		res, err = u.applier.Apply(c.s.ctx, &op)
		if err != nil {
			c.replicationError(err)
			return
		}
		c.wrote(u)
		if res.Kind == shard.RNilList {
			c.w.nullArray()
			return
		}
	}
	c.w.array(len(cmds))
	exec := c.stat
	track := c.s.config().LatencyTracking == "yes"
	for _, q := range cmds {
		mark := len(c.w.b)
		start := c.s.sinceEpoch()
		c.stat = q.stat // runSubcommand may put the subcommand instead, or nil
		switch {
		case q.err != nil:
			c.w.err(q.err)
		case q.sub >= 0:
			c.w.resultOrLateError(q.cmd, res.Subs[q.sub], q.late)
		default:
			q.cmd.run(c, q.args)
		}
		// Each command EXEC ran counts in commandstats (with its time
		// here: the entry is applied already) and latencystats, and its
		// error reply in errorstats and total_error_replies, as in Redis.
		if c.stat != nil {
			c.stat.countCall(int64(c.s.sinceEpoch()-start), track)
		}
		c.countReply(c.stat, c.w.b[mark:])
	}
	c.stat = exec
}

// errExecGroups answers an EXEC whose keys (queued or WATCHed) are held by
// different shard groups: a transaction is one entry in one group's log.
const errExecGroups = "EXECABORT Transaction discarded because of: sessiond: keys of the transaction are in different shard groups (keep them in one with a {hash tag})"

// execUnit returns the shard group a transaction runs in: the one holding
// every key its data commands and WATCH name. ok is false when they span
// groups.
func (c *client) execUnit(cmds []queuedCmd, watches []shard.Watch) (u *unit, ok bool) {
	if !c.s.sharded() {
		return c.s.units()[0], true
	}
	ok = true
	see := func(k []byte) {
		switch ku := c.s.unitOfKey(k); {
		case u == nil:
			u = ku
		case ku != u:
			ok = false
		}
	}
	for _, w := range watches {
		see(w.Key)
	}
	for _, q := range cmds {
		if q.cmd != nil && q.cmd.parse != nil {
			if q.cmd.first <= 0 && !c.s.clusterOn() {
				ok = false // FLUSHALL, DBSIZE...: every group
			}
			forKeys(q.cmd, q.args, see)
		}
	}
	if u == nil {
		u = c.s.units()[0]
	}
	return u, ok
}
