package shard

import "errors"

// ErrSameObject answers COPY of a key to itself.
var ErrSameObject = errors.New("ERR source and destination objects are the same")

// More keyspace commands: COPY, OBJECT, MEMORY USAGE (kinds 240-254, see
// ext.go).

// Keyspace extension kinds. Persisted: never renumber.
const (
	KindCopy        Kind = 240 // Key = source, Args[0] = destination; N = 1: REPLACE
	KindObject      Kind = 241 // Key; N = ObjectEncoding, ObjectFreq, ObjectIdleTime, ObjectRefCount
	KindMemoryUsage Kind = 242 // Key
)

// OBJECT subcommands (KindObject's N).
const (
	ObjectEncoding  = 0
	ObjectFreq      = 1
	ObjectIdleTime  = 2
	ObjectRefCount  = 3
	objectLastQuery = ObjectRefCount
)

// execKeysExt runs a keyspace op of the extension range.
func (t *txn) execKeysExt(op *Op) Result {
	switch op.Kind {
	case KindCopy:
		return t.copyKey(op)
	case KindObject:
		return t.object(op)
	case KindMemoryUsage:
		return t.memoryUsage(op)
	}
	return Err(ErrUnknownOp)
}

// keysExtKindIsRead reports whether such a kind only reads.
func keysExtKindIsRead(k Kind) bool { return k == KindObject || k == KindMemoryUsage }

// keysExtMultiKeys returns the keys of such an op (see extMultiKeys).
func keysExtMultiKeys(op *Op) ([][]byte, bool) {
	if op.Kind == KindCopy && len(op.Args) > 0 {
		return [][]byte{op.Key, op.Args[0]}, true
	}
	return nil, false
}

// copyKey copies op.Key's value and deadline to op.Args[0] and answers 1,
// or 0 when the source is missing or the destination exists without
// REPLACE (N = 1). Copying a key to itself is Redis's error.
func (t *txn) copyKey(op *Op) Result {
	dst := op.Args[0]
	if string(op.Key) == string(dst) {
		return Err(ErrSameObject)
	}
	e, ok := t.lookup(op.Key)
	t.readSource(op.Key, e, ok)
	if !ok {
		return Int(0)
	}
	if _, exists := t.lookup(dst); exists {
		if op.N != 1 {
			return Int(0)
		}
		t.del(dst)
	}
	c := entry{typ: e.typ, s: e.s, exp: e.exp, enc: e.enc}
	if e.big != nil {
		c.big = e.big.deepCopy()
	}
	t.put(dst, c)
	t.event(EventGeneric, "copy_to", dst)
	return Int(1)
}

// deepCopy returns a copy of l that shares nothing mutable with it.
func (l *large) deepCopy() *large {
	shared := *l
	shared.frozen = true // edit copies a frozen value's map, heap or collection
	return shared.edit()
}

// object answers OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT for op.Key
// (the server checks the maxmemory policy FREQ and IDLETIME need). A
// missing key is the null reply. It does not touch the access clock.
func (t *txn) object(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok {
		return Nil()
	}
	switch op.N {
	case ObjectEncoding:
		return Str(encodingOf(e))
	case ObjectFreq:
		return Int(int64(lfuCounter(e.lru, t.now)))
	case ObjectIdleTime:
		return Int(idleSeconds(e.lru, t.now))
	case ObjectRefCount:
		return Int(1)
	}
	return Err(ErrUnknownOp)
}

// encodingOf names e's encoding as Redis's OBJECT ENCODING would: for
// strings raw once changed in place (APPEND, SETRANGE), else int (not
// for INCRBYFLOAT's results), embstr or raw by content and length; listpack or hashtable for hashes, and the
// collection's own answer for lists, sets and sorted sets.
func encodingOf(e entry) string {
	switch {
	case e.typ == TypeString && e.enc == encRaw:
		return "raw"
	case e.typ == TypeString:
		if len(e.s) <= 20 && e.enc != encFloat {
			if _, ok := ParseInt(e.s); ok {
				return "int"
			}
		}
		if len(e.s) <= 44 {
			return "embstr"
		}
		return "raw"
	case e.big != nil && e.big.coll != nil:
		return e.big.coll.encoding()
	case e.big != nil:
		return "hashtable"
	}
	return "listpack"
}

// memoryUsage answers MEMORY USAGE: the key's accounted bytes (what it
// adds to the heap, as INFO memory counts it), or null when missing.
func (t *txn) memoryUsage(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok {
		return Nil()
	}
	return Int(cost(len(op.Key), e))
}
