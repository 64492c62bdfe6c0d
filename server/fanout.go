package server

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
)

// Fan-out: with cluster mode off a sharded node is still one endpoint.
// The multi-key commands Redis Cluster refuses across slots (MGET, MSET,
// DEL, UNLINK, EXISTS, TOUCH) are split by shard group, each part runs in
// its group (here or forwarded to the group's leader) and the replies are
// merged; the keyspace commands (SCAN, KEYS, DBSIZE, FLUSHALL, FLUSHDB,
// RANDOMKEY) run in every group. A command whose keys all live in one
// group runs as usual. Parts run one after the other, so a fanned-out
// MSET is atomic per group, not as a whole (the one difference a client
// may see). Other commands whose keys span groups are refused: they need
// one log entry in one group (errGroupsSpan).

// fanKind says how a command is fanned out.
type fanKind uint8

const (
	fanNone fanKind = iota
	fanSum          // DEL, UNLINK, EXISTS, TOUCH: keys split, integer replies added
	fanMGet         // MGET: keys split, values put back in request order
	fanMSet         // MSET: pairs split, +OK unless a part failed
	fanAll          // DBSIZE (added), KEYS (joined), FLUSHALL/FLUSHDB (+OK)
	fanRand         // RANDOMKEY: the groups in random order until one has a key
	fanScan         // SCAN: the cursor carries the group (scanCursor)
)

// fanKinds are the fanned-out commands.
var fanKinds = map[string]fanKind{
	"del": fanSum, "unlink": fanSum, "exists": fanSum, "touch": fanSum,
	"mget": fanMGet, "mset": fanMSet,
	"dbsize": fanAll, "keys": fanAll, "flushall": fanAll, "flushdb": fanAll,
	"randomkey": fanRand, "scan": fanScan,
}

// errGroupsSpan answers a multi-key command, other than the fanned-out
// ones, whose keys are held by different shard groups.
const errGroupsSpan = "CROSSSLOT Keys in request don't hash to the same shard group (keep them in one with a {hash tag})"

// keyUnits returns the distinct groups of cmd's keys, in first-seen order.
func (c *client) keyUnits(cmd *command, args [][]byte) []*unit {
	var us []*unit
	forKeys(cmd, args, func(k []byte) {
		u := c.s.unitOfKey(k)
		for _, x := range us {
			if x == u {
				return
			}
		}
		us = append(us, u)
	})
	return us
}

// routeGroups handles, on a sharded node, a data command that does not
// fit in one group: it fans it out, or refuses it. It returns false when
// the command runs as usual in its group (c.u).
func (c *client) routeGroups(cmd *command, args [][]byte) bool {
	kind := cmd.fan
	if c.s.clusterOn() {
		// Redis Cluster semantics: keyed commands were routed to one slot
		// by clusterRoute; keyless ones act on the groups this node leads.
		if cmd.first > 0 || kind == fanNone {
			return false
		}
	} else if cmd.first > 0 {
		if len(c.keyUnits(cmd, args)) < 2 {
			return false
		}
		if kind == fanNone {
			c.settle()
			c.w.errorText(errGroupsSpan)
			return true
		}
	} else if kind == fanNone {
		return false
	}
	// Parse errors are answered once, as the whole command's.
	if _, err := cmd.parse(c, args, c.now()); err != nil {
		var late *errIfFound
		if !errors.As(err, &late) {
			c.settle()
			c.w.err(err)
			return true
		}
	}
	if err := c.s.checkOOM(cmd); err != nil {
		c.settle()
		c.w.err(err)
		return true
	}
	c.fanOut(cmd, args, kind)
	return true
}

// fanUnits is where a keyless command runs: every group, or in cluster
// mode the groups this node leads (those it holds, for a node leading
// none: it answers as a replica).
func (c *client) fanUnits() []*unit {
	if c.s.clusterOn() {
		if led := c.s.ledUnits(); len(led) > 0 {
			return led
		}
		if local := c.s.local(); len(local) > 0 {
			return local
		}
	}
	return c.s.units()
}

// runPart runs cmd with args in the current group (c.u), here or at the
// group's leader.
func (c *client) runPart(cmd *command, args [][]byte) {
	if !c.routeRemote(cmd, args) {
		c.execData(cmd, args)
	}
}

// fanOut runs the parts and writes the merged reply.
func (c *client) fanOut(cmd *command, args [][]byte, kind fanKind) {
	switch kind {
	case fanSum, fanMGet, fanMSet:
		c.fanKeys(cmd, args, kind)
	case fanAll:
		us := c.fanUnits()
		replies := c.eachUnit(us, func() { c.runPart(cmd, args) })
		c.mergeAll(cmd, replies)
	case fanRand:
		us := append([]*unit(nil), c.fanUnits()...)
		rand.Shuffle(len(us), func(i, j int) { us[i], us[j] = us[j], us[i] })
		for _, u := range us {
			r := c.eachUnit([]*unit{u}, func() { c.runPart(cmd, args) })[0]
			if len(r) > 0 && (r[0] == '-' || r[0] == '$' && !bytes.HasPrefix(r, []byte("$-1"))) {
				c.w.b = append(c.w.b, r...)
				return
			}
		}
		c.w.b = append(c.w.b, c.nullReply()...)
	case fanScan:
		c.fanScan(cmd, args)
	}
}

// nullReply is the null bulk string in the connection's protocol.
func (c *client) nullReply() []byte {
	if c.w.resp3 {
		return []byte("_\r\n")
	}
	return []byte("$-1\r\n")
}

// fanKeys splits a keyed command by group, runs each part and merges.
func (c *client) fanKeys(cmd *command, args [][]byte, kind fanKind) {
	step := 1
	if kind == fanMSet {
		step = 2
	}
	var us []*unit
	var parts [][][]byte
	var index [][]int // for MGET: the request position of each part's keys
	for i := 1; i+step-1 < len(args); i += step {
		u := c.s.unitOfKey(args[i])
		p := -1
		for j, x := range us {
			if x == u {
				p = j
			}
		}
		if p < 0 {
			us = append(us, u)
			parts = append(parts, [][]byte{args[0]})
			index = append(index, nil)
			p = len(us) - 1
		}
		parts[p] = append(parts[p], args[i:i+step]...)
		index[p] = append(index[p], (i-1)/step)
	}
	var n int
	replies := c.eachUnit(us, func() {
		c.runPart(cmd, parts[n])
		n++
	})
	for _, r := range replies {
		if len(r) > 0 && r[0] == '-' {
			c.w.b = append(c.w.b, r...)
			return
		}
	}
	switch kind {
	case fanSum:
		var sum int64
		for _, r := range replies {
			v, _ := replyInt(r)
			sum += v
		}
		c.w.int(sum)
	case fanMSet:
		c.w.ok()
	case fanMGet:
		vals := make([][]byte, (len(args)-1)/step)
		for p, r := range replies {
			elems, ok := replyElems(r)
			if !ok || len(elems) != len(index[p]) {
				c.w.errorText("ERR sessiond: malformed reply from a shard group")
				return
			}
			for j, e := range elems {
				vals[index[p][j]] = e
			}
		}
		c.w.array(len(vals))
		for _, v := range vals {
			c.w.b = append(c.w.b, v...)
		}
	}
}

// mergeAll merges the replies of a keyless command run in every group.
func (c *client) mergeAll(cmd *command, replies [][]byte) {
	for _, r := range replies {
		if len(r) > 0 && r[0] == '-' {
			c.w.b = append(c.w.b, r...)
			return
		}
	}
	switch cmd.name {
	case "dbsize":
		var sum int64
		for _, r := range replies {
			v, _ := replyInt(r)
			sum += v
		}
		c.w.int(sum)
	case "keys":
		var all [][]byte
		for _, r := range replies {
			elems, _ := replyElems(r)
			all = append(all, elems...)
		}
		c.w.array(len(all))
		for _, e := range all {
			c.w.b = append(c.w.b, e...)
		}
	default: // FLUSHALL, FLUSHDB
		c.w.ok()
	}
}

// SCAN over groups: the cursor's low scanGroupBits bits name the group,
// the others are the group's own cursor (a key hash to resume at) with its
// low bits cleared. Resuming a little before where the group stopped may
// return some keys twice, which SCAN allows; it never skips one.
const scanGroupBits = 6 // MaxShards = 1 << scanGroupBits

// fanScan answers SCAN cursor [options] on a sharded node.
func (c *client) fanScan(cmd *command, args [][]byte) {
	cursor, _ := parseCursor(args[1]) // parse checked it
	us := c.fanUnits()
	gi := int(cursor & (1<<scanGroupBits - 1))
	inner := cursor &^ (1<<scanGroupBits - 1)
	if gi >= len(us) {
		c.w.array(2)
		c.w.bulk("0")
		c.w.array(0)
		return
	}
	sub := append([][]byte{args[0], []byte(strconv.FormatUint(inner, 10))}, args[2:]...)
	r := c.eachUnit(us[gi:gi+1], func() { c.runPart(cmd, sub) })[0]
	if len(r) > 0 && r[0] == '-' {
		c.w.b = append(c.w.b, r...)
		return
	}
	elems, ok := replyElems(r)
	var next uint64
	var err error
	if ok && len(elems) == 2 {
		next, err = strconv.ParseUint(string(replyBulk(elems[0])), 10, 64)
	}
	if !ok || len(elems) != 2 || err != nil {
		c.w.errorText("ERR sessiond: malformed reply from a shard group")
		return
	}
	var out uint64
	switch {
	case next == 0 && gi+1 < len(us):
		out = uint64(gi + 1) // the next group, from its start
	case next == 0:
		out = 0
	default:
		n := next &^ (1<<scanGroupBits - 1)
		if n <= inner {
			n = inner + 1<<scanGroupBits // always move on
		}
		out = n | uint64(gi)
	}
	c.w.array(2)
	c.w.bulk(strconv.FormatUint(out, 10))
	c.w.b = append(c.w.b, elems[1]...)
}

// replyInt reads an integer reply.
func replyInt(r []byte) (int64, bool) {
	if len(r) < 3 || r[0] != ':' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(r[1:])), 10, 64)
	return v, err == nil
}

// replyElems splits an array (or set/push) reply into its elements' RESP
// bytes.
func replyElems(r []byte) ([][]byte, bool) {
	br := bufio.NewReader(bytes.NewReader(r))
	head, err := br.ReadSlice('\n')
	if err != nil || len(head) < 4 || (head[0] != '*' && head[0] != '~') {
		return nil, false
	}
	n, err := strconv.Atoi(string(head[1 : len(head)-2]))
	if err != nil || n < 0 {
		return nil, false
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		e, err := upstreamReadReply(br, nil)
		if err != nil {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}

// replyBulk returns a bulk or simple string reply's text.
func replyBulk(r []byte) []byte {
	if len(r) > 0 && r[0] == '+' {
		return bytes.TrimSuffix(r[1:], []byte("\r\n"))
	}
	if i := bytes.Index(r, []byte("\r\n")); i > 0 && r[0] == '$' {
		return bytes.TrimSuffix(r[i+2:], []byte("\r\n"))
	}
	return nil
}
