package shard

// Hash field expiry (Redis 7.4 and 8.0): HEXPIRE family, HTTL family,
// HPERSIST, HGETEX, HSETEX, HGETDEL. Deadlines arrive absolute (op.At, in
// Unix ms), stamped by the server. A deadline at or before the op's time
// deletes the field at once.

// Per-field reply codes of the field expiry commands, as Redis sends them.
const (
	fieldNoSuchField   = -2 // no such field (or key)
	fieldNoDeadline    = -1 // HTTL, HPERSIST: the field has no deadline
	fieldConditionFail = 0  // HEXPIRE: NX XX GT LT not met
	fieldDeadlineSet   = 1  // HEXPIRE: set; HPERSIST: removed
	fieldDeletedPast   = 2  // HEXPIRE: the deadline is not in the future: field deleted
)

// hexpire sets the deadline op.At on each field of op.Args, under the
// condition of NX, XX, GT or LT. A field without a deadline counts as
// one infinitely far: GT never applies to it and LT always does.
func (t *txn) hexpire(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	at := op.At
	codes := make([]int64, len(op.Args))
	for i, name := range op.Args {
		_, exp, ok := v.get(name)
		switch {
		case !ok:
			codes[i] = fieldNoSuchField
			continue
		case op.Has(NX) && exp != 0,
			op.Has(XX) && exp == 0,
			op.Has(GT) && (exp == 0 || exp >= at),
			op.Has(LT) && exp != 0 && exp <= at:
			codes[i] = fieldConditionFail
			continue
		}
		if at <= t.now {
			v.delete(name)
			codes[i] = fieldDeletedPast
			continue
		}
		v.setDeadline(name, at)
		codes[i] = fieldDeadlineSet
	}
	v.commit()
	set, past := false, false
	for _, c := range codes {
		set = set || c == fieldDeadlineSet
		past = past || c == fieldDeletedPast
	}
	if set {
		t.event(EventHash, "hexpire", op.Key)
	}
	t.hashDelEvents(op.Key, "hexpired", past)
	return Result{Kind: RInts, Ints: codes}
}

// httl answers HTTL (seconds left, rounded up), HPTTL (Millis),
// HEXPIRETIME (Absolute, seconds rounded up) and HPEXPIRETIME.
func (t *txn) httl(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	out := make([]int64, len(op.Args))
	for i, name := range op.Args {
		var exp int64
		found := false
		if ok {
			_, exp, found = hashGet(e, name, t.now)
		}
		switch {
		case !found:
			out[i] = fieldNoSuchField
		case exp == 0:
			out[i] = fieldNoDeadline
		case op.Has(Absolute | Millis):
			out[i] = exp
		case op.Has(Absolute):
			out[i] = (exp + 999) / 1000
		case op.Has(Millis):
			out[i] = exp - t.now
		default:
			out[i] = (exp + 999 - t.now) / 1000
		}
	}
	return Result{Kind: RInts, Ints: out}
}

// hpersist removes the deadline of each field of op.Args.
func (t *txn) hpersist(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	codes := make([]int64, len(op.Args))
	for i, name := range op.Args {
		_, exp, ok := v.get(name)
		switch {
		case !ok:
			codes[i] = fieldNoSuchField
		case exp == 0:
			codes[i] = fieldNoDeadline
		default:
			v.setDeadline(name, 0)
			codes[i] = fieldDeadlineSet
		}
	}
	v.commit()
	for _, c := range codes {
		if c == fieldDeadlineSet {
			t.event(EventHash, "hpersist", op.Key)
			break
		}
	}
	return Result{Kind: RInts, Ints: codes}
}

// hgetEx returns the values of the fields of op.Args and, for those that
// exist, sets the deadline op.At (SetExpiry: a deadline not in the future
// deletes the field) or removes it (Persist).
func (t *txn) hgetEx(op *Op) Result { return t.hgetThen(op, false) }

// hgetDel returns the values of the fields of op.Args and deletes them.
func (t *txn) hgetDel(op *Op) Result { return t.hgetThen(op, true) }

// hgetThen returns the values of the fields of op.Args (nil for a missing
// one) and changes each field that exists: deletes it (del, HGETDEL) or
// applies HGETEX's expiry options. A flag rather than a callback keeps the
// txn on its caller's stack. Events as Redis 8: "hpersist" or "hexpire"
// when a deadline changed, else "hdel" when fields were deleted; then
// "del" if the hash is gone.
func (t *txn) hgetThen(op *Op, del bool) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	vals := make([]Val, len(op.Args))
	deleted, updated := false, false
	for i, name := range op.Args {
		s, exp, ok := v.get(name)
		if !ok {
			vals[i].Nil = true
			continue
		}
		vals[i].S = s
		switch {
		case del:
			v.delete(name)
			deleted = true
		case op.Has(Persist):
			if exp != 0 {
				v.setDeadline(name, 0)
				updated = true
			}
		case op.Has(SetExpiry):
			if op.At <= t.now {
				v.delete(name)
				deleted = true
			} else {
				v.setDeadline(name, op.At)
				updated = true
			}
		}
	}
	v.commit()
	switch {
	case updated && op.Has(Persist):
		t.event(EventHash, "hpersist", op.Key)
	case updated:
		t.event(EventHash, "hexpire", op.Key)
	default:
		t.hashDelEvents(op.Key, "hdel", deleted)
	}
	return Result{Kind: RList, Vals: vals}
}

// hsetEx sets the field, value pairs of op.Args unless FNX (some field
// exists) or FXX (some field does not) forbids it, and then gives them
// the deadline op.At (SetExpiry), keeps their deadlines (KeepTTL) or
// clears them. It returns 1 if it set the fields, else 0.
func (t *txn) hsetEx(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	if op.Has(FNX) || op.Has(FXX) {
		for i := 0; i+1 < len(op.Args); i += 2 {
			_, _, ok := v.get(op.Args[i])
			if (op.Has(FXX) && !ok) || (op.Has(FNX) && ok) {
				return Int(0)
			}
		}
	}
	if len(op.Args)/2 > v.entries {
		v.toBig()
	}
	setExpiry := op.Has(SetExpiry)
	keep := setExpiry || op.Has(KeepTTL)
	for i := 0; i+1 < len(op.Args); i += 2 {
		v.setValue(i, "", i+1, keep)
		if !setExpiry {
			continue
		}
		if op.At <= t.now {
			v.delete(op.Args[i])
		} else {
			v.setDeadline(op.Args[i], op.At)
		}
	}
	v.commit()
	// Events as Redis 8: "hset", then "hdel" (a deadline in the past
	// deleted the fields, and "del" if the hash is gone) or "hexpire".
	t.event(EventHash, "hset", op.Key)
	switch {
	case setExpiry && op.At <= t.now:
		t.hashDelEvents(op.Key, "hdel", true)
	case setExpiry:
		t.event(EventHash, "hexpire", op.Key)
	}
	return Int(1)
}
