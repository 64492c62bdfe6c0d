package shard

import (
	"errors"
	"math"
	"strings"
)

// Sorted sets (Redis 7.0 semantics). The value is a zset (zset_list.go)
// kept in entry.big.coll and changed in place; scores are parsed and
// formatted in zset_score.go. The server validates every argument before
// an op is built (so that syntax errors come before WRONGTYPE, as in
// Redis); Apply parses the same texts again, which cannot fail then.

// Sorted set op kinds. Persisted: never renumber or reuse.
const (
	// KindZAdd: Key, Args = score, member pairs (score texts as given);
	// Flags NX XX GT LT; N: ZAddCH | ZAddIncr. ZINCRBY is ZAddIncr.
	KindZAdd Kind = 180
	// KindZRem: Key, Args = members.
	KindZRem Kind = 181
	// KindZScore: Key, Args[0] = member.
	KindZScore Kind = 182
	// KindZMScore: Key, Args = members.
	KindZMScore Kind = 183
	// KindZCard: Key.
	KindZCard Kind = 184
	// KindZCount: Key, Args = min, max (score range texts).
	KindZCount Kind = 185
	// KindZLexCount: Key, Args = min, max (lex range texts).
	KindZLexCount Kind = 186
	// KindZRank: Key, Args[0] = member; N = 1 for ZREVRANK.
	KindZRank Kind = 187
	// KindZRange: Key, Args = min, max, offset, count (decimal texts;
	// count -1: no limit); N: ZRangeByScore | ZRangeByLex | ZRangeRev |
	// ZRangeWithScores. For a reversed score or lex range Args[0] is
	// still the lower end.
	KindZRange Kind = 188
	// KindZRemRange: Key, Args = min, max; N: 0 by rank, 1 by score,
	// 2 by lex.
	KindZRemRange Kind = 189
	// KindZPop: Key, N = count (-1: none given), At = 1 for ZPOPMAX.
	KindZPop Kind = 190
	// KindZScan: Key, N = cursor, At = count; Match: Args[0].
	KindZScan Kind = 191
)

// Kinds 192-195 and 199-203: zset_algebra.go.

// Pops from the first non-empty of several sorted sets: Args = keys, N = 1
// for the highest scores (MAX), At = count.
const (
	// KindZMPop: ZMPOP; [key, [[member, score]...]], or a null array.
	KindZMPop Kind = 196
	// KindBZMPop: BZMPOP, as ZMPOP; nothing to pop: ErrListBlocking.
	KindBZMPop Kind = 197
	// KindBZPop: BZPOPMIN, BZPOPMAX; [key, member, score]; nothing to
	// pop: ErrListBlocking.
	KindBZPop Kind = 198
)

// KindZAdd options (Op.N).
const (
	ZAddCH   = 1 << 0 // count changed members, not only added ones
	ZAddIncr = 1 << 1 // INCR (ZINCRBY): one pair, reply the new score
)

// KindZRange options (Op.N).
const (
	ZRangeByScore    = 1 << 0
	ZRangeByLex      = 1 << 1
	ZRangeRev        = 1 << 2
	ZRangeWithScores = 1 << 3
)

// KindZRemRange modes (Op.N).
const (
	ZRemByRank  = 0
	ZRemByScore = 1
	ZRemByLex   = 2
)

// ErrZSetNaN is the error of a ZADD INCR or ZINCRBY that would make a
// score NaN.
var ErrZSetNaN = errors.New("ERR resulting score is not a number (NaN)")

// zscanDefaultCount is ZSCAN's COUNT when none is given.
const zscanDefaultCount = 10

// execZSet runs a zset op.
func (t *txn) execZSet(op *Op) Result {
	switch op.Kind {
	case KindZAdd:
		return t.zadd(op)
	case KindZRem:
		return t.zrem(op)
	case KindZScore:
		return t.zscore(op)
	case KindZMScore:
		return t.zmscore(op)
	case KindZCard:
		return t.zcard(op)
	case KindZCount, KindZLexCount:
		return t.zcount(op)
	case KindZRank:
		return t.zrank(op)
	case KindZRange:
		return t.zrange(op)
	case KindZRemRange:
		return t.zremRange(op)
	case KindZPop:
		return t.zpop(op)
	case KindZMPop, KindBZMPop, KindBZPop:
		return t.zmpop(op)
	case KindZScan:
		return t.zscan(op)
	case KindZUnion, KindZInter, KindZDiff:
		return t.zalgebraRead(op)
	case KindZUnionStore, KindZInterStore, KindZDiffStore:
		return t.zalgebraStore(op)
	case KindZInterCard:
		return t.zinterCard(op)
	case KindZRangeStore:
		return t.zrangeStore(op)
	case KindZRandMember:
		return t.zrandMember(op)
	}
	return Err(ErrUnknownOp)
}

// zsetKindIsRead reports whether a zset kind only reads.
func zsetKindIsRead(k Kind) bool {
	switch k {
	case KindZScore, KindZMScore, KindZCard, KindZCount, KindZLexCount,
		KindZRank, KindZRange, KindZScan, KindZUnion, KindZInter, KindZDiff,
		KindZInterCard, KindZRandMember:
		return true
	}
	return false
}

// zsetMultiKeys returns the keys of a zset op that names several (see
// extMultiKeys).
func zsetMultiKeys(op *Op) ([][]byte, bool) {
	switch op.Kind {
	case KindZMPop, KindBZMPop, KindBZPop, KindZInterCard:
		return op.Args, true
	case KindZUnion, KindZInter, KindZDiff:
		return op.Args[:min(int(op.At), len(op.Args))], true
	case KindZUnionStore, KindZInterStore, KindZDiffStore:
		return append([][]byte{op.Key}, op.Args[:min(int(op.At), len(op.Args))]...), true
	case KindZRangeStore:
		if len(op.Args) > 0 {
			return [][]byte{op.Key, op.Args[0]}, true
		}
	}
	return nil, false
}

// zsetOf returns the zset of a zset entry.
func zsetOf(e entry) *zset { return e.big.coll.(zsetColl).z }

// readZSet returns key's sorted set for a read, counting the hit or miss
// and the access. z is nil when the key is absent.
func (t *txn) readZSet(key []byte) (*zset, error) {
	e, ok := t.lookup(key)
	if !ok {
		t.miss(key)
		return nil, nil
	}
	if e.typ != TypeZSet {
		return nil, ErrWrongType
	}
	t.s.stats.Hits.Add(1)
	t.access(key, e)
	return zsetOf(e), nil
}

// zsetWrite is one write op's access to a key's sorted set: the header
// to install (its zset may be changed in place) and the key's deadline.
type zsetWrite struct {
	key []byte
	nl  *large
	z   *zset // nil when the key holds no sorted set
	exp int64
}

// openZSet starts a write to key's sorted set. w.z is nil when the key is
// absent.
func (t *txn) openZSet(key []byte) (zsetWrite, error) {
	w := zsetWrite{key: key}
	e, ok := t.lookup(key)
	if !ok {
		return w, nil
	}
	if e.typ != TypeZSet {
		return w, ErrWrongType
	}
	w.nl = e.big.edit()
	w.z = w.nl.coll.(zsetColl).z
	w.exp = e.exp
	return w, nil
}

// create gives a write to an absent key a new, empty sorted set.
func (w *zsetWrite) create() {
	w.z = newZSet()
	w.nl = &large{}
	w.exp = 0
}

// commit installs the changed sorted set, or deletes the key (with a
// "del" event) when it is empty.
func (t *txn) commitZSet(w *zsetWrite) {
	if w.z.len() == 0 {
		if t.del(w.key) {
			t.event(EventGeneric, "del", w.key)
		}
		return
	}
	w.nl.coll = zsetColl{z: w.z, bytes: w.z.bytes}
	t.put(w.key, entry{typ: TypeZSet, big: w.nl, exp: w.exp})
}

// add inserts member m with score s into z (absent), converting the
// encoding first when the member outgrows the listpack limits, as Redis
// does.
func (z *zset) add(m string, s float64) {
	if !z.big && (z.len()+1 > zsetListpackEntries || len(m) > zsetListpackValue) {
		z.big = true
	}
	z.insert(m, normScore(z, s))
}

// normScore returns the score z stores for s: a listpack stores -0 as 0.
func normScore(z *zset, s float64) float64 {
	if !z.big && s == 0 {
		return 0
	}
	return s
}

func (t *txn) zadd(op *Op) Result {
	incr := op.N&ZAddIncr != 0
	nx, xx, gt, lt := op.Has(NX), op.Has(XX), op.Has(GT), op.Has(LT)
	w, err := t.openZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	noop := Int(0)
	if incr {
		noop = Nil()
	}
	if w.z == nil {
		if xx {
			return noop
		}
		w.create()
	}
	var added, updated, processed int64
	var last float64
	var nanErr bool
	for i := 0; i+1 < len(op.Args); i += 2 {
		s, ok := ParseScore(op.Args[i])
		if !ok {
			return Err(ErrNotFloat)
		}
		m := op.Args[i+1]
		cur, ok := w.z.dict[string(m)]
		if !ok {
			if xx {
				continue
			}
			w.z.add(string(m), s)
			added++
			processed++
			last = s
			continue
		}
		if nx {
			continue
		}
		if incr {
			s += cur
			if math.IsNaN(s) {
				nanErr = true
				break
			}
		}
		if (lt && s >= cur) || (gt && s <= cur) {
			continue
		}
		processed++
		last = s
		if s != cur {
			w.z.setScore(string(m), cur, normScore(w.z, s))
			updated++
		}
	}
	if added+updated > 0 {
		t.commitZSet(&w)
		name := "zadd"
		if incr {
			name = "zincr"
		}
		t.event(EventZSet, name, op.Key)
	}
	switch {
	case nanErr:
		return Err(ErrZSetNaN)
	case incr && processed == 0:
		return Nil()
	case incr:
		return Result{Kind: RDouble, Str: FormatScore(last)}
	case op.N&ZAddCH != 0:
		return Int(added + updated)
	}
	return Int(added)
}

func (t *txn) zrem(op *Op) Result {
	w, err := t.openZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if w.z == nil {
		return Int(0)
	}
	var n int64
	for _, m := range op.Args {
		if s, ok := w.z.dict[string(m)]; ok {
			w.z.remove(string(m), s)
			n++
		}
	}
	if n > 0 {
		t.event(EventZSet, "zrem", op.Key)
		t.commitZSet(&w)
	}
	return Int(n)
}

func (t *txn) zscore(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return Nil()
	}
	if s, ok := z.dict[string(op.Args[0])]; ok {
		return Result{Kind: RDouble, Str: FormatScore(s)}
	}
	return Nil()
}

func (t *txn) zmscore(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	vals := make([]Val, len(op.Args))
	for i, m := range op.Args {
		var s float64
		ok := false
		if z != nil {
			s, ok = z.dict[string(m)]
		}
		if !ok {
			vals[i] = Val{Nil: true}
		} else {
			vals[i] = Val{S: FormatScore(s)}
		}
	}
	return Result{Kind: RDoubles, Vals: vals}
}

func (t *txn) zcard(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return Int(0)
	}
	return Int(int64(z.len()))
}

// scoreSpan returns the ranks [start, end) of the members whose score
// is within min..max (texts).
func (z *zset) scoreSpan(minArg, maxArg []byte) (start, end int, ok bool) {
	lo, loEx, ok1 := ParseScoreBound(minArg)
	hi, hiEx, ok2 := ParseScoreBound(maxArg)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	start = z.count(func(n *zentry) bool {
		if loEx {
			return n.score <= lo
		}
		return n.score < lo
	})
	end = z.count(func(n *zentry) bool {
		if hiEx {
			return n.score < hi
		}
		return n.score <= hi
	})
	return start, max(start, end), true
}

// lexSpan returns the ranks [start, end) of the members within the lex
// range min..max (texts), reading from the top when rev, after skipping
// skip members (LIMIT's offset, >= 0) from where the reading starts.
//
// With all scores equal, the members are in lex order and the tree finds
// the span. When they are not, Redis calls the answer unspecified; this
// one is what Redis gives for a set in its listpack encoding (up to 128
// members, a linear walk), the same on every replica: the range is empty
// unless the last member is >= min and the first <= max; forward, the
// first member >= min starts the walk (nothing if it is > max), skip
// members are passed over unchecked, and the span runs while members are
// <= max; reversed, the last member <= max starts it (nothing if it is <
// min), and it runs back while members are >= min.
func (z *zset) lexSpan(minArg, maxArg []byte, rev bool, skip int64) (start, end int, ok bool) {
	lo, ok1 := parseLexBound(string(minArg))
	hi, ok2 := parseLexBound(string(maxArg))
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	below := func(n *zentry) bool { // n < min
		c := cmpLex(n.member, lo)
		if lo.ex {
			return c <= 0
		}
		return c < 0
	}
	upTo := func(n *zentry) bool { // n <= max
		c := cmpLex(n.member, hi)
		if hi.ex {
			return c < 0
		}
		return c <= 0
	}
	n := z.len()
	if n == 0 || z.first().at().score == z.last().at().score {
		start, end = z.count(below), z.count(upTo)
		switch {
		case skip >= int64(end-start):
			return end, end, true
		case rev:
			end -= int(skip)
		default:
			start += int(skip)
		}
		return start, max(start, end), true
	}
	if c := cmpBounds(lo, hi); c > 0 || c == 0 && (lo.ex || hi.ex) || below(z.last().at()) || !upTo(z.first().at()) {
		return 0, 0, true
	}
	if !rev {
		i := 0
		for p := z.first(); below(p.at()); p = p.next() {
			i++
		}
		if !upTo(z.at(i).at()) || skip >= int64(n-i) {
			return 0, 0, true
		}
		i += int(skip)
		j := i
		for p := z.at(i); p.ok() && upTo(p.at()); p = p.next() {
			j++
		}
		return i, j, true
	}
	j := n
	for p := z.last(); !upTo(p.at()); p = p.prev() {
		j--
	}
	if below(z.at(j-1).at()) || skip >= int64(j) {
		return 0, 0, true
	}
	j -= int(skip)
	i := j
	for p := z.at(j - 1); p.ok() && !below(p.at()); p = p.prev() {
		i--
	}
	return i, j, true
}

// cmpBounds compares two lex bounds' strings as Redis's sdscmplex does:
// "-" below and "+" above every string, each equal to itself.
func cmpBounds(a, b lexBound) int {
	switch {
	case a.inf == b.inf && a.inf != 0:
		return 0
	case a.inf == -1 || b.inf == 1:
		return -1
	case a.inf == 1 || b.inf == -1:
		return 1
	}
	return strings.Compare(a.s, b.s)
}

// rankSpan returns the ranks [start, end) that Redis's rank arguments
// start..stop (inclusive, negative from the end) select in a set of
// length n.
func rankSpan(startArg, stopArg []byte, n int) (start, end int, ok bool) {
	a, ok1 := ParseInt(startArg)
	b, ok2 := ParseInt(stopArg)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	lo, hi, some := indexSpan(a, b, int64(n))
	if !some {
		return 0, 0, true
	}
	return lo, hi + 1, true
}

// errRange is returned when an op's range texts do not parse (the server
// checks them first, so this does not happen).
var errRange = errors.New("ERR min or max is not a float")

func (t *txn) zcount(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return Int(0)
	}
	var start, end int
	var ok bool
	if op.Kind == KindZLexCount {
		start, end, ok = z.lexSpan(op.Args[0], op.Args[1], false, 0)
	} else {
		start, end, ok = z.scoreSpan(op.Args[0], op.Args[1])
	}
	if !ok {
		return Err(errRange)
	}
	return Int(int64(end - start))
}

func (t *txn) zrank(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return Nil()
	}
	s, ok := z.dict[string(op.Args[0])]
	if !ok {
		return Nil()
	}
	r := z.rank(string(op.Args[0]), s)
	if op.N == 1 {
		r = z.len() - 1 - r
	}
	return Int(int64(r))
}

// zpick is one member a range selects.
type zpick struct {
	m string
	s float64
}

// selectRange returns the members op (a KindZRange's N and Args) selects
// in z, in reply order.
func (z *zset) selectRange(mode int64, args [][]byte) ([]zpick, bool) {
	rev := mode&ZRangeRev != 0
	offset, limit := int64(0), int64(-1)
	limited := mode&(ZRangeByScore|ZRangeByLex) != 0 && len(args) >= 4
	if limited {
		var ok1, ok2 bool
		offset, ok1 = ParseInt(args[2])
		limit, ok2 = ParseInt(args[3])
		if !ok1 || !ok2 {
			return nil, false
		}
	}
	var start, end int
	var ok bool
	switch {
	case mode&ZRangeByScore != 0:
		start, end, ok = z.scoreSpan(args[0], args[1])
		switch {
		case offset < 0 || offset >= int64(end-start):
			start = end
		case rev:
			end -= int(offset)
		default:
			start += int(offset)
		}
	case mode&ZRangeByLex != 0:
		start, end, ok = z.lexSpan(args[0], args[1], rev, max(offset, 0))
	default:
		start, end, ok = rankSpan(args[0], args[1], z.len())
		if ok && rev {
			start, end = z.len()-end, z.len()-start
		}
	}
	if !ok {
		return nil, false
	}
	if offset < 0 {
		return nil, true
	}
	if limit >= 0 && limit < int64(end-start) {
		if rev {
			start = end - int(limit)
		} else {
			end = start + int(limit)
		}
	}
	if start >= end {
		return nil, true
	}
	out := make([]zpick, 0, end-start)
	if rev {
		for p := z.at(end - 1); len(out) < end-start; p = p.prev() {
			out = append(out, zpick{p.at().member, p.at().score})
		}
	} else {
		for p := z.at(start); len(out) < end-start; p = p.next() {
			out = append(out, zpick{p.at().member, p.at().score})
		}
	}
	return out, true
}

// pickResult is the reply to a range: members, or member, score pairs.
func pickResult(ps []zpick, withScores bool) Result {
	if !withScores {
		vals := make([]Val, len(ps))
		for i, p := range ps {
			vals[i] = Val{S: p.m}
		}
		return Result{Kind: RList, Vals: vals}
	}
	vals := make([]Val, 0, 2*len(ps))
	for _, p := range ps {
		vals = append(vals, Val{S: p.m}, Val{S: FormatScore(p.s)})
	}
	return Result{Kind: RScored, Vals: vals}
}

func (t *txn) zrange(op *Op) Result {
	withScores := op.N&ZRangeWithScores != 0
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return pickResult(nil, withScores)
	}
	ps, ok := z.selectRange(op.N, op.Args)
	if !ok {
		return Err(errRange)
	}
	return pickResult(ps, withScores)
}

func (t *txn) zremRange(op *Op) Result {
	w, err := t.openZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if w.z == nil {
		return Int(0)
	}
	var start, end int
	var ok bool
	name := "zremrangebyrank"
	switch op.N {
	case ZRemByScore:
		start, end, ok = w.z.scoreSpan(op.Args[0], op.Args[1])
		name = "zremrangebyscore"
	case ZRemByLex:
		start, end, ok = w.z.lexSpan(op.Args[0], op.Args[1], false, 0)
		name = "zremrangebylex"
	default:
		start, end, ok = rankSpan(op.Args[0], op.Args[1], w.z.len())
	}
	if !ok {
		return Err(errRange)
	}
	if start >= end {
		return Int(0)
	}
	for range end - start {
		e := *w.z.at(start).at()
		w.z.remove(e.member, e.score)
	}
	t.event(EventZSet, name, op.Key)
	t.commitZSet(&w)
	return Int(int64(end - start))
}

// zpop answers ZPOPMIN and ZPOPMAX. Without a count (N = -1) the reply
// has Int = 1, which the server writes as one flat pair in RESP3.
func (t *txn) zpop(op *Op) Result {
	res := Result{Kind: RScored}
	if op.N < 0 {
		res.Int = 1
	}
	count := op.N
	if count < 0 {
		count = 1
	}
	if count == 0 {
		// Redis still checks the type.
		if _, err := t.readZSet(op.Key); err != nil {
			return Err(err)
		}
		return res
	}
	w, err := t.openZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if w.z == nil {
		return res
	}
	k := int(min(count, int64(w.z.len())))
	vals := make([]Val, 0, 2*k)
	for range k {
		p := w.z.first()
		if op.At == 1 {
			p = w.z.last()
		}
		e := *p.at()
		vals = append(vals, Val{S: e.member}, Val{S: FormatScore(e.score)})
		w.z.remove(e.member, e.score)
	}
	name := "zpopmin"
	if op.At == 1 {
		name = "zpopmax"
	}
	t.event(EventZSet, name, op.Key)
	t.commitZSet(&w)
	res.Vals = vals
	return res
}

// zmpop pops from the first of op.Args that holds a sorted set (ZMPOP,
// BZMPOP, BZPOPMIN, BZPOPMAX), as Redis does: a key of another type
// before it is WRONGTYPE.
func (t *txn) zmpop(op *Op) Result {
	for _, key := range op.Args {
		w, err := t.openZSet(key)
		if err != nil {
			return Err(err)
		}
		if w.z == nil || w.z.len() == 0 {
			continue
		}
		k := int(min(max(op.At, 1), int64(w.z.len())))
		pairs := make([]Result, 0, k)
		for range k {
			p := w.z.first()
			if op.N == 1 {
				p = w.z.last()
			}
			e := *p.at()
			pairs = append(pairs, Result{Kind: RMulti, Subs: []Result{Str(e.member), {Kind: RDouble, Str: FormatScore(e.score)}}})
			w.z.remove(e.member, e.score)
		}
		name := "zpopmin"
		if op.N == 1 {
			name = "zpopmax"
		}
		t.event(EventZSet, name, key)
		t.commitZSet(&w)
		if op.Kind == KindBZPop {
			return Result{Kind: RMulti, Subs: []Result{Str(string(key)), pairs[0].Subs[0], pairs[0].Subs[1]}}
		}
		return Result{Kind: RMulti, Subs: []Result{Str(string(key)), {Kind: RMulti, Subs: pairs}}}
	}
	if op.Kind == KindZMPop {
		return Result{Kind: RNilList}
	}
	return t.blockingEmpty(op)
}

// zscan answers ZSCAN. A listpack-encoded set is returned whole with
// cursor 0, as Redis does; a bigger one is walked in xxhash order, the
// cursor being the hash of the next member (as HSCAN, hash_scan.go).
func (t *txn) zscan(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if z == nil {
		return Result{Kind: RScan}
	}
	var pat []byte
	if op.Has(Match) {
		pat = op.Args[0]
	}
	var scratch []byte
	match := func(m string) bool {
		if pat == nil {
			return true
		}
		scratch = append(scratch[:0], m...)
		return globMatch(pat, scratch)
	}
	var vals []Val
	if !z.big {
		for p := z.first(); p.ok(); p = p.next() {
			if e := p.at(); match(e.member) {
				vals = append(vals, Val{S: e.member}, Val{S: formatListpackScore(e.score)})
			}
		}
		return Result{Kind: RScan, Vals: vals}
	}
	count := int(op.At)
	if count <= 0 {
		count = zscanDefaultCount
	}
	next := scanOrder(z.sorted(), uint64(op.N), count, func(m string) {
		if match(m) {
			vals = append(vals, Val{S: m}, Val{S: FormatScore(z.dict[m])})
		}
	})
	return Result{Kind: RScan, Int: int64(next), Vals: vals}
}
