package shard

// No-op writes.
//
// Redis does not propagate a write that changed nothing (SADD of members
// already in the set, ZADD of the scores members already have, SREM or
// ZREM of absent members, SET NX of a key that exists): nothing reaches
// its AOF or replicas. Session stores send such writes all the time
// (Spring Session re-adds a session to its principal's index on every
// save; every client waiting for a held lock retries SET NX). Unchanged
// lets the leader answer them the same way, as a read, instead of
// appending them to the log. Writes that usually do change something
// (EXPIRE, DEL, HDEL of a live session) are left out: checking them first
// would cost a second lookup on the common path.

// MayBeUnchanged reports whether Unchanged may answer op: a cheap test
// of its kind and flags, so that writes that always change something
// (a plain SET, ZADD INCR) cost no lookup.
func MayBeUnchanged(op *Op) bool {
	switch op.Kind {
	case KindSAdd, KindSRem, KindZRem:
		return true
	case KindZAdd:
		return op.N&ZAddIncr == 0
	case KindSet:
		// SET ... GET answers the old value: left to the log.
		return op.Flags&(NX|XX) != 0 && !op.Has(Get)
	case KindHSet:
		return op.Has(NX) // HSETNX
	}
	return IsBlockingTry(op) // nothing to pop: answered ErrListBlocking
}

// IsBlockingTry reports whether op is a try of a blocking pop (BLPOP,
// BLMOVE, BLMPOP, BZPOPMIN, BZMPOP...), which Unchanged answers
// ErrListBlocking when there is nothing to pop.
func IsBlockingTry(op *Op) bool {
	switch op.Kind {
	case KindBPop, KindBLMove, KindBLMPop, KindBZPop, KindBZMPop:
		return true
	}
	return false
}

// Unchanged reports whether write op, applied now, would change nothing
// at all in the store (no value, no encoding, no deadline, no event) and
// then returns the reply it would give. ok is false when op would change
// something, or might: the caller must then apply it as usual. It counts
// no hit or miss and leaves the access clock alone, as the write would.
//
// The answer is only as fresh as the store: a caller that replies with
// it must be allowed to answer a read of op's keys locally at this point
// (the leader, within its lease, with the connection's own earlier
// writes applied).
func (s *Store) Unchanged(op *Op) (res Result, ok bool) {
	if !MayBeUnchanged(op) {
		return Result{}, false
	}
	var t txn
	s.beginRead(&t, op)
	defer t.end()
	if !t.unchanged(op) {
		return Result{}, false
	}
	switch {
	case op.Kind == KindSet:
		return Nil(), true
	case IsBlockingTry(op):
		return Err(ErrListBlocking), true
	}
	return Int(0), true
}

// unchanged reports whether op would leave the store as it is; SET then
// replies nil, every other kind 0.
func (t *txn) unchanged(op *Op) bool {
	if k := op.Kind; k == KindBPop || k == KindBLMPop || k == KindBZPop || k == KindBZMPop {
		// No key there: nothing to pop (a key of another type must get
		// WRONGTYPE from Apply).
		for _, k := range op.Args {
			if _, live := t.lookup(k); live {
				return false
			}
		}
		return true
	}
	e, live := t.lookup(op.Key)
	switch op.Kind {
	case KindSet:
		return op.Has(NX) && live || op.Has(XX) && !live
	case KindBLMove:
		return !live
	case KindHSet:
		// HSETNX of a field that is there.
		if !live || e.typ != TypeHash || len(op.Args) != 2 {
			return false
		}
		_, _, found := hashGet(e, op.Args[0], t.now)
		return found
	case KindSAdd:
		if !live || e.typ != TypeSet {
			return false
		}
		d := e.big.coll.(*setColl).d
		if d.wouldConvert(len(op.Args)) {
			return false
		}
		for _, m := range op.Args {
			if !d.has(m) {
				return false
			}
		}
		return true
	case KindSRem:
		if !live {
			return true
		}
		if e.typ != TypeSet {
			return false
		}
		d := e.big.coll.(*setColl).d
		for _, m := range op.Args {
			if d.has(m) {
				return false
			}
		}
		return true
	case KindZAdd:
		return zaddUnchanged(op, e, live)
	case KindZRem:
		if !live {
			return true
		}
		if e.typ != TypeZSet {
			return false
		}
		z := zsetOf(e)
		for _, m := range op.Args {
			if _, ok := z.dict[string(m)]; ok {
				return false
			}
		}
		return true
	}
	return false
}

// zaddUnchanged reports whether ZADD op (not INCR) would neither add a
// member nor change a score of key's entry e (live: the key exists).
func zaddUnchanged(op *Op, e entry, live bool) bool {
	xx, nx, gt, lt := op.Has(XX), op.Has(NX), op.Has(GT), op.Has(LT)
	if !live {
		return xx // XX on an absent key adds nothing and creates nothing
	}
	if e.typ != TypeZSet {
		return false
	}
	z := zsetOf(e)
	for i := 0; i+1 < len(op.Args); i += 2 {
		s, ok := ParseScore(op.Args[i])
		if !ok {
			return false
		}
		cur, ok := z.dict[string(op.Args[i+1])]
		switch {
		case !ok && xx, ok && nx:
		case !ok:
			return false
		case lt && s >= cur, gt && s <= cur, s == cur:
		default:
			return false
		}
	}
	return true
}
