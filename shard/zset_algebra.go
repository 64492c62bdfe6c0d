package shard

import (
	"errors"
	"math"
	"slices"
)

// Sorted-set algebra (ZUNION, ZINTER, ZDIFF and their STORE forms,
// ZINTERCARD), ZRANGESTORE and ZRANDMEMBER, as Redis 7.0's t_zset.c
// computes them. A plain set given as a source counts each member with
// score 1, as in Redis.

// Algebra and range-store op kinds (sorted sets own 180-219). Persisted:
// never renumber or reuse.
const (
	// KindZUnionStore: Key = destination; Args = At source keys, then
	// (when weights were given) At weight texts; N = aggregate
	// (ZAggSum, ZAggMin, ZAggMax).
	KindZUnionStore Kind = 192
	// KindZInterStore: as KindZUnionStore.
	KindZInterStore Kind = 193
	// KindZDiffStore: Key = destination; Args = At source keys.
	KindZDiffStore Kind = 194
	// KindZRangeStore: Key = destination; Args = source, min, max,
	// offset, count; N as KindZRange's, without ZRangeWithScores.
	KindZRangeStore Kind = 195
	// KindZUnion: Key = Args[0]; Args and At as KindZUnionStore; N =
	// aggregate | ZAlgWithScores.
	KindZUnion Kind = 199
	// KindZInter: as KindZUnion.
	KindZInter Kind = 200
	// KindZDiff: Key = Args[0]; Args = At keys; N: ZAlgWithScores.
	KindZDiff Kind = 201
	// KindZInterCard: Key = Args[0]; Args = keys; N = limit (0: none).
	KindZInterCard Kind = 202
	// KindZRandMember: Key; At = random seed; HasCount: N = count;
	// WithValues: WITHSCORES.
	KindZRandMember Kind = 203
)

// ZUNION/ZINTER aggregates (Op.N & 3) and the WITHSCORES bit.
const (
	ZAggSum        = 0
	ZAggMin        = 1
	ZAggMax        = 2
	ZAlgWithScores = 1 << 2
)

// zrandMaxCount bounds ZRANDMEMBER's negative count (members that may
// repeat): Redis has no bound and builds the reply until memory runs out.
const zrandMaxCount = 1 << 23

// errZRandCount answers a ZRANDMEMBER count beyond zrandMaxCount.
var errZRandCount = errors.New("ERR value is out of range")

// zsrc is one source of an algebra op: a sorted set, a set (every score
// 1), or nothing (a missing key), with its weight.
type zsrc struct {
	z *zset
	s *setData
	w float64
}

func (src *zsrc) len() int {
	switch {
	case src.z != nil:
		return src.z.len()
	case src.s != nil:
		return src.s.len()
	}
	return 0
}

// score returns member m's score in src (before weighting).
func (src *zsrc) score(m string) (float64, bool) {
	if src.z != nil {
		s, ok := src.z.dict[m]
		return s, ok
	}
	if src.s != nil && src.s.has([]byte(m)) {
		return 1, true
	}
	return 0, false
}

// each calls fn for every member of src in its order with its score.
func (src *zsrc) each(fn func(m string, s float64)) {
	switch {
	case src.z != nil:
		for p := src.z.first(); p.ok(); p = p.next() {
			fn(p.at().member, p.at().score)
		}
	case src.s != nil:
		for i := range src.s.len() {
			fn(src.s.at(i), 1)
		}
	}
}

// same reports whether two sources are the same value (a key named
// twice).
func (src *zsrc) same(o *zsrc) bool {
	return (src.z != nil && src.z == o.z) || (src.s != nil && src.s == o.s)
}

// zweigh returns w*s, 0 where that is NaN (0 * inf), as Redis.
func zweigh(w, s float64) float64 {
	if v := w * s; !math.IsNaN(v) {
		return v
	}
	return 0
}

// zaggregate folds v into *acc by agg; a NaN sum (inf + -inf) is 0.
func zaggregate(acc *float64, v float64, agg int64) {
	// Comparisons, as Redis: an equal value (0 against -0) or a NaN
	// leaves *acc as it is, where Go's min and max would not.
	switch agg {
	case ZAggMin:
		if v < *acc {
			*acc = v
		}
	case ZAggMax:
		if v > *acc {
			*acc = v
		}
	default:
		*acc += v
		if math.IsNaN(*acc) {
			*acc = 0
		}
	}
}

// zsources looks up the n source keys of an algebra op (Args[:n]), and
// their weights (Args[n:2n] when given). Every key is checked first, so
// a key of another type anywhere answers WRONGTYPE.
func (t *txn) zsources(op *Op, n int) ([]zsrc, error) {
	n = min(max(n, 0), len(op.Args))
	srcs := make([]zsrc, n)
	for i, k := range op.Args[:n] {
		srcs[i].w = 1
		e, ok := t.lookup(k)
		t.readSource(k, e, ok)
		if !ok {
			continue
		}
		switch e.typ {
		case TypeZSet:
			srcs[i].z = zsetOf(e)
		case TypeSet:
			srcs[i].s = e.big.coll.(*setColl).d
		default:
			return nil, ErrWrongType
		}
	}
	if len(op.Args) >= 2*n {
		for i := range srcs {
			w, ok := ParseScore(op.Args[n+i])
			if !ok {
				return nil, errRange
			}
			srcs[i].w = w
		}
	}
	return srcs, nil
}

// zalgebra computes the union, intersection or difference (by kind) of
// srcs as member, score pairs in no particular order. limit > 0 stops an
// intersection after that many members (ZINTERCARD).
func zalgebra(kind Kind, srcs []zsrc, agg int64, limit int) []zentry {
	var out []zentry
	switch kind {
	case KindZUnion, KindZUnionStore:
		// Smallest first, as Redis (its sum adds in that order); the
		// sort is stable so that every replica adds alike.
		slices.SortStableFunc(srcs, func(a, b zsrc) int { return a.len() - b.len() })
		at := make(map[string]int)
		for i := range srcs {
			srcs[i].each(func(m string, s float64) {
				v := zweigh(srcs[i].w, s)
				if j, ok := at[m]; ok {
					zaggregate(&out[j].score, v, agg)
					return
				}
				at[m] = len(out)
				out = append(out, zentry{score: v, member: m})
			})
		}
	case KindZInter, KindZInterStore, KindZInterCard:
		slices.SortStableFunc(srcs, func(a, b zsrc) int { return a.len() - b.len() })
		if len(srcs) == 0 || srcs[0].len() == 0 {
			return nil
		}
		srcs[0].each(func(m string, s float64) {
			if limit > 0 && len(out) >= limit {
				return
			}
			acc := zweigh(srcs[0].w, s)
			for j := 1; j < len(srcs); j++ {
				o := s
				if !srcs[j].same(&srcs[0]) {
					var ok bool
					if o, ok = srcs[j].score(m); !ok {
						return
					}
				}
				// Unlike the first source's, these products are not
				// cleared of NaN (0 * inf): as in Redis, a NaN sum is 0
				// and a NaN is never the minimum or maximum.
				zaggregate(&acc, srcs[j].w*o, agg)
			}
			out = append(out, zentry{score: acc, member: m})
		})
	default: // difference: the first source's members no other holds
		if len(srcs) == 0 {
			return nil
		}
		srcs[0].each(func(m string, s float64) {
			for j := 1; j < len(srcs); j++ {
				if srcs[j].same(&srcs[0]) {
					return
				}
				if _, ok := srcs[j].score(m); ok {
					return
				}
			}
			out = append(out, zentry{score: s, member: m})
		})
	}
	return out
}

// zsetFrom builds a sorted set of the given members, in the encoding
// Redis gives a stored result of their number and longest member; a
// reply's set (reply) is a skiplist whatever its size, as Redis builds
// it, so it keeps a -0 score a listpack would store as 0.
func zsetFrom(es []zentry, reply bool) *zset {
	sortEntries(es)
	z := newZSet()
	maxLen := 0
	for _, e := range es {
		maxLen = max(maxLen, len(e.member))
	}
	z.big = reply || len(es) > zsetListpackEntries || maxLen > zsetListpackValue
	for _, e := range es {
		z.insert(e.member, normScore(z, e.score))
	}
	return z
}

// zalgebraRead answers ZUNION, ZINTER and ZDIFF.
func (t *txn) zalgebraRead(op *Op) Result {
	srcs, err := t.zsources(op, int(op.At))
	if err != nil {
		return Err(err)
	}
	z := zsetFrom(zalgebra(op.Kind, srcs, op.N&3, 0), true)
	ps := make([]zpick, 0, z.len())
	for p := z.first(); p.ok(); p = p.next() {
		ps = append(ps, zpick{p.at().member, p.at().score})
	}
	return pickResult(ps, op.N&ZAlgWithScores != 0)
}

// zstore installs z as key's value (no deadline), or deletes key when z
// is empty; name is the event of a stored result.
func (t *txn) zstore(key []byte, z *zset, name string) Result {
	if z.len() == 0 {
		if t.del(key) {
			t.event(EventGeneric, "del", key)
		}
		return Int(0)
	}
	t.put(key, entry{typ: TypeZSet, big: &large{coll: zsetColl{z: z, bytes: z.bytes}}})
	t.event(EventZSet, name, key)
	return Int(int64(z.len()))
}

// zalgebraStore answers ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: the
// result replaces the destination (op.Key), whatever it held.
func (t *txn) zalgebraStore(op *Op) Result {
	srcs, err := t.zsources(op, int(op.At))
	if err != nil {
		return Err(err)
	}
	name := "zdiffstore"
	switch op.Kind {
	case KindZUnionStore:
		name = "zunionstore"
	case KindZInterStore:
		name = "zinterstore"
	}
	return t.zstore(op.Key, zsetFrom(zalgebra(op.Kind, srcs, op.N&3, 0), false), name)
}

func (t *txn) zinterCard(op *Op) Result {
	srcs, err := t.zsources(op, len(op.Args))
	if err != nil {
		return Err(err)
	}
	return Int(int64(len(zalgebra(KindZInterCard, srcs, ZAggSum, int(op.N)))))
}

// zrangeStore answers ZRANGESTORE dst src ...: the members ZRANGE would
// select, stored in dst.
func (t *txn) zrangeStore(op *Op) Result {
	if len(op.Args) < 3 {
		return Err(errRange) // the server always sends source, min, max
	}
	src := op.Args[0]
	e, ok := t.lookup(src)
	t.readSource(src, e, ok)
	var ps []zpick
	if ok {
		if e.typ != TypeZSet {
			return Err(ErrWrongType)
		}
		var good bool
		if ps, good = zsetOf(e).selectRange(op.N, op.Args[1:]); !good {
			return Err(errRange)
		}
	}
	es := make([]zentry, len(ps))
	for i, p := range ps {
		es[i] = zentry{score: p.s, member: p.m}
	}
	return t.zstore(op.Key, zsetFrom(es, false), "zrangestore")
}

// zrandMember answers ZRANDMEMBER key [count [WITHSCORES]] as
// HRANDFIELD does hashes (hrandField): one member without a count,
// count distinct ones for a positive count (the whole set when count
// reaches its size), -count that may repeat for a negative one.
func (t *txn) zrandMember(op *Op) Result {
	z, err := t.readZSet(op.Key)
	if err != nil {
		return Err(err)
	}
	if !op.Has(HasCount) {
		if z == nil {
			return Nil()
		}
		return Str(z.at(t.rand(op.Key, op).IntN(z.len())).at().member)
	}
	withScores := op.Has(WithValues)
	var ps []zpick
	if z == nil || op.N == 0 {
		return pickResult(nil, withScores)
	}
	n := z.len()
	pick := func(r int) zpick { e := z.at(r).at(); return zpick{e.member, e.score} }
	switch {
	case op.N < -zrandMaxCount:
		return Err(errZRandCount) // the server refuses these first
	case op.N < 0:
		rng := t.rand(op.Key, op)
		ps = make([]zpick, 0, -op.N)
		for range -op.N {
			ps = append(ps, pick(rng.IntN(n)))
		}
	case op.N >= int64(n):
		// The whole set, highest first: Redis's sorted-set iterator
		// walks from the tail.
		for p := z.last(); p.ok(); p = p.prev() {
			ps = append(ps, zpick{p.at().member, p.at().score})
		}
	case op.N*4 < int64(n):
		// Few of many (an expirations set of a million): random ranks,
		// each drawn again until new, O(k log n), not a walk of the set.
		ps = make([]zpick, 0, op.N)
		for _, r := range randomRanks(t.rand(op.Key, op), n, int(op.N)) {
			ps = append(ps, pick(r))
		}
	default:
		k := int(op.N)
		rng := t.rand(op.Key, op)
		ps = make([]zpick, 0, k)
		need := k
		p := z.first()
		for i := 0; i < n && need > 0; i, p = i+1, p.next() {
			if rng.IntN(n-i) < need {
				ps = append(ps, zpick{p.at().member, p.at().score})
				need--
			}
		}
		if z.big {
			rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		}
	}
	return pickResult(ps, withScores)
}
