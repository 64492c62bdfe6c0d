package shard

import (
	"bytes"
	"math/rand/v2"
)

// sscanDefaultCount is SSCAN's COUNT when none is given.
const sscanDefaultCount = 10

// lookupSet returns key's live set for a write (no hit or miss counted):
// ok is false when the key is absent, err ErrWrongType when it holds
// another type.
func (t *txn) lookupSet(key []byte) (e entry, ok bool, err error) {
	e, ok = t.lookup(key)
	if !ok {
		return entry{}, false, nil
	}
	if e.typ != TypeSet {
		return entry{}, false, ErrWrongType
	}
	return e, true, nil
}

// setForRead returns key's set for a read, counting the hit or miss and
// the access.
func (t *txn) setForRead(key []byte) (*setData, bool, error) {
	e, ok := t.lookup(key)
	if !ok {
		t.miss(key)
		return nil, false, nil
	}
	if e.typ != TypeSet {
		return nil, false, ErrWrongType
	}
	t.s.stats.Hits.Add(1)
	t.access(key, e)
	return e.big.coll.(*setColl).d, true, nil
}

// editSet returns a new header for a write to set e and its collection:
// the data is shared with e's header unless a snapshot froze it (then it
// is a copy). commitSet installs it.
func editSet(e entry) (*large, *setColl) {
	nl := e.big.edit()
	c := &setColl{d: nl.coll.(*setColl).d}
	nl.coll = c
	return nl, c
}

// newSetEntry returns a header for a new set holding d.
func newSetEntry(d *setData) (*large, *setColl) {
	c := &setColl{d: d}
	return &large{coll: c}, c
}

// commitSet installs set header nl (collection c) as key's value with
// deadline exp, or deletes the key when the set is empty. It reports
// whether it deleted the key.
func (t *txn) commitSet(key []byte, nl *large, c *setColl, exp int64) bool {
	if c.d.len() == 0 {
		t.del(key)
		return true
	}
	c.bytes = c.d.bytes
	t.put(key, entry{typ: TypeSet, big: nl, exp: exp})
	return false
}

func (t *txn) sadd(op *Op) Result {
	e, ok, err := t.lookupSet(op.Key)
	if err != nil {
		return Err(err)
	}
	var nl *large
	var c *setColl
	converted := false
	if ok {
		nl, c = editSet(e)
		converted = c.d.maybeConvert(len(op.Args))
	} else {
		nl, c = newSetEntry(newSetFor(op.Args[0], len(op.Args)))
	}
	var added int64
	for _, m := range op.Args {
		if c.d.add(m) {
			added++
		}
	}
	if added > 0 || converted {
		t.commitSet(op.Key, nl, c, e.exp)
	}
	if added > 0 {
		t.event(EventSet, "sadd", op.Key)
	}
	return Int(added)
}

func (t *txn) srem(op *Op) Result {
	e, ok, err := t.lookupSet(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	nl, c := editSet(e)
	var n int64
	for _, m := range op.Args {
		if c.d.remove(m) {
			n++
			if c.d.len() == 0 {
				break
			}
		}
	}
	if n == 0 {
		return Int(0)
	}
	deleted := t.commitSet(op.Key, nl, c, e.exp)
	t.event(EventSet, "srem", op.Key)
	if deleted {
		t.event(EventGeneric, "del", op.Key)
	}
	return Int(n)
}

func (t *txn) smembers(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Result{Kind: RSet}
	}
	return Result{Kind: RSet, Vals: d.members(valBuf(op.Scratch, d.len()))}
}

func (t *txn) sismember(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	if d.has(op.Args[0]) {
		return Int(1)
	}
	return Int(0)
}

func (t *txn) smismember(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil {
		return Err(err)
	}
	out := make([]int64, len(op.Args))
	if ok {
		for i, m := range op.Args {
			if d.has(m) {
				out[i] = 1
			}
		}
	}
	return Result{Kind: RInts, Ints: out}
}

func (t *txn) scard(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	return Int(int64(d.len()))
}

// pickDistinct returns k distinct positions out of n (0 < k < n), in
// ascending order (Knuth's selection sampling).
func pickDistinct(rng *rand.Rand, n, k int) []int {
	idx := make([]int, 0, k)
	for i := 0; i < n && len(idx) < k; i++ {
		if rng.IntN(n-i) < k-len(idx) {
			idx = append(idx, i)
		}
	}
	return idx
}

// randomRanks returns k distinct positions out of n (0 < k < n), in the
// order drawn, each drawn again until new: O(k) for k well below n,
// where pickDistinct walks all n. Reads use it for SRANDMEMBER and
// HRANDFIELD, and SPOP for an op with FastSample: inside Apply (a
// script, an SPOP logged before FastSample) they keep pickDistinct, so
// that a log written by an earlier version replays to the same picks.
func randomRanks(rng *rand.Rand, n, k int) []int {
	seen := make(map[int]struct{}, k)
	out := make([]int, 0, k)
	for len(out) < k {
		r := rng.IntN(n)
		if _, dup := seen[r]; dup {
			continue
		}
		seen[r] = struct{}{}
		out = append(out, r)
	}
	return out
}

// spop answers SPOP: without a count, one random member (nil for a
// missing key); with one, up to N distinct random members as a set. The
// randomness comes from the seed in op.At.
func (t *txn) spop(op *Op) Result {
	e, ok, err := t.lookupSet(op.Key)
	if err != nil {
		return Err(err)
	}
	hasCount := op.Has(HasCount)
	if !ok {
		if hasCount {
			return Result{Kind: RSet}
		}
		return Nil()
	}
	if hasCount && op.N <= 0 {
		return Result{Kind: RSet}
	}
	nl, c := editSet(e)
	d := c.d
	n := d.len()
	rng := t.rand(op.Key, op)
	var res Result
	switch {
	case !hasCount:
		i := rng.IntN(n)
		res = Str(d.at(i))
		d.removeIndexes([]int{i})
	case op.N >= int64(n):
		res = Result{Kind: RSet, Vals: d.members(make([]Val, 0, n))}
		d.convert(d.enc, nil, nil) // every member goes
	default:
		var idx []int
		if op.Has(FastSample) && op.N*4 < int64(n) {
			idx = randomRanks(rng, n, int(op.N))
		} else {
			idx = pickDistinct(rng, n, int(op.N)) // ops logged before FastSample, and scripts
		}
		vals := make([]Val, 0, len(idx))
		for _, i := range idx {
			vals = append(vals, Val{S: d.at(i)})
		}
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		d.removeIndexes(idx)
		res = Result{Kind: RSet, Vals: vals}
	}
	deleted := t.commitSet(op.Key, nl, c, e.exp)
	t.event(EventSet, "spop", op.Key)
	if deleted {
		t.event(EventGeneric, "del", op.Key)
	}
	return res
}

// srandMember answers SRANDMEMBER: without a count, one random member
// (nil for a missing key); with a count N >= 0, min(N, SCARD) distinct
// members; with N < 0, -N members that may repeat. The randomness comes
// from the seed in op.At.
func (t *txn) srandMember(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil {
		return Err(err)
	}
	if !op.Has(HasCount) {
		if !ok {
			return Nil()
		}
		return Str(d.at(t.rand(op.Key, op).IntN(d.len())))
	}
	if !ok || op.N == 0 {
		return Result{Kind: RList}
	}
	n := d.len()
	switch {
	case op.N < 0:
		rng := t.rand(op.Key, op)
		k := int(-op.N)
		vals := make([]Val, 0, k)
		for range k {
			vals = append(vals, Val{S: d.at(rng.IntN(n))})
		}
		return Result{Kind: RList, Vals: vals}
	case op.N >= int64(n):
		return Result{Kind: RList, Vals: d.members(make([]Val, 0, n))}
	}
	rng := t.rand(op.Key, op)
	if t.read && op.N*4 < int64(n) {
		vals := make([]Val, 0, op.N)
		for _, i := range randomRanks(rng, n, int(op.N)) {
			vals = append(vals, Val{S: d.at(i)})
		}
		return Result{Kind: RList, Vals: vals}
	}
	idx := pickDistinct(rng, n, int(op.N))
	vals := make([]Val, 0, len(idx))
	for _, i := range idx {
		vals = append(vals, Val{S: d.at(i)})
	}
	rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
	return Result{Kind: RList, Vals: vals}
}

// sscan answers SSCAN. An intset or listpack is returned whole with
// cursor 0, as Redis does. A hashtable is walked in xxhash order and the
// cursor is the hash of the next member, as HSCAN walks a big hash: a
// call visits up to COUNT members (more when members share a hash), and
// members present for the whole scan are returned at least once.
func (t *txn) sscan(op *Op) Result {
	d, ok, err := t.setForRead(op.Key)
	if err != nil {
		return Err(err)
	}
	if !ok {
		return Result{Kind: RScan}
	}
	var pat, scratch []byte
	if op.Has(Match) {
		pat = op.Args[0]
	}
	match := func(s string) bool {
		if pat == nil {
			return true
		}
		scratch = append(scratch[:0], s...)
		return globMatch(pat, scratch)
	}
	var vals []Val
	if d.enc != setHashtable {
		for _, s := range d.list {
			if match(s) {
				vals = append(vals, Val{S: s})
			}
		}
		return Result{Kind: RScan, Vals: vals}
	}
	count := int(op.At)
	if count <= 0 {
		count = sscanDefaultCount
	}
	next := scanOrder(d.sorted(), uint64(op.N), count, func(f string) {
		if match(f) {
			vals = append(vals, Val{S: f})
		}
	})
	return Result{Kind: RScan, Int: int64(next), Vals: vals}
}

// setsOf looks up the sets named by keys for a read (nil for a missing
// key). Every key is checked, so a key of another type anywhere answers
// WRONGTYPE, as in Redis.
func (t *txn) setsOf(keys [][]byte, read bool) ([]*setData, error) {
	sets := make([]*setData, len(keys))
	for i, k := range keys {
		if read {
			d, ok, err := t.setForRead(k)
			if err != nil {
				return nil, err
			}
			if ok {
				sets[i] = d
			}
			continue
		}
		e, ok := t.lookup(k)
		t.readSource(k, e, ok) // counted before the type check, as Redis
		if !ok {
			continue
		}
		if e.typ != TypeSet {
			return nil, ErrWrongType
		}
		sets[i] = e.big.coll.(*setColl).d
	}
	return sets, nil
}

// inter returns the members common to every set (none if one is
// missing), in the order of the smallest set (the first of equal size),
// stopping after limit members when limit > 0.
func inter(sets []*setData, limit int) []string {
	small := -1
	for i, d := range sets {
		if d == nil {
			return nil
		}
		if small < 0 || d.len() < sets[small].len() {
			small = i
		}
	}
	if small < 0 {
		return nil
	}
	var out []string
	base := sets[small]
	var mb []byte
	for i := range base.len() {
		s := base.at(i)
		mb = append(mb[:0], s...)
		in := true
		for j, d := range sets {
			if j != small && d != base && !d.has(mb) {
				in = false
				break
			}
		}
		if in {
			out = append(out, s)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	}
	return out
}

// union returns the members of any set: the first set's in its order,
// then each later set's new members in its order.
func union(sets []*setData) []string {
	var out []string
	seen := make(map[string]struct{})
	for _, d := range sets {
		if d == nil {
			continue
		}
		for i := range d.len() {
			s := d.at(i)
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	return out
}

// diff returns the members of the first set that no later set holds, in
// the first set's order.
func diff(sets []*setData) []string {
	if len(sets) == 0 || sets[0] == nil {
		return nil
	}
	first := sets[0]
	var out []string
	var mb []byte
	for i := range first.len() {
		s := first.at(i)
		mb = append(mb[:0], s...)
		in := false
		for _, d := range sets[1:] {
			if d == first {
				return nil
			}
			if d != nil && d.has(mb) {
				in = true
				break
			}
		}
		if !in {
			out = append(out, s)
		}
	}
	return out
}

// algebra computes SINTER, SUNION or SDIFF (by kind) over sets.
func algebra(kind Kind, sets []*setData) []string {
	switch kind {
	case KindSInter, KindSInterStore:
		return inter(sets, 0)
	case KindSUnion, KindSUnionStore:
		return union(sets)
	}
	return diff(sets)
}

func (t *txn) setAlgebra(op *Op) Result {
	sets, err := t.setsOf(op.Args, true)
	if err != nil {
		return Err(err)
	}
	ms := algebra(op.Kind, sets)
	vals := make([]Val, len(ms))
	for i, s := range ms {
		vals[i] = Val{S: s}
	}
	return Result{Kind: RSet, Vals: vals}
}

// setAlgebraStore answers SINTERSTORE, SUNIONSTORE and SDIFFSTORE: the
// result replaces the destination (op.Key), whatever it held, without a
// deadline; an empty result deletes it.
func (t *txn) setAlgebraStore(op *Op) Result {
	sets, err := t.setsOf(op.Args, false)
	if err != nil {
		return Err(err)
	}
	ms := algebra(op.Kind, sets)
	if len(ms) == 0 {
		if t.del(op.Key) {
			t.event(EventGeneric, "del", op.Key)
		}
		return Int(0)
	}
	nl, c := newSetEntry(newSetOf(ms))
	t.commitSet(op.Key, nl, c, 0)
	name := "sdiffstore"
	switch op.Kind {
	case KindSInterStore:
		name = "sinterstore"
	case KindSUnionStore:
		name = "sunionstore"
	}
	t.event(EventSet, name, op.Key)
	return Int(int64(len(ms)))
}

func (t *txn) sinterCard(op *Op) Result {
	sets, err := t.setsOf(op.Args, true)
	if err != nil {
		return Err(err)
	}
	return Int(int64(len(inter(sets, int(op.N)))))
}

// smove answers SMOVE source destination member (Key, Args[0], Args[1]).
func (t *txn) smove(op *Op) Result {
	src, dst, m := op.Key, op.Args[0], op.Args[1]
	se, ok, err := t.lookupSet(src)
	if err != nil || !ok {
		return intOrErr(0, err)
	}
	de, dok, err := t.lookupSet(dst)
	if err != nil {
		return Err(err)
	}
	if bytes.Equal(src, dst) {
		if se.big.coll.(*setColl).d.has(m) {
			return Int(1)
		}
		return Int(0)
	}
	snl, sc := editSet(se)
	if !sc.d.remove(m) {
		return Int(0)
	}
	deleted := t.commitSet(src, snl, sc, se.exp)
	t.event(EventSet, "srem", src)
	if deleted {
		t.event(EventGeneric, "del", src)
	}
	var dnl *large
	var dc *setColl
	if dok {
		dnl, dc = editSet(de)
	} else {
		dnl, dc = newSetEntry(newSetFor(m, 1))
	}
	if dc.d.add(m) {
		t.commitSet(dst, dnl, dc, de.exp)
		t.event(EventSet, "sadd", dst)
	}
	return Int(1)
}
