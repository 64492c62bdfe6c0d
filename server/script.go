package server

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"sessiond/replication"
	"sessiond/script"
	"sessiond/shard"
)

// Scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT).
//
// EVAL and EVALSHA are parsed on the node that runs them into one
// shard.KindEval op carrying the script's body (EVALSHA looks the body up
// in this node's cache), its keys and arguments, a random seed and the
// size limits: one Raft entry. Every replica's Apply runs it through the
// scriptRunner initScripts installed on the store: each redis.call is
// looked up in the command table, checked (arity, noscript, writes in a
// read-only script), parsed into an op by the command's own parse
// function with a scripting client (whose c.rand draws from the op's
// seed, so SPOP, SRANDMEMBER, RANDOMKEY, HRANDFIELD parse alike on every
// replica), run in the same Apply (ScriptTx.Exec), and its Result written
// with the command's reply function, RESP2 or RESP3, before the script
// package turns those bytes into Lua values. EVAL_RO and EVALSHA_RO are
// KindEvalRO, a read, run by Store.Read on the node (a follower too, for
// READONLY connections). EVAL is a write even when the script only
// reads: it goes through the log.
//
// Every node keeps its own script cache: EVAL and SCRIPT LOAD (an op,
// KindScriptLoad, replicated through the first group's log) add to it on
// every replica as they are applied, so EVALSHA works on any node and
// after a leader change. SCRIPT FLUSH empties this node's cache only.
//
// Inside scripts, PING, ECHO and SELECT 0 run as usual; TIME answers the
// script's time (the leader's clock when it took the command, the same
// on every replica); the other commands that are not store ops (INFO,
// CONFIG, CLIENT...) are refused, as are those Redis flags noscript.

// Tags of the Result tree a script's reply is carried in (RMulti's Int):
// see scriptResult and replyScript.
const (
	tagArray int64 = iota
	tagMap
	tagSet
	tagError // Str: the whole error line, written as it is
	tagDouble
	tagBool // Str "1" or "0"
	tagBigNumber
	tagVerbatim // Str: text, Vals[0]: format
)

// scripts returns the server's script engine.
func (s *Server) scripts() *script.Engine { return s.scriptEng }

// initScripts sets up scripting for a new server (New calls it once the
// units exist): one engine (cache) per node, installed in every unit's
// store.
func (s *Server) initScripts() {
	e := script.New()
	s.scriptEng = e
	for _, u := range s.local() {
		u.store.SetScripts(&scriptRunner{s: s, u: u, eng: e})
	}
}

// scriptCommands returns the scripting commands for the command table.
func scriptCommands() []*command {
	// Redis's flags are noscript, stale (and skip_monitor,
	// no_mandatory_keys, movablekeys, which sessiond does not list). EVAL
	// and EVALSHA are also marked write here: they go through the log,
	// so the pipeline and follower routing treat them as writes.
	keys := func(args [][]byte) (int, int) {
		if len(args) < 3 {
			return 0, 0
		}
		n, ok := shard.ParseInt(args[2])
		if !ok || n <= 0 || n > int64(len(args)-3) {
			return 0, 0
		}
		return 3, 2 + int(n)
	}
	mk := func(name string, flags cmdFlag, p parseFunc) *command {
		c := dataCmd(def(name, -3, flags, noKeys, "@slow @scripting"), p, replyScript)
		c.first, c.last, c.step = 3, 3, 1
		c.keyRange = keys
		return c
	}
	sc := runCmd(def("script", -2, flagNoScript, noKeys, "@slow"), func(c *client, args [][]byte) { c.runSubcommand("script", args) })
	sub := func(name string, arity int, fn runFunc) *command {
		return runCmd(def("script|"+name, arity, flagNoScript, noKeys, "@slow @scripting"), fn)
	}
	sc.subs = []*command{
		sub("exists", -3, cmdScriptExists),
		sub("flush", -2, cmdScriptFlush),
		sub("help", 2, cmdScriptHelp),
		sub("kill", 2, func(c *client, _ [][]byte) { c.w.errorText("NOTBUSY No scripts in execution right now.") }),
		sub("load", 3, cmdScriptLoad),
	}
	return []*command{
		mk("eval", flagNoScript|flagStale|flagWrite, parseEval),
		mk("evalsha", flagNoScript|flagStale|flagWrite, parseEvalSHA),
		mk("eval_ro", flagNoScript|flagStale|flagReadonly, parseEvalRO),
		mk("evalsha_ro", flagNoScript|flagStale|flagReadonly, parseEvalSHARO),
		sc,
	}
}

// scriptDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var scriptDocLines = []string{
	"eval|scripting|2.6.0|Executes a server-side Lua script.",
	"evalsha|scripting|2.6.0|Executes a server-side Lua script by SHA1 digest.",
	"eval_ro|scripting|7.0.0|Executes a read-only server-side Lua script.",
	"evalsha_ro|scripting|7.0.0|Executes a read-only server-side Lua script by SHA1 digest.",
	"script|scripting|2.6.0|A container for Lua scripts management commands.",
}

var (
	errNoScript     = errors.New("NOSCRIPT No matching script. Please use EVAL.")
	errNegKeys      = errors.New("ERR Number of keys can't be negative")
	errTooManyKeys  = errors.New("ERR Number of keys can't be greater than number of args")
	errNotIntOrOver = errors.New("ERR value is not an integer or out of range")
	// Refusals of a script by its shebang flags.
	errScriptNoCluster = errors.New("ERR Can not run script on cluster, 'no-cluster' flag is set.")
	errScriptOOM       = errors.New("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
	errScriptWriteFlag = errors.New("ERR Can not execute a script with write flag using *_ro command.")
)

func parseEval(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return c.scriptOp(shard.KindEval, args, args[1])
}

func parseEvalRO(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return c.scriptOp(shard.KindEvalRO, args, args[1])
}

func parseEvalSHA(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return c.scriptOp(shard.KindEval, args, nil)
}

func parseEvalSHARO(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return c.scriptOp(shard.KindEvalRO, args, nil)
}

// scriptOp builds a script op: body, or (EVALSHA, body nil) the cached
// script args[1] names. Errors come in Redis's order: a SHA that is not
// 40 characters, the key count, compilation, an unknown SHA.
func (c *client) scriptOp(kind shard.Kind, args [][]byte, body []byte) (shard.Op, error) {
	if body == nil && len(args[1]) != 40 {
		return shard.Op{}, errNoScript
	}
	n, ok := shard.ParseInt(args[2])
	switch {
	case !ok:
		return shard.Op{}, errNotIntOrOver
	case n < 0:
		return shard.Op{}, errNegKeys
	case n > int64(len(args)-3):
		return shard.Op{}, errTooManyKeys
	}
	e := c.s.scripts()
	var sha []byte
	if body == nil {
		// The op names the script by its lower-case SHA: args[1] itself
		// when it is (the common case), else a lower-case copy.
		sha = args[1]
		if hasUpper(sha) {
			sha = bytes.ToLower(sha)
		}
		b, ok := e.Cached(sha)
		if !ok {
			return shard.Op{}, errNoScript
		}
		body = b
	} else {
		h, err := e.Load(body)
		if err != nil {
			return shard.Op{}, err
		}
		sha = []byte(h)
	}
	// A script with a shebang line runs as its flags say, checked in
	// Redis's order (scriptPrepareForRun).
	if fl := e.ScriptFlags(sha); fl&script.Shebang != 0 {
		switch {
		case fl&script.NoCluster != 0 && c.s.clusterOn():
			return shard.Op{}, errScriptNoCluster
		case fl&(script.NoWrites|script.AllowOOM) == 0 && c.s.checkMemory() != nil:
			return shard.Op{}, errScriptOOM
		case kind == shard.KindEvalRO && fl&script.NoWrites == 0:
			return shard.Op{}, errScriptWriteFlag
		case fl&script.NoWrites != 0:
			kind = shard.KindEvalRO // it cannot write: a read, not a log entry
		}
	}
	cfg := c.s.config()
	op := shard.Op{
		Kind:  kind,
		Key:   sha,
		Args:  append([][]byte{body}, args[3:]...),
		N:     n,
		At:    int64(c.rand()),
		Limit: cfg.ProtoMaxBulkLen,
		// The instruction budget: busy-reply-threshold's milliseconds
		// at the engine's rate (0: the engine's default).
		F: float64(int64(cfg.BusyReplyThreshold) * script.InstructionsPerMilli),
	}
	return withHashLimits(c, op), nil
}

// hasUpper reports whether b holds an upper-case ASCII letter.
func hasUpper(b []byte) bool {
	for _, x := range b {
		if 'A' <= x && x <= 'Z' {
			return true
		}
	}
	return false
}

// scriptRunner is a store's shard.ScriptEngine: it runs script ops in
// Apply for the unit u.
type scriptRunner struct {
	s     *Server
	u     *unit
	eng   *script.Engine
	hosts sync.Pool // *scriptHost, reused by runs
}

// Load caches a body (KindScriptLoad) and answers its SHA1.
func (r *scriptRunner) Load(body []byte) shard.Result {
	sha, err := r.eng.Load(body)
	if err != nil {
		return shard.Err(err)
	}
	return shard.Str(sha)
}

// Run runs a script op; a script stopped for its budget has its writes
// undone.
func (r *scriptRunner) Run(tx shard.ScriptTx, op *shard.Op) shard.Result {
	n := int(op.N)
	if n < 0 || n > len(op.Args)-1 {
		return shard.Err(errTooManyKeys)
	}
	seed := uint64(op.At)
	h := r.host(tx, op, seed)
	sha := op.Key
	if len(sha) != 40 {
		sha = []byte(script.SHA1Hex(op.Args[0]))
	}
	// In cluster mode a script with a shebang line, unless it allows
	// cross-slot keys, may reach only the slot of its first key: the
	// declared ones', or the first it calls a command on.
	h.oneSlot, h.slot = false, -1
	if r.s.clusterOn() {
		// From the body, not this node's cache: a replica applying the
		// script for the first time (or after SCRIPT FLUSH, or replaying
		// its log) has not cached it yet, and must decide as the leader.
		if fl, _, _ := script.ParseShebang(op.Args[0]); fl&script.Shebang != 0 && fl&script.AllowCrossSlot == 0 {
			h.oneSlot = true
			if n > 0 {
				h.slot = int(shard.KeySlot(op.Args[1]))
			}
		}
	}
	rep, err := r.eng.RunSHA(sha, op.Args[0], script.Params{
		Keys:   op.Args[1 : 1+n],
		Argv:   op.Args[1+n:],
		Budget: int64(op.F),
		Seed:   int32(seed),
	}, h)
	h.release()
	if errors.Is(err, script.ErrBudget) {
		tx.Rollback()
	}
	return scriptResult(rep, true)
}

// host returns a scriptHost for one run of op, from the pool: its client
// is as new (a scripting client of unit r.u), with its random generator
// seeded from seed, so that every replica parses the script's commands
// alike.
func (r *scriptRunner) host(tx shard.ScriptTx, op *shard.Op, seed uint64) *scriptHost {
	h, _ := r.hosts.Get().(*scriptHost)
	if h == nil {
		h = &scriptHost{r: r, c: new(client)}
		h.pcg = rand.NewPCG(0, 0)
		h.rng = rand.New(h.pcg)
	}
	h.tx, h.op = tx, op
	h.pcg.Seed(seed, seed^0x9e3779b97f4a7c15)
	// A client as new but for the reply buffer, which Call reuses.
	*h.c = client{s: r.s, u: r.u, authed: true, rng: h.rng, w: replyWriter{b: h.c.w.b[:0]}}
	return h
}

// release returns h to its runner's pool once its run is over.
func (h *scriptHost) release() {
	h.tx, h.op, h.sub = nil, nil, shard.Op{}
	if cap(h.c.w.b) > 64<<10 {
		h.c.w.b = nil // a big reply's buffer is not kept
	}
	h.r.hosts.Put(h)
}

// scriptHost runs a script's redis.call commands. It serves one run at a
// time (scriptRunner.host hands it out, release takes it back).
type scriptHost struct {
	r   *scriptRunner
	tx  shard.ScriptTx
	op  *shard.Op
	c   *client
	pcg *rand.PCG  // c.rng's source, reseeded for each run
	rng *rand.Rand // c.rng
	sub shard.Op   // the op of the command being run (not allocated per call)
	// oneSlot: the script's calls must stay in slot (-1: none reached
	// yet); see Run.
	oneSlot bool
	slot    int
}

// Script-call refusals, as Redis words them.
const (
	errScriptUnknown = "-ERR Unknown Redis command called from script\r\n"
	errScriptArity   = "-ERR Wrong number of args calling Redis command from script\r\n"
	errScriptDenied  = "-ERR This Redis command is not allowed from script\r\n"
	errScriptWrite   = "-ERR Write commands are not allowed from read-only scripts.\r\n"
	errScriptNonLoc  = "-ERR Script attempted to access a non local key in a cluster node\r\n"
	errScriptSlot    = "-ERR Script attempted to access keys that do not hash to the same slot\r\n"
)

// Call runs one command of the script and returns its RESP reply, in a
// buffer the next Call reuses. Unlike Redis, the commands a script calls
// do not count in commandstats: every replica runs the script in its
// Apply (some twice, see shard's script rerun, and again when the log is
// replayed), so no count there would mean what Redis's means.
func (h *scriptHost) Call(args [][]byte, resp3 bool) []byte {
	c := h.c
	cmd := c.lookup(args[0])
	if cmd == nil {
		return []byte(errScriptUnknown)
	}
	if !cmd.arityOK(len(args)) {
		return []byte(errScriptArity)
	}
	// sessiond's table flags PING and ECHO noscript; Redis allows them.
	if cmd.has(flagNoScript) && cmd.name != "ping" && cmd.name != "echo" {
		return []byte(errScriptDenied)
	}
	if cmd.has(flagWrite) && h.tx.ReadOnly() {
		return []byte(errScriptWrite)
	}
	c.w = replyWriter{b: c.w.b[:0], resp3: resp3}
	if cmd.run != nil {
		switch cmd.name {
		case "ping", "echo", "select":
			// Deterministic, and they touch no connection state.
			cmd.run(c, args)
		case "time":
			now := h.op.Now
			c.w.array(2)
			c.w.bulk(strconv.FormatInt(now/1000, 10))
			c.w.bulk(strconv.FormatInt(now%1000*1000, 10))
		default:
			return []byte(errScriptDenied)
		}
		return c.w.b
	}
	if h.r.s.sharded() || h.r.s.clusterOn() {
		// Keys of another group cannot be reached from inside the
		// group's log entry; in cluster mode, as in Redis Cluster, the
		// keys of one call must also share a slot.
		local, slot := true, -1
		cluster := h.r.s.clusterOn()
		forKeys(cmd, args, func(k []byte) {
			if h.r.s.unitOfKey(k) != h.r.u {
				local = false
			}
			if cluster {
				switch ks := int(shard.KeySlot(k)); {
				case slot == -1:
					slot = ks
				case ks != slot:
					local = false
				}
			}
		})
		if !local {
			return []byte(errScriptNonLoc)
		}
		if h.oneSlot && slot >= 0 {
			if h.slot >= 0 && slot != h.slot {
				return []byte(errScriptSlot)
			}
			h.slot = slot
		}
	}
	var err error
	h.sub, err = cmd.parse(c, args, h.op.Now)
	sub := &h.sub
	var late *errIfFound
	if err != nil {
		if late = asLate(err); late == nil {
			c.w.err(err)
			return c.w.b
		}
	}
	sub.Now = h.op.Now
	// The limits the leader stamped into the script bind its commands,
	// not this replica's configuration.
	if sub.Limit != 0 {
		sub.Limit = h.op.Limit
	}
	if sub.HashEntries != 0 {
		sub.HashEntries, sub.HashValue = h.op.HashEntries, h.op.HashValue
	}
	res := h.tx.Exec(sub)
	if res.Kind == shard.RErr && errors.Is(res.Err, shard.ErrScriptWrite) {
		return []byte(errScriptWrite)
	}
	c.w.resultOrLateError(cmd, res, late)
	return c.w.b
}

// asLate returns err's *errIfFound, if it has one. (Apart from Call, so
// that Call's variable does not move to the heap on every command.)
func asLate(err error) *errIfFound {
	var late *errIfFound
	if errors.As(err, &late) {
		return late
	}
	return nil
}

// scriptResult carries a script's reply in a Result tree (replyScript
// writes it). A top-level error with an error code is a plain error
// Result; one without (a script may return {err="oops"}) is tagged, so
// that it is written as it is instead of with "ERR " in front.
func scriptResult(r script.Reply, top bool) shard.Result {
	switch r.Kind {
	case script.Nil:
		return shard.Nil()
	case script.Int:
		return shard.Int(r.Int)
	case script.Bulk:
		return shard.Str(r.Str)
	case script.Status:
		return shard.Result{Kind: shard.RStatus, Str: r.Str}
	case script.Error:
		if top && hasErrorCode(r.Str) {
			return shard.Err(errors.New(r.Str))
		}
		return shard.Result{Kind: shard.RMulti, Int: tagError, Str: r.Str}
	case script.Double:
		return shard.Result{Kind: shard.RMulti, Int: tagDouble, Str: fmt.Sprintf("%.17g", r.F)}
	case script.Bool:
		return shard.Result{Kind: shard.RMulti, Int: tagBool, Str: strconv.FormatInt(r.Int, 10)}
	case script.BigNumber:
		return shard.Result{Kind: shard.RMulti, Int: tagBigNumber, Str: r.Str}
	case script.Verbatim:
		return shard.Result{Kind: shard.RMulti, Int: tagVerbatim, Str: r.Str, Vals: []shard.Val{{S: r.Format}}}
	}
	tag := tagArray
	switch r.Kind {
	case script.Map:
		tag = tagMap
	case script.Set:
		tag = tagSet
	}
	subs := make([]shard.Result, len(r.Elems))
	for i, e := range r.Elems {
		subs[i] = scriptResult(e, false)
	}
	return shard.Result{Kind: shard.RMulti, Int: tag, Subs: subs}
}

// replyScript writes a script's reply (scriptResult's tree).
func replyScript(w *replyWriter, r shard.Result) {
	switch r.Kind {
	case shard.RErr:
		// Nested errors are tagged; a plain one is written as it is.
		w.errorText(r.Err.Error())
		return
	case shard.RMulti:
	default:
		w.result(r)
		return
	}
	switch r.Int {
	case tagError:
		w.errorText(r.Str)
	case tagDouble:
		w.doubleText(r.Str)
	case tagBool:
		w.boolean(r.Str == "1")
	case tagBigNumber:
		if w.resp3 {
			w.b = append(w.b, '(')
			w.b = append(w.b, r.Str...)
			w.b = append(w.b, '\r', '\n')
		} else {
			w.bulk(r.Str)
		}
	case tagVerbatim:
		if w.resp3 {
			f := "txt"
			if len(r.Vals) > 0 && len(r.Vals[0].S) == 3 {
				f = r.Vals[0].S
			}
			w.header('=', len(r.Str)+4)
			w.b = append(w.b, f...)
			w.b = append(w.b, ':')
			w.b = append(w.b, r.Str...)
			w.b = append(w.b, '\r', '\n')
		} else {
			w.bulk(r.Str)
		}
	case tagMap:
		w.mapHeader(len(r.Subs) / 2)
		for _, s := range r.Subs {
			replyScript(w, s)
		}
	case tagSet:
		w.setHeader(len(r.Subs))
		for _, s := range r.Subs {
			replyScript(w, s)
		}
	default:
		w.array(len(r.Subs))
		for _, s := range r.Subs {
			replyScript(w, s)
		}
	}
}

// cmdScriptLoad is SCRIPT LOAD body: compiled here (errors answered
// without touching the log), then replicated so that every node caches
// it: through the first group's log, which every node holds, or, when
// groups are held by some nodes only (--replicas), through every group's.
func cmdScriptLoad(c *client, args [][]byte) {
	if _, err := c.s.scripts().Load(args[2]); err != nil {
		c.w.err(err)
		return
	}
	c.settle()
	if !c.s.partial() {
		scriptLoadIn(c, args[2], args)
		return
	}
	replies := c.eachUnit(c.s.units(), func() { scriptLoadIn(c, args[2], c.groupArgs("SESSIOND-SCRIPTLOAD", string(args[2]))) })
	for _, r := range replies {
		if len(r) > 0 && r[0] == '-' {
			c.w.b = append(c.w.b, r...)
			return
		}
	}
	c.w.b = append(c.w.b, replies[0]...)
}

// scriptLoadIn replicates body through the current group's (c.u) log,
// at its leader: here, or by forwarding fwd.
func scriptLoadIn(c *client, body []byte, fwd [][]byte) {
	if c.u.remote {
		c.forward(fwd, true, func() { c.w.errorText(errClusterDown) })
		return
	}
	op := shard.Op{Kind: shard.KindScriptLoad, Now: c.now(), Args: [][]byte{body}}
	res, err := c.u.applier.Apply(c.s.ctx, &op)
	if err != nil {
		if c.u.group != nil && errors.Is(err, replication.ErrNotLeader) && !c.inLocalRetry {
			c.forward(fwd, true, func() { scriptLoadIn(c, body, fwd) })
			return
		}
		c.replicationError(err)
		return
	}
	c.wrote(c.u)
	c.w.result(res)
}

// cmdSessiondScriptLoad is SESSIOND-SCRIPTLOAD body [group]: SCRIPT LOAD
// in one group's log, forwarded to the group's leader (cmdScriptLoad).
func cmdSessiondScriptLoad(c *client, args [][]byte) {
	if !c.groupArg(args, 2) {
		return
	}
	if _, err := c.s.scripts().Load(args[1]); err != nil {
		c.w.err(err)
		return
	}
	scriptLoadIn(c, args[1], args)
}

// cmdScriptExists is SCRIPT EXISTS sha...: this node's cache. A node
// that holds no group applies no SCRIPT LOAD (--replicas): it asks the
// first group's leader.
func cmdScriptExists(c *client, args [][]byte) {
	if len(c.s.local()) == 0 && c.s.replicated() && !c.fwdConn {
		saved := c.u
		c.u = c.s.units()[0]
		c.forward(args, false, func() { c.w.errorText(errClusterDown) })
		c.u = saved
		return
	}
	e := c.s.scripts()
	c.w.array(len(args) - 2)
	for _, a := range args[2:] {
		if e.Exists(string(a)) {
			c.w.int(1)
		} else {
			c.w.int(0)
		}
	}
}

// cmdScriptFlush is SCRIPT FLUSH [ASYNC|SYNC]: empties this node's cache
// (both modes do it at once).
func cmdScriptFlush(c *client, args [][]byte) {
	if len(args) > 3 || len(args) == 3 && !strings.EqualFold(string(args[2]), "sync") && !strings.EqualFold(string(args[2]), "async") {
		c.w.errorText("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	c.s.scripts().Flush()
	c.w.ok()
}

func cmdScriptHelp(c *client, _ [][]byte) {
	c.w.helpLines([]string{
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed.",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	})
}
