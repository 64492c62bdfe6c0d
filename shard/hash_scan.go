package shard

import (
	"math/rand/v2"
)

// HSCAN and HRANDFIELD.

// hscanDefaultCount is HSCAN's COUNT when none is given.
const hscanDefaultCount = 10

// hscan answers HSCAN. A packed hash is returned whole with cursor 0, as
// Redis does for a listpack. A big hash is walked in xxhash order and the
// cursor is the hash of the next field: a call returns the fields whose
// hash is at least the cursor, visiting up to COUNT of them (more when
// fields share a hash, so that the next cursor falls strictly between two
// hashes and nothing is skipped or repeated forever). Fields present for
// the whole scan are returned at least once, whatever changes meanwhile.
func (t *txn) hscan(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Result{Kind: RScan}
	}
	var pat []byte
	if op.Has(Match) {
		pat = op.Args[0]
	}
	withValues := !op.Has(NoValues)
	var scratch []byte
	match := func(f string) bool {
		if pat == nil {
			return true
		}
		scratch = append(scratch[:0], f...)
		return globMatch(pat, scratch)
	}
	if e.big == nil {
		it := newPackIter(e.s)
		var vals []Val
		for it.n > 0 {
			f, v, exp := it.next()
			if !live(exp, t.now) || !match(f) {
				continue
			}
			vals = append(vals, Val{S: f})
			if withValues {
				vals = append(vals, Val{S: v})
			}
		}
		return Result{Kind: RScan, Vals: vals}
	}
	count := int(op.At)
	if count <= 0 {
		count = hscanDefaultCount
	}
	l := e.big
	var vals []Val
	next := scanOrder(l.sorted(), uint64(op.N), count, func(f string) {
		hf := l.hash[f]
		if !live(hf.exp, t.now) || !match(f) {
			return
		}
		vals = append(vals, Val{S: f})
		if withValues {
			vals = append(vals, Val{S: hf.v})
		}
	})
	return Result{Kind: RScan, Int: int64(next), Vals: vals}
}

// hrandPick is one field HRANDFIELD may return.
type hrandPick struct{ f, v string }

// hrandSet is the live fields of a hash, indexable: a big hash without
// due fields is used in place, through its order cache.
type hrandSet struct {
	ps []hrandPick
	l  *large
	o  *keyOrder
}

func (s *hrandSet) len() int {
	if s.l != nil {
		return s.o.len()
	}
	return len(s.ps)
}

func (s *hrandSet) at(i int) hrandPick {
	if s.l != nil {
		f := s.o.at(i).f
		return hrandPick{f, s.l.hash[f].v}
	}
	return s.ps[i]
}

// hashPicks returns the live fields of hash e in order.
func hashPicks(e entry, now int64) hrandSet {
	if l := e.big; l != nil {
		o := l.sorted()
		if !expired(l.minExp, now) {
			return hrandSet{l: l, o: o}
		}
		ps := make([]hrandPick, 0, o.len())
		for k := range o.all() {
			if hf := l.hash[k.f]; live(hf.exp, now) {
				ps = append(ps, hrandPick{k.f, hf.v})
			}
		}
		return hrandSet{ps: ps}
	}
	it := newPackIter(e.s)
	ps := make([]hrandPick, 0, it.n)
	for it.n > 0 {
		if f, v, exp := it.next(); live(exp, now) {
			ps = append(ps, hrandPick{f, v})
		}
	}
	return hrandSet{ps: ps}
}

// rand returns the random source of HRANDFIELD op on key: seeded from
// op.At, which the server stamps with a random number, so that applying
// the op is deterministic. An op without a seed gets fresh randomness in
// a read and, inside Apply, a seed derived from its version, time and key.
func (t *txn) rand(key []byte, op *Op) *rand.Rand {
	switch {
	case op.At != 0:
		return rand.New(rand.NewPCG(uint64(op.At), uint64(op.N)))
	case t.read:
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	seed := hashKey(key) ^ uint64(t.now)*0x9e3779b97f4a7c15
	return rand.New(rand.NewPCG(seed, t.ver^uint64(op.N)))
}

// hrandField answers HRANDFIELD (N: count, At: random seed). Without a
// count it returns one field.
// With a positive count it returns that many distinct fields (all of them
// when there are fewer; a packed hash's in their order, as Redis does);
// with a negative one, -count fields that may repeat. WithValues pairs
// each field with its value.
func (t *txn) hrandField(op *Op) Result {
	e, ok, err := t.readHash(op.Key)
	if err != nil {
		return Err(err)
	}
	if !op.Has(HasCount) {
		if !ok {
			return Nil()
		}
		ps := hashPicks(e, t.now)
		return Str(ps.at(t.rand(op.Key, op).IntN(ps.len())).f)
	}
	kind := RList
	if op.Has(WithValues) {
		kind = RPairs
	}
	if !ok || op.N == 0 {
		return Result{Kind: kind}
	}
	ps := hashPicks(e, t.now)
	withValues := op.Has(WithValues)
	per := 1
	if withValues {
		per = 2
	}
	add := func(vals []Val, p hrandPick) []Val {
		vals = append(vals, Val{S: p.f})
		if withValues {
			vals = append(vals, Val{S: p.v})
		}
		return vals
	}
	n := ps.len()
	switch {
	case op.N < 0:
		rng := t.rand(op.Key, op)
		k := int(-op.N)
		vals := make([]Val, 0, per*k)
		for range k {
			vals = add(vals, ps.at(rng.IntN(n)))
		}
		return Result{Kind: kind, Vals: vals}
	case op.N >= int64(n):
		vals := make([]Val, 0, per*n)
		for i := range n {
			vals = add(vals, ps.at(i))
		}
		return Result{Kind: kind, Vals: vals}
	}
	k := int(op.N)
	rng := t.rand(op.Key, op)
	vals := make([]Val, 0, per*k)
	if t.read && e.big != nil && k*4 < n {
		for _, i := range randomRanks(rng, n, k) {
			vals = add(vals, ps.at(i))
		}
		return Result{Kind: kind, Vals: vals}
	}
	// Selection sampling (Knuth's algorithm S): k distinct fields, in
	// order. A big hash's order carries no meaning, so its picks are then
	// shuffled.
	need := k
	for i := 0; i < n && need > 0; i++ {
		if rng.IntN(n-i) < need {
			vals = add(vals, ps.at(i))
			need--
		}
	}
	if e.big != nil {
		rng.Shuffle(k, func(i, j int) {
			for x := range per {
				vals[i*per+x], vals[j*per+x] = vals[j*per+x], vals[i*per+x]
			}
		})
	}
	return Result{Kind: kind, Vals: vals}
}
