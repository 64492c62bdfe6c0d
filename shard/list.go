package shard

import (
	"bytes"
	"errors"
)

// List operations (Redis 7.0 semantics). The value is a deque
// (list_deque.go) kept in entry.big.coll and changed in place. Ends are
// numbered listLeft (head) and listRight (tail) wherever an op names one.

// List operations. Persisted: never renumber or reuse.
const (
	KindLPush   Kind = 120 // Key, Args = elements pushed one by one at the head; XX: LPUSHX (only onto an existing list)
	KindRPush   Kind = 121 // the same at the tail (RPUSH, RPUSHX)
	KindLPop    Kind = 122 // Key; HasCount: N = count >= 0 (reply a list)
	KindRPop    Kind = 123 // the same at the tail
	KindLRange  Kind = 124 // Key, N = start, At = stop (Redis indexes, inclusive)
	KindLLen    Kind = 125 // Key
	KindLIndex  Kind = 126 // Key, N = index; XX: a missing key is ErrNoSuchKey (LSET's check of its key)
	KindLSet    Kind = 127 // Key, N = index, Args[0] = element
	KindLRem    Kind = 128 // Key, N = count (0 all, < 0 from the tail), Args[0] = element
	KindLTrim   Kind = 129 // Key, N = start, At = stop
	KindLInsert Kind = 130 // Key, Args[0] = pivot, Args[1] = element; N = 1: AFTER, 0: BEFORE
	KindLPos    Kind = 131 // Key, Args[0] = element; N = rank (!= 0); HasCount: At = count; Limit = MAXLEN (0: no limit)
	KindLMove   Kind = 132 // Key = source, Args[0] = destination; N = source end, At = destination end
	KindLMPop   Kind = 133 // Args = keys; N = end; At = count >= 1
	KindBPop    Kind = 134 // BLPOP/BRPOP: Args = keys; N = end; no element anywhere: ErrListBlocking
	KindBLMove  Kind = 135 // as KindLMove; an empty source: ErrListBlocking
	KindBLMPop  Kind = 136 // as KindLMPop; no element anywhere: ErrListBlocking
)

// List ends, in ops' N and At.
const (
	listLeft  = 0
	listRight = 1
)

// List errors, in Redis's words where Redis has them.
var (
	ErrIndexRange = errors.New("ERR index out of range")
	// ErrListBlocking answers a blocking list command (BLPOP, BRPOP,
	// BLMOVE, BRPOPLPUSH, BLMPOP) that finds nothing to pop outside
	// MULTI and scripts. The server that runs the command for a client
	// does not send it on: it waits and tries again (server/blocking.go).
	// The text is that of versions that never blocked, which a node
	// forwarding to one of them shows its client.
	ErrListBlocking = errors.New("ERR sessiond: blocking list operations are not supported yet (no element to pop)")
)

// execList runs a list op.
func (t *txn) execList(op *Op) Result {
	switch op.Kind {
	case KindLPush, KindRPush:
		return t.lpush(op)
	case KindLPop, KindRPop:
		return t.lpop(op)
	case KindLRange:
		return t.lrange(op)
	case KindLLen:
		return t.llen(op)
	case KindLIndex:
		return t.lindex(op)
	case KindLSet:
		return t.lset(op)
	case KindLRem:
		return t.lrem(op)
	case KindLTrim:
		return t.ltrim(op)
	case KindLInsert:
		return t.linsert(op)
	case KindLPos:
		return t.lpos(op)
	case KindLMove, KindBLMove:
		return t.lmove(op)
	case KindLMPop, KindBLMPop:
		return t.lmpop(op)
	case KindBPop:
		return t.bpop(op)
	}
	return Err(ErrUnknownOp)
}

// listKindIsRead reports whether a list kind only reads.
func listKindIsRead(k Kind) bool {
	switch k {
	case KindLRange, KindLLen, KindLIndex, KindLPos:
		return true
	}
	return false
}

// listMultiKeys returns the keys of a list op that names several (see
// extMultiKeys).
func listMultiKeys(op *Op) ([][]byte, bool) {
	switch op.Kind {
	case KindLMove, KindBLMove:
		if len(op.Args) == 0 {
			return nil, false
		}
		return [][]byte{op.Key, op.Args[0]}, true
	case KindLMPop, KindBLMPop, KindBPop:
		return op.Args, true
	}
	return nil, false
}

// readList reads a list's snapshot encoding (listColl.write).
func (d *snapDecoder) readList(k string) collection {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 {
		d.corrupt("key %q: empty list", k)
		return nil
	}
	l := &deque{}
	for range n {
		s := d.str()
		if d.err != nil {
			return nil
		}
		l.pushString(s, false)
	}
	return newListColl(l)
}

// listOf returns the list held by entry e, which has type TypeList.
func listOf(e entry) *deque { return e.big.coll.(*listColl).d }

// readList returns key's list for a read op, counting the hit or miss
// and the access; ok is false when the key is absent.
func (t *txn) readList(key []byte) (l *deque, ok bool, err error) {
	e, ok := t.lookup(key)
	if !ok {
		t.miss(key)
		return nil, false, nil
	}
	if e.typ != TypeList {
		return nil, false, ErrWrongType
	}
	t.s.stats.Hits.Add(1)
	t.access(key, e)
	return listOf(e), true, nil
}

// listWrite is one write to a key's list: open it, change w.d, commit.
type listWrite struct {
	key     []byte
	e       entry  // the entry as it was (zero when the list is new)
	nl      *large // the header being written
	d       *deque // the list to change
	existed bool
}

// lookupList returns key's list for a write: ok is false when the key is
// absent, err ErrWrongType when it holds another type. It changes
// nothing: call edit before changing the list.
func (t *txn) lookupList(key []byte) (w listWrite, ok bool, err error) {
	e, ok := t.lookup(key)
	if !ok {
		return listWrite{key: key}, false, nil
	}
	if e.typ != TypeList {
		return listWrite{}, false, ErrWrongType
	}
	return listWrite{key: key, e: e, d: listOf(e), existed: true}, true, nil
}

// edit makes w's list writable (copying it if a snapshot froze it), or
// creates an empty one for a new key.
func (w *listWrite) edit() {
	if w.nl != nil {
		return
	}
	if !w.existed {
		w.d = &deque{}
		w.nl = &large{coll: newListColl(w.d)}
		return
	}
	w.nl = w.e.big.edit()
	w.d = w.nl.coll.(*listColl).d
}

// commit installs the changed list, or deletes the key (with a "del"
// event) when the list is empty.
func (t *txn) commitList(w *listWrite) {
	if w.d.n == 0 {
		if w.existed {
			t.del(w.key)
			t.event(EventGeneric, "del", w.key)
		}
		return
	}
	w.nl.coll = newListColl(w.d)
	t.put(w.key, entry{typ: TypeList, big: w.nl, exp: w.e.exp})
}

// listEnd reports whether end (an op's N or At) is the head.
func listEnd(end int64) (left bool) { return end == listLeft }

// popEvent is the event name of a pop at the head or the tail.
func popEvent(left bool) string {
	if left {
		return "lpop"
	}
	return "rpop"
}

// pushEvent is the event name of a push at the head or the tail.
func pushEvent(left bool) string {
	if left {
		return "lpush"
	}
	return "rpush"
}

func (t *txn) lpush(op *Op) Result {
	w, ok, err := t.lookupList(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok && op.Has(XX) {
		return Int(0)
	}
	left := op.Kind == KindLPush
	w.edit()
	for _, a := range op.Args {
		w.d.push(a, left)
	}
	t.commitList(&w)
	t.event(EventList, pushEvent(left), op.Key)
	return Int(int64(w.d.n))
}

func (t *txn) lpop(op *Op) Result {
	left := op.Kind == KindLPop
	w, ok, err := t.lookupList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok && op.Has(HasCount):
		return Result{Kind: RNilList}
	case !ok:
		return Nil()
	case op.Has(HasCount) && op.N == 0:
		return Result{Kind: RList}
	}
	w.edit()
	var res Result
	if op.Has(HasCount) {
		k := int(min(op.N, int64(w.d.n)))
		res = Result{Kind: RList, Vals: w.d.popN(make([]Val, 0, k), k, left)}
	} else {
		res = Str(w.d.pop(left))
		w.d.shrink()
	}
	t.event(EventList, popEvent(left), op.Key)
	t.commitList(&w)
	return res
}

func (t *txn) lrange(op *Op) Result {
	l, ok, err := t.readList(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Result{Kind: RList}
	}
	lo, hi, ok := l.span(op.N, op.At)
	if !ok {
		return Result{Kind: RList}
	}
	return Result{Kind: RList, Vals: l.vals(valBuf(op.Scratch, hi-lo+1), lo, hi, false)}
}

func (t *txn) llen(op *Op) Result {
	l, ok, err := t.readList(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	return Int(int64(l.n))
}

func (t *txn) lindex(op *Op) Result {
	l, ok, err := t.readList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok && op.Has(XX):
		return Err(ErrNoSuchKey)
	case !ok:
		return Nil()
	}
	i, ok := l.index(op.N)
	if !ok {
		return Nil()
	}
	return Str(string(l.at(i)))
}

func (t *txn) lset(op *Op) Result {
	w, ok, err := t.lookupList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok:
		return Err(ErrNoSuchKey)
	}
	i, ok := w.d.index(op.N)
	if !ok {
		return Err(ErrIndexRange)
	}
	w.edit()
	w.d.setAt(i, op.Args[0])
	t.commitList(&w)
	t.event(EventList, "lset", op.Key)
	return OK()
}

func (t *txn) lrem(op *Op) Result {
	w, ok, err := t.lookupList(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	elem := string(op.Args[0])
	d := w.d
	lo, hi := 0, d.n-1
	found := false
	switch {
	case op.N >= 0:
		// Up to count matches from the head: hi is the last one's index.
		var seen int64
		for i, v := range d.from(0) {
			if string(v) == elem {
				found = true
				seen++
				if seen == op.N {
					hi = i
					break
				}
			}
		}
	default:
		var seen int64
		for i, v := range d.backFrom(d.n - 1) {
			if string(v) == elem {
				found = true
				seen++
				if seen == -op.N {
					lo = i
					break
				}
			}
		}
	}
	if !found {
		return Int(0)
	}
	w.edit()
	removed := w.d.removeIn(elem, lo, hi)
	t.event(EventList, "lrem", op.Key)
	t.commitList(&w)
	return Int(int64(removed))
}

func (t *txn) ltrim(op *Op) Result {
	w, ok, err := t.lookupList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok:
		return OK()
	}
	n := w.d.n
	l, r := n, 0
	if lo, hi, ok := w.d.span(op.N, op.At); ok {
		l, r = lo, n-hi-1
	}
	w.edit()
	w.d.trim(l, r)
	t.event(EventList, "ltrim", op.Key)
	t.commitList(&w)
	return OK()
}

func (t *txn) linsert(op *Op) Result {
	w, ok, err := t.lookupList(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	pivot := op.Args[0]
	at := -1
	for i, v := range w.d.from(0) {
		if bytes.Equal(v, pivot) {
			at = i
			break
		}
	}
	if at < 0 {
		return Int(-1)
	}
	if op.N == 1 {
		at++
	}
	w.edit()
	w.d.insert(at, op.Args[1])
	t.commitList(&w)
	t.event(EventList, "linsert", op.Key)
	return Int(int64(w.d.n))
}

// lpos answers LPOS as Redis 7.0 does: matches counted from the head (or
// from the tail for a negative rank), skipping rank-1 of them, within
// the first MAXLEN elements scanned.
func (t *txn) lpos(op *Op) Result {
	withCount := op.Has(HasCount)
	l, ok, err := t.readList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok && withCount:
		return Result{Kind: RInts}
	case !ok:
		return Nil()
	}
	elem := string(op.Args[0])
	rank, fromTail := op.N, false
	if rank < 0 {
		fromTail = true
		rank = -rank
		if rank < 0 { // math.MinInt64: Redis's negation overflows and every match qualifies
			rank = 1
		}
	}
	maxlen := int64(l.n)
	if op.Limit > 0 && op.Limit < maxlen {
		maxlen = op.Limit
	}
	var ints []int64
	var matches int64
	elems := l.from(0)
	if fromTail {
		elems = l.backFrom(l.n - 1)
	}
	var scanned int64
	for i, v := range elems {
		if scanned++; scanned > maxlen {
			break
		}
		if string(v) != elem {
			continue
		}
		matches++
		if matches < rank {
			continue
		}
		if !withCount {
			return Int(int64(i))
		}
		ints = append(ints, int64(i))
		if op.At > 0 && int64(len(ints)) >= op.At {
			break
		}
	}
	if !withCount {
		return Nil()
	}
	return Result{Kind: RInts, Ints: ints}
}

// lmove moves one element from the source's end N to the destination's
// end At (LMOVE, RPOPLPUSH, BLMOVE, BRPOPLPUSH). Events as Redis: the
// push on the destination, then the pop on the source, then "del" if the
// source is left empty.
func (t *txn) lmove(op *Op) Result {
	src, ok, err := t.lookupList(op.Key)
	switch {
	case err != nil:
		return Err(err)
	case !ok && op.Kind == KindBLMove:
		return t.blockingEmpty(op)
	case !ok:
		return Nil()
	}
	dstKey := op.Args[0]
	from, to := listEnd(op.N), listEnd(op.At)
	if string(dstKey) == string(op.Key) {
		src.edit()
		v := src.d.pop(from)
		src.d.pushString(v, to)
		t.commitList(&src)
		t.event(EventList, pushEvent(to), dstKey)
		t.event(EventList, popEvent(from), op.Key)
		return Str(v)
	}
	dst, _, err := t.lookupList(dstKey)
	if err != nil {
		return Err(err)
	}
	src.edit()
	v := src.d.pop(from)
	src.d.shrink()
	dst.edit()
	dst.d.pushString(v, to)
	t.commitList(&dst)
	t.event(EventList, pushEvent(to), dstKey)
	t.event(EventList, popEvent(from), op.Key)
	t.commitList(&src)
	return Str(v)
}

// firstList returns the first of keys that holds a list (non-empty, as
// every stored list is). A key of another type met first is an error.
func (t *txn) firstList(keys [][]byte) (w listWrite, ok bool, err error) {
	for _, k := range keys {
		w, ok, err := t.lookupList(k)
		if err != nil || ok {
			return w, ok, err
		}
	}
	return listWrite{}, false, nil
}

// bpop pops one element from the first non-empty list (BLPOP, BRPOP) and
// answers [key, element].
func (t *txn) bpop(op *Op) Result {
	w, ok, err := t.firstList(op.Args)
	switch {
	case err != nil:
		return Err(err)
	case !ok:
		return t.blockingEmpty(op)
	}
	left := listEnd(op.N)
	w.edit()
	v := w.d.pop(left)
	w.d.shrink()
	t.event(EventList, popEvent(left), w.key)
	t.commitList(&w)
	return Result{Kind: RList, Vals: []Val{{S: string(w.key)}, {S: v}}}
}

// lmpop pops up to At elements from the first non-empty list (LMPOP,
// BLMPOP) and answers [key, [elements]].
func (t *txn) lmpop(op *Op) Result {
	w, ok, err := t.firstList(op.Args)
	switch {
	case err != nil:
		return Err(err)
	case !ok && op.Kind == KindBLMPop:
		return t.blockingEmpty(op)
	case !ok:
		return Result{Kind: RNilList}
	}
	left := listEnd(op.N)
	w.edit()
	k := int(min(max(op.At, 1), int64(w.d.n)))
	vals := w.d.popN(make([]Val, 0, k), k, left)
	t.event(EventList, popEvent(left), w.key)
	t.commitList(&w)
	return Result{Kind: RMulti, Subs: []Result{Str(string(w.key)), {Kind: RList, Vals: vals}}}
}

// blockingEmpty answers a blocking list command that finds nothing to
// pop: ErrListBlocking, on which the server waits; inside MULTI or a
// script, where nothing blocks, nil as Redis answers there (a null array,
// or for BLMOVE a null bulk string).
func (t *txn) blockingEmpty(op *Op) Result {
	switch {
	case !t.nonBlocking:
		return Err(ErrListBlocking)
	case op.Kind == KindBLMove:
		return Nil()
	}
	return Result{Kind: RNilList}
}
