package shard

import (
	"math"
	"strconv"
)

// access marks key's entry e as used now (LRU clock, seconds). It writes
// the map at most once a second per key.
func (t *txn) access(key []byte, e entry) {
	now := uint32(t.now / 1000)
	if e.lru != now {
		e.lru = now
		t.stripe(key).m[string(key)] = e
	}
}

// lookupString returns key's live string value; ok is false when absent.
func (t *txn) lookupString(key []byte) (s string, ok bool, err error) {
	e, ok := t.lookup(key)
	if !ok {
		return "", false, nil
	}
	if e.typ != TypeString {
		return "", false, ErrWrongType
	}
	return e.s, true, nil
}

func (t *txn) get(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok {
		t.s.stats.Misses.Add(1)
		return Nil()
	}
	if e.typ != TypeString {
		return Err(ErrWrongType)
	}
	t.s.stats.Hits.Add(1)
	t.access(op.Key, e)
	return Str(e.s)
}

func (t *txn) set(op *Op) Result {
	old, had := t.lookup(op.Key)
	if op.Has(Get) && had && old.typ != TypeString {
		return Err(ErrWrongType)
	}
	reply := OK()
	if op.Has(Get) {
		reply = Nil()
		if had {
			reply = Str(old.s)
		}
	}
	if (op.Has(NX) && had) || (op.Has(XX) && !had) {
		if op.Has(Get) {
			return reply
		}
		return Nil()
	}
	e := entry{s: string(op.Args[0]), typ: TypeString, exp: op.At}
	if op.Has(KeepTTL) && had {
		e.exp = old.exp
	}
	if e.exp != 0 && e.exp <= t.now {
		t.del(op.Key) // already expired: Redis deletes the key
		return reply
	}
	t.put(op.Key, e)
	return reply
}

func (t *txn) getEx(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok {
		return Nil()
	}
	if e.typ != TypeString {
		return Err(ErrWrongType)
	}
	switch {
	case op.Has(Persist):
		if e.exp != 0 {
			e.exp = 0
			t.put(op.Key, e)
		}
	case op.Has(SetExpiry):
		if op.At <= t.now {
			t.del(op.Key)
		} else {
			e.exp = op.At
			t.put(op.Key, e)
		}
	}
	return Str(e.s)
}

func (t *txn) getDel(op *Op) Result {
	s, ok, err := t.lookupString(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Nil()
	}
	t.del(op.Key)
	return Str(s)
}

func (t *txn) mget(op *Op) Result {
	vals := make([]Val, len(op.Args))
	for i, k := range op.Args {
		e, ok := t.lookup(k)
		if !ok || e.typ != TypeString {
			vals[i] = Val{Nil: true}
			continue
		}
		vals[i] = Val{S: e.s}
	}
	return Result{Kind: RList, Vals: vals}
}

func (t *txn) mset(op *Op) Result {
	for i := 0; i+1 < len(op.Args); i += 2 {
		t.put(op.Args[i], entry{s: string(op.Args[i+1]), typ: TypeString})
	}
	return OK()
}

func (t *txn) msetNX(op *Op) Result {
	for i := 0; i < len(op.Args); i += 2 {
		if _, ok := t.lookup(op.Args[i]); ok {
			return Int(0)
		}
	}
	t.mset(op)
	return Int(1)
}

// ParseInt parses b the way Redis's string2ll does: optional '-', no '+',
// no spaces, no leading zeros, within int64.
func ParseInt[T ~string | ~[]byte](b T) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	p := b
	if neg {
		p = b[1:]
	}
	if len(p) == 0 || p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// ParseFloat parses b the way Redis's string2ld does: no leading or
// trailing space, no NaN.
func ParseFloat[T ~string | ~[]byte](b T) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) || isSpace(b[len(b)-1]) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && !math.IsInf(f, 0) {
			return f, true // underflow to 0 or denormal: strtold accepts it
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// FormatFloat formats f as Redis replies with INCRBYFLOAT: fixed point,
// no exponent, no trailing zeros.
func FormatFloat(f float64) string {
	if f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func (t *txn) incrBy(op *Op) Result {
	e, had := t.lookup(op.Key)
	var cur int64
	if had {
		if e.typ != TypeString {
			return Err(ErrWrongType)
		}
		v, ok := ParseInt(e.s)
		if !ok {
			return Err(ErrNotInteger)
		}
		cur = v
	}
	d := op.N
	if (d > 0 && cur > math.MaxInt64-d) || (d < 0 && cur < math.MinInt64-d) {
		return Err(ErrOverflow)
	}
	cur += d
	t.put(op.Key, entry{s: strconv.FormatInt(cur, 10), typ: TypeString, exp: e.exp})
	return Int(cur)
}

func (t *txn) incrByFloat(op *Op) Result {
	e, had := t.lookup(op.Key)
	var cur float64
	if had {
		if e.typ != TypeString {
			return Err(ErrWrongType)
		}
		v, ok := ParseFloat(e.s)
		if !ok {
			return Err(ErrNotFloat)
		}
		cur = v
	}
	cur += op.F
	if math.IsNaN(cur) || math.IsInf(cur, 0) {
		return Err(ErrNaN)
	}
	s := FormatFloat(cur)
	t.put(op.Key, entry{s: s, typ: TypeString, exp: e.exp})
	return Str(s)
}

func (t *txn) append(op *Op) Result {
	e, had := t.lookup(op.Key)
	if had && e.typ != TypeString {
		return Err(ErrWrongType)
	}
	n := int64(len(e.s)) + int64(len(op.Args[0]))
	if n > t.s.cfg.MaxBulkLen {
		return Err(ErrStringTooLong)
	}
	e.s += string(op.Args[0])
	e.typ = TypeString
	t.put(op.Key, e)
	return Int(n)
}

func (t *txn) strLen(op *Op) Result {
	s, _, err := t.lookupString(op.Key)
	if err != nil {
		return Err(err)
	}
	return Int(int64(len(s)))
}

func (t *txn) getRange(op *Op) Result {
	s, _, err := t.lookupString(op.Key)
	if err != nil {
		return Err(err)
	}
	start, end, n := op.N, op.At, int64(len(s))
	if start < 0 && end < 0 && start > end {
		return Str("")
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return Str("")
	}
	return Str(s[start : end+1])
}

func (t *txn) setRange(op *Op) Result {
	e, had := t.lookup(op.Key)
	if had && e.typ != TypeString {
		return Err(ErrWrongType)
	}
	val := op.Args[0]
	if len(val) == 0 {
		return Int(int64(len(e.s)))
	}
	end := op.N + int64(len(val))
	if end > t.s.cfg.MaxBulkLen {
		return Err(ErrStringTooLong)
	}
	size := int64(len(e.s))
	if end > size {
		size = end
	}
	b := make([]byte, size)
	copy(b, e.s)
	copy(b[op.N:], val)
	e.s = string(b)
	e.typ = TypeString
	t.put(op.Key, e)
	return Int(size)
}
