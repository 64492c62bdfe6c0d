package shard

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// access marks key's live entry e as read at t.now: it updates the access
// clock (last access second and LFU counter, see touched) and writes the
// map only when that value changes, which is at most once a second per key
// plus the LFU counter's (logarithmically rarer) increments.
func (t *txn) access(key []byte, e entry) {
	if t.noTouch {
		return
	}
	if lru := touched(e.lru, t.now, key); lru != e.lru {
		e.lru = lru
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
		t.miss(op.Key)
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
	switch {
	case op.Has(KeepTTL) && had:
		// old is live, so its deadline has not passed: Redis keeps it
		// even during the deadline's own millisecond.
		e.exp = old.exp
	case op.At != 0 && op.At <= t.now:
		if t.del(op.Key) { // already expired: Redis deletes the key
			t.event(EventGeneric, "del", op.Key)
		}
		return reply
	}
	t.put(op.Key, e)
	t.event(EventString, "set", op.Key)
	if op.At != 0 {
		t.event(EventGeneric, "expire", op.Key)
	}
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
			t.event(EventGeneric, "persist", op.Key)
		}
	case op.Has(SetExpiry):
		if op.At <= t.now {
			t.del(op.Key)
			t.event(EventGeneric, "del", op.Key)
		} else {
			e.exp = op.At
			t.put(op.Key, e)
			t.event(EventGeneric, "expire", op.Key)
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
	t.event(EventGeneric, "del", op.Key)
	return Str(s)
}

func (t *txn) mget(op *Op) Result {
	vals := valBuf(op.Scratch, len(op.Args))
	for _, k := range op.Args {
		e, ok := t.lookup(k)
		if !ok || e.typ != TypeString {
			vals = append(vals, Val{Nil: true})
			continue
		}
		vals = append(vals, Val{S: e.s})
	}
	return Result{Kind: RList, Vals: vals}
}

func (t *txn) mset(op *Op) Result {
	for i := 0; i+1 < len(op.Args); i += 2 {
		t.put(op.Args[i], entry{s: string(op.Args[i+1]), typ: TypeString})
		t.event(EventString, "set", op.Args[i])
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
	t.event(EventString, "incrby", op.Key)
	return Int(cur)
}

// incrByFloat adds a long double increment (Args[0], as text; ops
// encoded before the text was carried hold it in F) in Redis's order of
// checks: the key's type, the stored value, then the increment.
func (t *txn) incrByFloat(op *Op) Result {
	e, had := t.lookup(op.Key)
	var cur LongDouble
	if had {
		if e.typ != TypeString {
			return Err(ErrWrongType)
		}
		v, ok := ParseLongDouble(e.s)
		if !ok {
			return Err(ErrNotFloat)
		}
		cur = v
	}
	incr := LongDoubleFromFloat64(op.F)
	if len(op.Args) > 0 {
		v, ok := ParseLongDouble(op.Args[0])
		if !ok {
			return Err(ErrNotFloat)
		}
		incr = v
	}
	sum, ok := cur.Add(incr)
	if !ok {
		return Err(ErrNaN)
	}
	s := sum.String()
	t.put(op.Key, entry{s: s, typ: TypeString, exp: e.exp, enc: encFloat})
	t.event(EventString, "incrbyfloat", op.Key)
	return Str(s)
}

func (t *txn) append(op *Op) Result {
	e, had := t.lookup(op.Key)
	if had && e.typ != TypeString {
		return Err(ErrWrongType)
	}
	n := int64(len(e.s)) + int64(len(op.Args[0]))
	if n > op.maxBulkLen() {
		return Err(ErrStringTooLong)
	}
	e.s += string(op.Args[0])
	e.typ = TypeString
	e.enc = encRaw
	if !had {
		e.enc = encByContent // APPEND to a missing key stores its argument as SET would
	}
	t.put(op.Key, e)
	t.event(EventString, "append", op.Key)
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
	if op.N < 0 || op.N > op.maxBulkLen()-int64(len(val)) {
		return Err(ErrStringTooLong) // also catches offset+len overflowing
	}
	end := op.N + int64(len(val))
	size := int64(len(e.s))
	if end > size {
		size = end
	}
	b := make([]byte, size)
	copy(b, e.s)
	copy(b[op.N:], val)
	e.s = string(b)
	e.typ = TypeString
	e.enc = encRaw // built in place, even for a new key
	t.put(op.Key, e)
	t.event(EventString, "setrange", op.Key)
	return Int(size)
}

// LongDouble is a number in the C long double that Redis computes
// INCRBYFLOAT and HINCRBYFLOAT in: on x86-64, the 80-bit extended format
// with a 64-bit mantissa and a 15-bit exponent. It is emulated with
// math/big, so that results match Redis digit for digit (0.1 + 0.2 gives
// 0.3 there, where float64 gives 0.30000000000000004). The zero value is
// 0. A LongDouble is immutable and safe to share.
type LongDouble struct{ f *big.Float }

// Limits of the x86-64 long double, as exponents of big.Float.MantExp
// (x = mant × 2**exp with 0.5 <= |mant| < 1): the largest finite value is
// just below 2**16384, and the smallest (subnormal) one is 2**-16445, to
// which strtold still rounds values down to half of it (2**-16446, whose
// exponent here is -16445). Subnormals keep the full 64-bit mantissa in
// this emulation; at the 17 decimals Redis prints they are all 0.
const (
	ldPrec   = 64
	ldMaxExp = 16384
	ldMinExp = -16445
	// maxLongDoubleChars is Redis's MAX_LONG_DOUBLE_CHARS: longer input
	// is not a number.
	maxLongDoubleChars = 5 * 1024
)

// LongDoubleFromFloat64 returns f as a LongDouble (exactly). A NaN, which
// a LongDouble cannot hold, becomes an infinity, so that adding it fails
// as adding a NaN does.
func LongDoubleFromFloat64(f float64) LongDouble {
	if f == 0 && !math.Signbit(f) {
		return LongDouble{}
	}
	if math.IsNaN(f) {
		return LongDouble{new(big.Float).SetInf(false)}
	}
	return LongDouble{new(big.Float).SetPrec(ldPrec).SetFloat64(f)}
}

func (x LongDouble) big() *big.Float {
	if x.f == nil {
		return new(big.Float).SetPrec(ldPrec)
	}
	return x.f
}

// IsInf reports whether x is an infinity.
func (x LongDouble) IsInf() bool { return x.f != nil && x.f.IsInf() }

// ParseLongDouble parses b as Redis's string2ld does with strtold: a
// decimal or hexadecimal (0x) floating-point number, or inf/infinity, with
// an optional sign, no space before or after, no NaN, not out of the long
// double's range, shorter than 5 KiB, and nothing after the number (not
// even a NUL byte).
func ParseLongDouble[T ~string | ~[]byte](b T) (LongDouble, bool) {
	if len(b) == 0 || len(b) >= maxLongDoubleChars || isSpace(b[0]) {
		return LongDouble{}, false
	}
	s := string(b)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	body := s[i:]
	if strings.EqualFold(body, "inf") || strings.EqualFold(body, "infinity") {
		return LongDouble{new(big.Float).SetInf(s[0] == '-')}, true
	}
	mag, zero, ok := scanFloatSyntax(body)
	if !ok {
		return LongDouble{}, false
	}
	if zero {
		f := new(big.Float).SetPrec(ldPrec)
		if s[0] == '-' {
			f.Neg(f)
		}
		return LongDouble{f}, true
	}
	// Settle far out-of-range exponents before math/big works through
	// them: strtold answers ERANGE, which Redis refuses. mag is within a
	// few bits of the truth; the exact check follows the parse.
	if mag > ldMaxExp+16 || mag < ldMinExp-16 {
		return LongDouble{}, false
	}
	f, _, err := big.ParseFloat(s, 0, ldPrec, big.ToNearestEven)
	if err != nil || f.IsInf() {
		return LongDouble{}, false
	}
	mant := new(big.Float)
	if e := f.MantExp(mant); e > ldMaxExp || e < ldMinExp ||
		(e == ldMinExp && mant.Abs(mant).Cmp(big.NewFloat(0.5)) == 0) {
		return LongDouble{}, false // exactly half the smallest rounds to 0 (even)
	}
	return LongDouble{f}, true
}

// scanFloatSyntax checks that s (without its sign) is a whole strtold
// number: decimal digits with an optional point and e exponent, or 0x hex
// digits with an optional point and p exponent. It returns the value's
// approximate binary magnitude (log2), and whether every digit is zero.
func scanFloatSyntax(s string) (mag int64, zero, ok bool) {
	hex := len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
	digit, expChar, digitBits := isDigit, byte('e'), 3.3219280948873623 // log2(10)
	if hex {
		s = s[2:]
		digit, expChar, digitBits = isHexDigit, 'p', 4
	}
	i, digits := 0, 0
	lead := int64(0) // position of the first non-zero digit, in digits, relative to the point
	seenNonZero := false
	intDigits := 0
	for i < len(s) && digit(s[i]) {
		if s[i] != '0' && !seenNonZero {
			seenNonZero = true
		}
		if seenNonZero {
			intDigits++
		}
		i++
		digits++
	}
	lead = int64(intDigits)
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && digit(s[i]) {
			if !seenNonZero {
				if s[i] != '0' {
					seenNonZero = true
				} else {
					lead--
				}
			}
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false, false
	}
	var exp int64
	if i < len(s) && (s[i]|0x20) == expChar {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			if exp < 1<<40 {
				exp = exp*10 + int64(s[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, false, false
		}
		if neg {
			exp = -exp
		}
	}
	if i != len(s) {
		return 0, false, false
	}
	if !seenNonZero {
		return 0, true, true
	}
	if hex {
		return int64(float64(lead)*digitBits) + exp, false, true // p exponents are binary
	}
	return int64(float64(lead+exp) * digitBits), false, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// Add returns x + y rounded to a long double. ok is false when the sum is
// infinite or not a number (Redis's "increment would produce NaN or
// Infinity").
func (x LongDouble) Add(y LongDouble) (sum LongDouble, ok bool) {
	a, b := x.big(), y.big()
	if a.IsInf() || b.IsInf() {
		return LongDouble{}, false
	}
	z := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(a, b)
	if z.Sign() != 0 && z.MantExp(nil) > ldMaxExp {
		return LongDouble{}, false
	}
	return LongDouble{z}, true
}

// String formats x as Redis stores INCRBYFLOAT results (ld2string in
// LD_STR_HUMAN mode): printf's %.17Lf, then trailing zeros and a trailing
// point removed, and "-0" written "0".
func (x LongDouble) String() string {
	f := x.big()
	if f.IsInf() {
		if f.Signbit() {
			return "-inf"
		}
		return "inf"
	}
	s := f.Text('f', 17)
	if strings.IndexByte(s, '.') >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}
