package shard

import "errors"

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
		// The script works on a copy of the txn (same locks, same time
		// and version): handing t itself to the engine would make every
		// op's txn escape to the heap.
		tx := &scriptTx{tx: *t, ro: op.Kind == KindEvalRO || t.read}
		tx.t = &tx.tx
		return t.s.scripts.Run(tx, op)
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

// scriptMultiKeys returns the keys of a script op: none to lock by key,
// since a script holds every stripe (scriptNeedsAll) and SCRIPT LOAD
// touches no key.
func scriptMultiKeys(op *Op) ([][]byte, bool) { return nil, true }

// scriptNeedsAll reports whether a script op must hold every stripe: a
// script may touch any key (redis.call may name keys it did not
// declare).
func scriptNeedsAll(op *Op) bool { return op.Kind == KindEval || op.Kind == KindEvalRO }

// scriptTx is a ScriptTx over a txn that holds every stripe.
type scriptTx struct {
	tx   txn  // a copy of the script op's txn
	t    *txn // &tx
	ro   bool
	undo []undoRec       // in few until it outgrows it
	few  [4]undoRec      // undo's first records, without an allocation
	seen map[string]bool // the keys in undo, once there are more than seenScan
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
	key string
	e   entry
	had bool
}

func (x *scriptTx) ReadOnly() bool { return x.ro }

// Exec runs op inside the script's Apply.
func (x *scriptTx) Exec(op *Op) Result {
	k := op.Kind
	if k == KindMulti || (k >= kindScriptFirst && k <= kindScriptLast) || k == KindReap || k == KindEvict {
		return Err(ErrUnknownOp)
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
		x.undo = append(x.undo, undoRec{key: ks, e: e, had: had})
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

// Rollback puts back every key the script's writes changed.
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
	}
	x.undo, x.seen = nil, nil
}
