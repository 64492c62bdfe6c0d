package shard

import (
	"math"
	"strconv"
)

// Hash operations. Encodings: hash_pack.go (small hashes, packed in
// entry.s) and hash_big.go (entry.big). Field expiry commands are in
// hash_ttl.go, HSCAN and HRANDFIELD in hash_scan.go.
//
// A field whose deadline is at or before the op's time is invisible to
// every op at once (Redis hides it only once the deadline has passed, one
// millisecond later); a hash with no live field left reads as absent. Due
// fields are dropped by the next write to the hash, and by the reaper
// (KindReap), which also deletes a hash whose last field expired. Both
// count them in Stats.ExpiredFields.

// hashBufLen is how many fields of a packed hash a write decodes without
// allocating.
const hashBufLen = 16

// fieldDeadline returns the earliest field deadline of hash e, or 0. It
// is exact and O(1).
func fieldDeadline(e entry) int64 {
	if e.typ != TypeHash {
		return 0
	}
	if e.big != nil {
		return e.big.minExp
	}
	return packedFirstDeadline(e.s)
}

// hashLen returns the number of fields of hash e live at now.
func hashLen(e entry, now int64) int {
	if e.big != nil {
		return e.big.liveLen(now)
	}
	return packedLen(e.s, now)
}

// reapFields removes the fields of hash key (entry e) that are due at
// t.now and returns how many it removed. A hash left without fields is
// deleted.
func (t *txn) reapFields(key []byte, e entry) int64 {
	if e.typ != TypeHash {
		return 0
	}
	var n int64
	if e.big != nil {
		l := e.big.edit()
		n = l.reapDue(t.now)
		l.finish()
		if n > 0 {
			t.event(EventHash, "hexpired", key)
		}
		switch {
		case len(l.hash) == 0:
			t.del(key)
			t.event(EventGeneric, "del", key)
		case n > 0 || l.minExp != e.big.minExp:
			t.put(key, entry{big: l, typ: TypeHash, exp: e.exp})
		}
	} else {
		var buf [hashBufLen]pfield
		fs, expired := decodePacked(e.s, t.now, buf[:0])
		n = int64(expired)
		if n > 0 {
			t.event(EventHash, "hexpired", key)
		}
		switch {
		case n == 0:
		case len(fs) == 0:
			t.del(key)
			t.event(EventGeneric, "del", key)
		default:
			t.put(key, entry{s: encodePacked(fs, nil), typ: TypeHash, exp: e.exp})
		}
	}
	t.s.stats.ExpiredFields.Add(n)
	return n
}

// readHash returns key's hash for a read op, counting the hit or miss and
// the access. ok is false when the key is absent or has no live field.
func (t *txn) readHash(key []byte) (e entry, ok bool, err error) {
	e, ok = t.lookup(key)
	if !ok {
		t.miss(key)
		return entry{}, false, nil
	}
	if e.typ != TypeHash {
		return entry{}, false, ErrWrongType
	}
	if fe := fieldDeadline(e); expired(fe, t.now) && hashLen(e, t.now) == 0 {
		t.miss(key)
		return entry{}, false, nil
	}
	t.s.stats.Hits.Add(1)
	t.access(key, e)
	return e, true, nil
}

// hashGet returns field name of hash e if it is live at now.
func hashGet(e entry, name []byte, now int64) (v string, exp int64, ok bool) {
	if e.big != nil {
		hf, ok := e.big.get(name, now)
		return hf.v, hf.exp, ok
	}
	return packedGet(e.s, name, now)
}

// hashView is one write op's working copy of a hash: the live fields of
// a packed hash, decoded, or a big hash's map, changed in place through a
// new header. commit installs the result.
type hashView struct {
	t       *txn
	key     []byte
	args    [][]byte
	entries int      // the op's hash-max-listpack-entries
	value   int      // the op's hash-max-listpack-value
	exp     int64    // the key's deadline, kept by the write
	existed bool     // the key held a hash with a live field
	bv      *bigView // the big hash, when the key holds one (see bigView)
	fs      []pfield
	dropped int64 // due fields the write removes
	changed bool
	set     bool // a field's value was set: only then may the hash outgrow packing
}

// bigView is a big hash being written: the header as it was and the new
// one (nil until the first change). It sits behind a pointer so that
// escape analysis, which does not tell a struct's fields apart, does not
// see the headers' flow into the store as a flow of hashView.fs, and
// moves the packed fields' stack buffer to the heap.
type bigView struct {
	old, new *large
}

// openHash starts op's write to its key's hash. The packed fields may
// refer to op.Args; op's hash limits decide when the hash stops being
// packed. buf backs the fields of a packed hash.
func (t *txn) openHash(op *Op, buf []pfield) (hashView, error) {
	key := op.Key
	v := hashView{t: t, key: key, args: op.Args, fs: buf}
	v.entries, v.value = op.hashLimits()
	e, ok := t.lookup(key)
	if !ok {
		return v, nil
	}
	if e.typ != TypeHash {
		return v, ErrWrongType
	}
	if e.big != nil {
		if e.big.liveLen(t.now) == 0 {
			v.dropped = int64(len(e.big.hash))
			return v, nil
		}
		v.bv = &bigView{old: e.big}
	} else {
		var expired int
		v.fs, expired = decodePacked(e.s, t.now, buf)
		v.dropped = int64(expired)
		if len(v.fs) == 0 {
			return v, nil
		}
	}
	v.existed, v.exp = true, e.exp
	return v, nil
}

func (v *hashView) isBig() bool { return v.bv != nil }

// cur returns the big hash to read.
func (v *hashView) cur() *large {
	if v.bv.new != nil {
		return v.bv.new
	}
	return v.bv.old
}

// w returns the big hash to change.
func (v *hashView) w() *large {
	if v.bv.new == nil {
		v.bv.new = v.bv.old.edit()
	}
	return v.bv.new
}

// toBig converts a packed view to a big hash.
func (v *hashView) toBig() {
	if v.isBig() {
		return
	}
	l := newLarge(len(v.fs))
	for i := range v.fs {
		p := &v.fs[i]
		l.set(p.name(v.args), hfield{v: p.value(v.args), exp: p.exp}, hfield{}, false)
	}
	v.bv, v.fs = &bigView{new: l}, nil
	v.changed = true
}

// push appends p to a packed view. (It grows the slice by hand: an
// append stored through v would make every caller's stack buffer escape.)
func (v *hashView) push(p pfield) {
	n := len(v.fs)
	if n == cap(v.fs) {
		fs := make([]pfield, n, 2*n+hashBufLen)
		copy(fs, v.fs)
		v.fs = fs
	}
	v.fs = v.fs[:n+1]
	v.fs[n] = p
}

// get returns field name if it is live. The value never aliases the op's
// arguments.
func (v *hashView) get(name []byte) (val string, exp int64, ok bool) {
	if v.isBig() {
		hf, ok := v.cur().get(name, v.t.now)
		return hf.v, hf.exp, ok
	}
	if i := packedIndex(v.fs, v.args, name); i >= 0 {
		p := &v.fs[i]
		return p.valueView(v.args), p.exp, true
	}
	return "", 0, false
}

// setValue sets the field named by argument ni to argument vi or, when vi
// is negative, to val. keepTTL keeps a live field's deadline; otherwise
// the field loses it. It reports whether the field is new.
func (v *hashView) setValue(ni int, val string, vi int, keepTTL bool) (created bool) {
	name := v.args[ni]
	vlen := len(val)
	if vi >= 0 {
		vlen = len(v.args[vi])
	}
	if len(name) > v.value || vlen > v.value {
		v.toBig()
	}
	v.changed, v.set = true, true
	if v.isBig() {
		l := v.w()
		if vi >= 0 {
			val = string(v.args[vi])
		}
		old, had := l.hash[string(name)]
		hf := hfield{v: val}
		isLive := had && live(old.exp, v.t.now)
		if isLive && keepTTL {
			hf.exp = old.exp
		}
		if had && !isLive {
			v.dropped++
		}
		l.set(string(name), hf, old, had)
		return !isLive
	}
	i := packedIndex(v.fs, v.args, name)
	if i < 0 {
		p := pfield{fa: int32(ni + 1), v: val}
		if vi >= 0 {
			p.va = int32(vi + 1)
		}
		v.push(p)
		return true
	}
	p := &v.fs[i]
	p.v, p.va = val, 0
	if vi >= 0 {
		p.va = int32(vi + 1)
	}
	if p.exp != 0 && !keepTTL {
		moveByDeadline(v.fs, i, 0)
	}
	return false
}

// setDeadline gives the live field name the deadline at (0: none),
// moving it to its place.
func (v *hashView) setDeadline(name []byte, at int64) {
	v.changed = true
	if v.isBig() {
		l := v.w()
		old := l.hash[string(name)]
		l.set(string(name), hfield{v: old.v, exp: at}, old, true)
		return
	}
	if i := packedIndex(v.fs, v.args, name); i >= 0 {
		moveByDeadline(v.fs, i, at)
	}
}

// delete removes field name and reports whether it was live.
func (v *hashView) delete(name []byte) bool {
	if v.isBig() {
		hf, ok := v.cur().hash[string(name)]
		if !ok {
			return false
		}
		v.changed = true
		v.w().del(string(name), hf)
		if !live(hf.exp, v.t.now) {
			v.dropped++
			return false
		}
		return true
	}
	i := packedIndex(v.fs, v.args, name)
	if i < 0 {
		return false
	}
	copy(v.fs[i:], v.fs[i+1:])
	v.fs = v.fs[:len(v.fs)-1]
	v.changed = true
	return true
}

// commit installs the changed hash, or deletes the key when no field is
// left. A view without changes installs nothing. Like Redis, it converts
// a packed hash over the entry limit only when the write set a value:
// deleting fields or changing deadlines keeps the encoding.
func (v *hashView) commit() {
	if !v.changed {
		return
	}
	t := v.t
	if v.set && !v.isBig() && len(v.fs) > v.entries {
		v.toBig()
	}
	switch {
	case v.isBig():
		l := v.w()
		v.dropped += l.reapDue(t.now)
		l.finish()
		if len(l.hash) == 0 {
			t.del(v.key)
			break
		}
		t.put(v.key, entry{big: l, typ: TypeHash, exp: v.exp})
	case len(v.fs) == 0:
		t.del(v.key)
	default:
		t.put(v.key, entry{s: encodePacked(v.fs, v.args), typ: TypeHash, exp: v.exp})
	}
	if v.dropped > 0 {
		t.s.stats.ExpiredFields.Add(v.dropped)
	}
}

func (t *txn) hset(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	if op.Has(NX) {
		if _, _, ok := v.get(op.Args[0]); ok {
			return Int(0)
		}
		v.setValue(0, "", 1, false)
		v.commit()
		t.event(EventHash, "hset", op.Key)
		return Int(1)
	}
	if len(op.Args)/2 > v.entries {
		v.toBig()
	}
	var created int64
	for i := 0; i+1 < len(op.Args); i += 2 {
		if v.setValue(i, "", i+1, false) {
			created++
		}
	}
	v.commit()
	t.event(EventHash, "hset", op.Key)
	return Int(created)
}

func (t *txn) hget(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Nil()
	}
	if s, _, ok := hashGet(e, op.Args[0], t.now); ok {
		return Str(s)
	}
	return Nil()
}

func (t *txn) hmget(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	vals := valBuf(op.Scratch, len(op.Args))
	for _, name := range op.Args {
		if !ok {
			vals = append(vals, Val{Nil: true})
			continue
		}
		s, _, found := hashGet(e, name, t.now)
		vals = append(vals, Val{S: s, Nil: !found})
	}
	return Result{Kind: RList, Vals: vals}
}

// hashWhat selects what hashAll returns of each field.
type hashWhat uint8

const (
	hashFields hashWhat = 1 << iota
	hashValues
)

// hashAll returns the live fields of hash e in order: names, values, or
// name, value pairs, appended to dst[:0] when it is large enough. The
// strings alias the stored hash.
func hashAll(dst []Val, e entry, now int64, what hashWhat) []Val {
	per := 1
	if what == hashFields|hashValues {
		per = 2
	}
	if e.big != nil {
		l := e.big
		vals := valBuf(dst, per*len(l.hash))
		for k := range l.sorted().all() {
			hf := l.hash[k.f]
			if !live(hf.exp, now) {
				continue
			}
			if what&hashFields != 0 {
				vals = append(vals, Val{S: k.f})
			}
			if what&hashValues != 0 {
				vals = append(vals, Val{S: hf.v})
			}
		}
		return vals
	}
	it := newPackIter(e.s)
	vals := valBuf(dst, per*it.n)
	for it.n > 0 {
		f, v, exp := it.next()
		if !live(exp, now) {
			continue
		}
		if what&hashFields != 0 {
			vals = append(vals, Val{S: f})
		}
		if what&hashValues != 0 {
			vals = append(vals, Val{S: v})
		}
	}
	return vals
}

func (t *txn) hashList(op *Op, what hashWhat, kind ResultKind) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Result{Kind: kind}
	}
	return Result{Kind: kind, Vals: hashAll(op.Scratch, e, t.now, what)}
}

func (t *txn) hgetAll(op *Op) Result { return t.hashList(op, hashFields|hashValues, RMap) }
func (t *txn) hkeys(op *Op) Result   { return t.hashList(op, hashFields, RList) }
func (t *txn) hvals(op *Op) Result   { return t.hashList(op, hashValues, RList) }

func (t *txn) hdel(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	if !v.existed {
		return Int(0)
	}
	var n int64
	for _, name := range op.Args {
		if v.delete(name) {
			n++
		}
	}
	v.commit()
	t.hashDelEvents(op.Key, "hdel", n > 0)
	return Int(n)
}

func (t *txn) hlen(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	return Int(int64(hashLen(e, t.now)))
}

func (t *txn) hexists(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	if _, _, found := hashGet(e, op.Args[0], t.now); found {
		return Int(1)
	}
	return Int(0)
}

func (t *txn) hstrLen(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	s, _, _ := hashGet(e, op.Args[0], t.now)
	return Int(int64(len(s)))
}

// intOrErr returns Err(err) if err is set, else Int(n).
func intOrErr(n int64, err error) Result {
	if err != nil {
		return Err(err)
	}
	return Int(n)
}

func (t *txn) hincrBy(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	var cur int64
	if s, _, ok := v.get(op.Args[0]); ok {
		n, ok := ParseInt(s)
		if !ok {
			return Err(ErrHashNotInteger)
		}
		cur = n
	}
	d := op.N
	if (d < 0 && cur < 0 && d < math.MinInt64-cur) || (d > 0 && cur > 0 && d > math.MaxInt64-cur) {
		return Err(ErrOverflow)
	}
	cur += d
	v.setValue(0, strconv.FormatInt(cur, 10), -1, true)
	v.commit()
	t.event(EventHash, "hincrby", op.Key)
	return Int(cur)
}

func (t *txn) hincrByFloat(op *Op) Result {
	var buf [hashBufLen]pfield
	v, err := t.openHash(op, buf[:0])
	if err != nil {
		return Err(err)
	}
	var cur LongDouble
	if s, _, ok := v.get(op.Args[0]); ok {
		x, ok := ParseLongDouble(s)
		if !ok {
			return Err(ErrHashNotFloat)
		}
		cur = x
	}
	// The increment's text (Args[1]) is exact; F is its float64 rounding.
	incr := LongDoubleFromFloat64(op.F)
	if len(op.Args) > 1 {
		if x, ok := ParseLongDouble(op.Args[1]); ok {
			incr = x
		}
	}
	sum, ok := cur.Add(incr)
	if !ok {
		return Err(ErrNaN)
	}
	s := sum.String()
	v.setValue(0, s, -1, true)
	v.commit()
	t.event(EventHash, "hincrbyfloat", op.Key)
	return Str(s)
}

// hashDelEvents reports a hash write that removed fields: name (when
// changed), then "del" if the hash is gone.
func (t *txn) hashDelEvents(key []byte, name string, changed bool) {
	if !changed {
		return
	}
	t.event(EventHash, name, key)
	if _, ok := t.lookup(key); !ok {
		t.event(EventGeneric, "del", key)
	}
}
