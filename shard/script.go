package shard

import (
	"errors"
	"slices"
)

// Scripts (EVAL, EVALSHA, SCRIPT LOAD). A script is replicated as one op
// carrying its body: every replica's Apply runs it through the engine
// the server installed (SetScripts), with every stripe locked, and each
// redis.call inside becomes an op run in the same Apply (ScriptTx.Exec).
// The engine must be deterministic: the op carries everything random
// (At: the seed) and every limit (F: the instruction budget; Limit,
// HashEntries, HashValue: the limits of the ops the script runs).

// Script kinds (persisted: never renumber).
const (
	// KindEval runs a script that may write. Args[0] = body, Args[1:1+N]
	// = KEYS, the rest ARGV; N = numkeys; At = random seed; F =
	// instruction budget (0: the engine's default); Key = the SHA1 hex of
	// the body.
	KindEval Kind = 220
	// KindEvalRO is KindEval for EVAL_RO/EVALSHA_RO: a read, run by Read
	// on any replica; the engine refuses writes inside.
	KindEvalRO Kind = 221
	// KindScriptLoad caches Args[0] in every replica's engine (SCRIPT
	// LOAD), so that EVALSHA finds it on any node. It touches no key.
	KindScriptLoad Kind = 222
)

// ScriptBody returns the SHA1 hex (Key) and the body (Args[0]) of a
// script op: a KindEval or KindEvalRO op naming its script by a 40-byte
// SHA. A log entry may store such a SHA and body once for all its ops
// that run the same script (AppendEncodeNoBody, RestoreScript). ok is
// false for any other op.
func ScriptBody(op *Op) (sha, body []byte, ok bool) {
	if op.Kind != KindEval && op.Kind != KindEvalRO || len(op.Key) != 40 || len(op.Args) == 0 {
		return nil, nil, false
	}
	return op.Key, op.Args[0], true
}

// RestoreScript gives a script op decoded from AppendEncodeNoBody's
// encoding its SHA and body back. It reports false, changing nothing,
// when op is not such an op: not a script kind, or with a Key or a
// non-empty Args[0].
func RestoreScript(op *Op, sha, body []byte) bool {
	if op.Kind != KindEval && op.Kind != KindEvalRO || len(op.Key) != 0 || len(op.Args) == 0 || len(op.Args[0]) != 0 {
		return false
	}
	op.Key, op.Args[0] = sha, body
	return true
}

// ErrScriptWrite is the error ScriptTx.Exec returns for a write in a
// read-only script.
var ErrScriptWrite = errors.New("ERR Write commands are not allowed from read-only scripts.")

// ScriptEngine runs script ops inside Apply (and Read, for KindEvalRO).
// It is called with every stripe locked, from Apply's goroutine (or a
// reader's): it must be deterministic and must reach the store only
// through tx.
type ScriptEngine interface {
	// Run runs a KindEval or KindEvalRO op and returns its Result.
	Run(tx ScriptTx, op *Op) Result
	// Load caches a script body (KindScriptLoad) and returns its Result.
	Load(body []byte) Result
}

// ScriptTx is what a running script may do to the store.
type ScriptTx interface {
	// Exec runs op (not a script, not a MULTI) in the script's Apply, as
	// if it were applied alone at the script's time. In a read-only run
	// a write kind returns ErrScriptWrite.
	Exec(op *Op) Result
	// ReadOnly reports whether this is a read-only run (KindEvalRO, or a
	// script run by Read).
	ReadOnly() bool
	// Rollback undoes every write Exec made in this run, leaving the
	// keys as they were before the script (stats, keyspace events
	// already reported and versions aside). The engine calls it when it
	// stops a script that ran out of budget.
	Rollback()
}

// SetScripts installs the engine that runs scripts inside Apply. Call it
// before the store is used.
func (s *Store) SetScripts(e ScriptEngine) { s.scripts = e }

// execScript runs a script op.
func (t *txn) execScript(op *Op) Result {
	if t.s.scripts == nil {
		return Err(ErrUnknownOp)
	}
	switch op.Kind {
	case KindEval, KindEvalRO:
		if len(op.Args) == 0 {
			return Err(ErrUnknownOp)
		}
		ro := op.Kind == KindEvalRO || t.read
		if !t.all {
			// begin locked the declared keys' stripes; the script takes
			// the others as it names them.
			tx := newScriptTx(t, ro)
			tx.lazyFrom(t)
			res := t.s.scripts.Run(tx, op)
			if !tx.relock {
				// Events first, with every stripe the script took still
				// held, so that no other write to its keys can report
				// an event ahead of them.
				tx.report()
				tx.unlockExtra()
				return res
			}
			// A stripe could not be taken in order: undo, hold every
			// stripe and run the script again from the same state. (Hits
			// and misses of the first run stay counted.)
			t.s.stats.ScriptReruns.Add(1)
			tx.Rollback()
			tx.unlockExtra()
			t.end()
			t.n, t.all = 0, true
			for i := range t.s.stripes {
				t.s.stripes[i].mu.Lock()
			}
		}
		// The script works on a copy of the txn (same locks, same time
		// and version): handing t itself to the engine would make every
		// op's txn escape to the heap.
		tx := newScriptTx(t, ro)
		res := t.s.scripts.Run(tx, op)
		tx.report()
		return res
	case KindScriptLoad:
		if len(op.Args) != 1 {
			return Err(ErrUnknownOp)
		}
		return t.s.scripts.Load(op.Args[0])
	}
	return Err(ErrUnknownOp)
}

// scriptKindIsRead reports whether a script kind only reads.
func scriptKindIsRead(k Kind) bool { return k == KindEvalRO }

// scriptMultiKeys returns the keys of a script op: the declared KEYS of
// EVAL and EVAL_RO (begin locks their stripes; the script takes any other
// as it names it, see scriptTx.cover), none for SCRIPT LOAD.
func scriptMultiKeys(op *Op) ([][]byte, bool) {
	if op.Kind != KindEval && op.Kind != KindEvalRO || len(op.Args) == 0 {
		return nil, true
	}
	n := int(min(max(op.N, 0), int64(len(op.Args)-1)))
	return op.Args[1 : 1+n], true
}

// scriptNeedsAll reports whether a script op must hold every stripe from
// the start: none does (see scriptMultiKeys), except in a MULTI
// (needsAll).
func scriptNeedsAll(*Op) bool { return false }

// scriptTx is a ScriptTx over a copy of the script op's txn. It either
// holds every stripe, or (lazy) the stripes in held, which it extends as
// the script names keys in other stripes (cover).
type scriptTx struct {
	tx   txn  // a copy of the script op's txn
	t    *txn // &tx
	ro   bool
	undo []undoRec       // in few until it outgrows it
	few  [4]undoRec      // undo's first records, without an allocation
	seen map[string]bool // the keys in undo, once there are more than seenScan

	lazy   bool
	held   []int   // lazy: the stripes held, ascending
	extra  []int   // lazy: the stripes of held cover locked (unlockExtra)
	relock bool    // lazy: cover failed; the run must be redone holding every stripe
	events []Event // the keyspace events of the run, reported at its end (report)
	undone bool    // Rollback ran
	buf    [8]int  // held's first stripes, without an allocation
}

// errRelock is what redis.call answers in a lazy run once a stripe could
// not be taken in order; execScript then discards the run.
var errRelock = errors.New("ERR script must be rerun holding every stripe")

// newScriptTx returns a ScriptTx over a copy of t, whose keyspace events
// wait in x.events for report.
func newScriptTx(t *txn, ro bool) *scriptTx {
	x := &scriptTx{tx: *t, ro: ro}
	x.t = &x.tx
	x.tx.evbuf = &x.events
	x.tx.nonBlocking = true
	return x
}

// report hands the run's keyspace events to the sink, unless the run was
// rolled back (its budget ran out, or it is to be rerun): then it changed
// nothing, and reports nothing.
func (x *scriptTx) report() {
	if x.undone {
		return
	}
	for _, e := range x.events {
		x.t.s.sink(e)
	}
	x.events = nil
}

// lazyFrom makes x take stripes as it goes, starting from those t holds.
// The copy then finds every key's stripe by hashing it (n = 0), since it
// may come to hold more than one.
func (x *scriptTx) lazyFrom(t *txn) {
	x.lazy = true
	x.held = x.buf[:0]
	switch {
	case t.n == 1:
		x.held = append(x.held, t.one)
	case t.n > 1:
		x.held = append(x.held, t.locked()...)
	}
	x.tx.n = 0
}

// cover takes the stripes op needs that x does not hold yet. A stripe
// above every held one is waited for: every locker takes stripes in
// ascending order, so that wait cannot close a cycle. A stripe below one
// held may only be tried: if it is busy, or op walks the whole keyspace,
// cover reports false and the run must be redone holding every stripe.
func (x *scriptTx) cover(op *Op) bool {
	switch op.Kind {
	case KindScan, KindKeys, KindRandomKey, KindDBSize, KindFlush:
		return false
	}
	var buf [8]int
	for _, i := range x.t.collect(op, buf[:0]) {
		pos, found := slices.BinarySearch(x.held, i)
		if found {
			continue
		}
		mu := &x.t.s.stripes[i].mu
		if pos == len(x.held) {
			mu.Lock()
		} else if !mu.TryLock() {
			return false
		}
		x.held = slices.Insert(x.held, pos, i)
		x.extra = append(x.extra, i)
	}
	return true
}

// unlockExtra releases the stripes cover took.
func (x *scriptTx) unlockExtra() {
	for _, i := range x.extra {
		x.t.s.stripes[i].mu.Unlock()
	}
	x.extra = nil
}

// seenScan is how many undo records remember scans for a key before it
// indexes them in a map.
const seenScan = 16

// hasUndo reports whether key k has an undo record.
func (x *scriptTx) hasUndo(k []byte) bool {
	if x.seen != nil {
		return x.seen[string(k)]
	}
	for i := range x.undo {
		if x.undo[i].key == string(k) {
			return true
		}
	}
	return false
}

// undoRec is a key's entry before the script first wrote it.
type undoRec struct {
	key    string
	e      entry
	had    bool
	delVer uint64 // the key's stripe's delVer before the write
}

func (x *scriptTx) ReadOnly() bool { return x.ro }

// Exec runs op inside the script's Apply.
func (x *scriptTx) Exec(op *Op) Result {
	k := op.Kind
	if k == KindMulti || (k >= kindScriptFirst && k <= kindScriptLast) || k == KindReap || k == KindEvict {
		return Err(ErrUnknownOp)
	}
	if x.lazy && (x.relock || !x.cover(op)) {
		x.relock = true
		return Err(errRelock)
	}
	if !k.IsWrite() {
		return x.t.exec(op)
	}
	if x.ro {
		return Err(ErrScriptWrite)
	}
	x.remember(op)
	return x.t.exec(op)
}

// remember records, before a write, the entries of the keys it may
// change that the script has not changed yet. A big value is frozen, so
// the write copies it instead of changing the recorded one in place.
func (x *scriptTx) remember(op *Op) {
	if x.undo == nil {
		x.undo = x.few[:0]
	}
	keep := func(k []byte) {
		if x.hasUndo(k) {
			return
		}
		ks := string(k)
		st := &x.t.s.stripes[x.t.s.stripeOf(k)]
		e, had := st.m[ks]
		if had && e.big != nil {
			e.big.freeze()
		}
		x.undo = append(x.undo, undoRec{key: ks, e: e, had: had, delVer: st.delVer})
		switch {
		case x.seen != nil:
			x.seen[ks] = true
		case len(x.undo) > seenScan:
			x.seen = make(map[string]bool, 2*len(x.undo))
			for i := range x.undo {
				x.seen[x.undo[i].key] = true
			}
		}
	}
	switch op.Kind {
	case KindFlush:
		for i := range x.t.s.stripes {
			for k := range x.t.s.stripes[i].m {
				keep([]byte(k))
			}
		}
	case KindDel, KindTouch:
		for _, k := range op.Args {
			keep(k)
		}
	case KindMSet, KindMSetNX:
		for i := 0; i < len(op.Args); i += 2 {
			keep(op.Args[i])
		}
	case KindRename:
		keep(op.Key)
		if len(op.Args) > 0 {
			keep(op.Args[0])
		}
	default:
		if keys, ok := extMultiKeys(op); ok {
			for _, k := range keys {
				keep(k)
			}
			return
		}
		keep(op.Key)
	}
}

// Rollback puts back every key the script's writes changed, and the
// stripes' record of removed keys (delVer).
func (x *scriptTx) Rollback() {
	t := x.t
	for i := len(x.undo) - 1; i >= 0; i-- {
		u := &x.undo[i]
		st := &t.s.stripes[t.s.stripeOf([]byte(u.key))]
		cur, has := st.m[u.key]
		var curExp, curField int64
		if has {
			st.mem -= cost(len(u.key), cur)
			curExp, curField = cur.exp, fieldDeadline(cur)
			delete(st.m, u.key)
		}
		var exp, field int64
		if u.had {
			st.m[u.key] = u.e
			st.mem += cost(len(u.key), u.e)
			exp, field = u.e.exp, fieldDeadline(u.e)
		}
		st.keyTTL.Move(u.key, curExp, exp)
		st.fieldTTL.Move(u.key, curField, field)
		// In reverse order, the stripe ends with the delVer of before
		// the run: a removal the run made must not count for WATCH (nor
		// make this replica's snapshot differ from one that ran the
		// script without a rerun).
		st.delVer = u.delVer
	}
	x.undo, x.seen = nil, nil
	x.undone = true
}
