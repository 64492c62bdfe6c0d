package shard

import (
	"cmp"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"

	"sessiond/ttl"
)

// Keyspace operations: DEL, EXISTS, TYPE, TOUCH, RENAME, the EXPIRE and
// TTL families, PERSIST, and the whole-keyspace walks SCAN, KEYS,
// RANDOMKEY, DBSIZE and FLUSH.

// delKeys deletes op.Args and counts the live keys it removed (DEL,
// UNLINK). A key named twice counts once.
func (t *txn) delKeys(op *Op) Result {
	var n int64
	for _, k := range op.Args {
		if t.del(k) {
			n++
			t.event(EventGeneric, "del", k)
		}
	}
	return Int(n)
}

// lookupCounted is lookup for the reads Redis counts in keyspace_hits
// and keyspace_misses (EXISTS, TYPE, TOUCH, the TTL family).
func (t *txn) lookupCounted(key []byte) (entry, bool) {
	e, ok := t.lookup(key)
	if ok {
		t.s.stats.Hits.Add(1)
	} else {
		t.miss(key)
	}
	return e, ok
}

// exists counts the live keys among op.Args; a key named twice counts
// twice. It does not touch the access clock, like Redis.
func (t *txn) exists(op *Op) Result {
	var n int64
	for _, k := range op.Args {
		if _, ok := t.lookupCounted(k); ok {
			n++
		}
	}
	return Int(n)
}

// typeOf answers TYPE as a simple string: "string", "hash" or "none".
func (t *txn) typeOf(op *Op) Result {
	e, _ := t.lookupCounted(op.Key)
	return Result{Kind: RStatus, Str: e.typ.String()}
}

// touch counts the live keys among op.Args (repeats count twice) and
// marks them used.
func (t *txn) touch(op *Op) Result {
	var n int64
	for _, k := range op.Args {
		if e, ok := t.lookupCounted(k); ok {
			t.access(k, e)
			n++
		}
	}
	return Int(n)
}

// rename moves op.Key's value, with its deadline, to op.Args[0],
// replacing whatever was there (RENAME answers OK). With NX (RENAMENX) it
// answers 1, or 0 without changing anything when the destination exists.
// A missing source is ErrNoSuchKey; renaming a key to itself changes
// nothing.
func (t *txn) rename(op *Op) Result {
	dst := op.Args[0]
	e, ok := t.lookup(op.Key)
	if !ok {
		return Err(ErrNoSuchKey)
	}
	nx := op.Has(NX)
	if string(op.Key) == string(dst) {
		if nx {
			return Int(0)
		}
		return OK()
	}
	if nx {
		if _, exists := t.lookup(dst); exists {
			return Int(0)
		}
	}
	t.put(dst, e)
	t.del(op.Key)
	t.event(EventGeneric, "rename_from", op.Key)
	t.event(EventGeneric, "rename_to", dst)
	if nx {
		return Int(1)
	}
	return OK()
}

// expire sets op.Key's deadline to op.At (any int64; one at or before now
// deletes the key) and answers 1, or 0 when the key is absent or the
// condition fails: NX (no deadline yet), XX (has one), GT (op.At later
// than the deadline; none counts as infinite, so GT fails), LT (op.At
// earlier; none counts as infinite, so LT holds).
func (t *txn) expire(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok {
		return Int(0)
	}
	switch {
	case op.Has(NX) && e.exp != 0,
		op.Has(XX) && e.exp == 0,
		op.Has(GT) && (e.exp == 0 || op.At <= e.exp),
		op.Has(LT) && e.exp != 0 && op.At >= e.exp:
		return Int(0)
	}
	if op.At <= t.now {
		t.del(op.Key)
		t.event(EventGeneric, "del", op.Key)
		return Int(1)
	}
	e.exp = op.At
	t.put(op.Key, e)
	t.event(EventGeneric, "expire", op.Key)
	return Int(1)
}

// ttl answers the TTL family for op.Key: -2 when absent, -1 without a
// deadline, else the time left (or with Absolute the deadline as a Unix
// time), in milliseconds with Millis and otherwise in seconds rounded to
// the nearest.
func (t *txn) ttl(op *Op) Result {
	e, ok := t.lookupCounted(op.Key)
	if !ok {
		return Int(-2)
	}
	if e.exp == 0 {
		return Int(-1)
	}
	v := e.exp
	if !op.Has(Absolute) {
		v -= t.now
	}
	if v < 0 {
		v = 0
	}
	if !op.Has(Millis) {
		v = int64((uint64(v) + 500) / 1000) // no overflow near MaxInt64, as in Redis
	}
	return Int(v)
}

// persist removes op.Key's deadline: 1 if it had one, else 0.
func (t *txn) persist(op *Op) Result {
	e, ok := t.lookup(op.Key)
	if !ok || e.exp == 0 {
		return Int(0)
	}
	e.exp = 0
	t.put(op.Key, e)
	t.event(EventGeneric, "persist", op.Key)
	return Int(1)
}

// hashedKey is a key with its 64-bit hash, the order SCAN and KEYS walk,
// and what the walks need of its entry.
type hashedKey struct {
	h   uint64
	k   string
	exp int64
	typ Type
}

// byHash orders keys by hash, then by name (for hash collisions), so that
// walks are deterministic.
func byHash(a, b hashedKey) int { return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.k, b.k)) }

// lockStripe locks stripe i for a keyspace walk, unless the txn already
// holds every stripe; the returned func unlocks it.
func (t *txn) lockStripe(i int) func() {
	if t.all {
		return func() {}
	}
	st := &t.s.stripes[i]
	st.mu.Lock()
	return st.mu.Unlock
}

// live reports whether a key with deadline exp is visible at t.now.
func (t *txn) live(exp int64) bool { return !expired(exp, t.now) }

// stripeHashes appends to hs[:0] the hashes >= from of stripe i's keys,
// expired ones included. The stripe must be locked. Hashes carry no
// pointers, which keeps a walk over a large stripe cheap for the garbage
// collector.
func (t *txn) stripeHashes(hs []uint64, i int, from uint64) []uint64 {
	hs = hs[:0]
	for k := range t.s.stripes[i].m {
		if h := xxhash.Sum64String(k); h >= from { // == hashKey([]byte(k))
			hs = append(hs, h)
		}
	}
	return hs
}

// stripeKeys appends to buf[:0] the keys of stripe i whose hash lies in
// [from, to], expired ones included, sorted by hash. The stripe must be
// locked.
func (t *txn) stripeKeys(buf []hashedKey, i int, from, to uint64) []hashedKey {
	buf = buf[:0]
	for k, e := range t.s.stripes[i].m {
		if h := xxhash.Sum64String(k); h >= from && h <= to {
			buf = append(buf, hashedKey{h: h, k: k, exp: e.exp, typ: e.typ})
		}
	}
	slices.SortFunc(buf, byHash)
	return buf
}

// scan answers SCAN. The cursor (op.N, as uint64 bits) is the hash to
// resume at: one call returns the keys whose hash lies in [cursor, next)
// that are live and pass MATCH (op.Args[0] with the Match flag) and TYPE
// (op.Args[1] with TypeFilter), where next is chosen so that at least
// op.At keys (live or not, filtered or not) lie in the range, or 0 when
// the range reaches the end of the hash space. Stripes own contiguous
// ranges of hashes, so a call locks them one at a time in order; a key
// present during a whole scan is therefore returned at least once, and
// keys sharing a hash are always returned by the same call (the range
// ends just after a hash, never inside one).
func (t *txn) scan(op *Op) Result {
	count := op.At
	if count < 1 {
		count = 10
	}
	var f scanFilter
	if op.Has(Match) && len(op.Args) > 0 {
		f.match, f.pattern = true, op.Args[0]
	}
	if op.Has(TypeFilter) && len(op.Args) > 1 {
		f.byType, f.typ = true, op.Args[1]
	}
	cursor := uint64(op.N)
	n := len(t.s.stripes)
	out := []Val{}
	var taken int64
	var hs []uint64
	var buf []hashedKey
	for i := t.s.stripeOfHash(cursor); i < n; i++ {
		unlock := t.lockStripe(i)
		hs = t.stripeHashes(hs, i, cursor)
		last := uint64(math.MaxUint64)
		partial := int64(len(hs)) > count-taken
		if partial {
			last = kthSmallest(hs, int(count-taken)-1)
		}
		buf = t.stripeKeys(buf, i, cursor, last)
		unlock()
		for _, hk := range buf {
			if t.scanKeeps(hk, &f) {
				out = append(out, Val{S: hk.k})
			}
		}
		taken += int64(len(buf))
		if partial {
			// last+1 wraps to 0, "done", only when last is the largest
			// hash there is.
			return Result{Kind: RScan, Int: int64(last + 1), Vals: out}
		}
		if taken >= count {
			next := uint64(0)
			if i+1 < n {
				next = uint64(i+1) << t.s.shift
			}
			return Result{Kind: RScan, Int: int64(next), Vals: out}
		}
		cursor = 0 // later stripes are taken from their start
	}
	return Result{Kind: RScan, Int: 0, Vals: out}
}

// kthSmallest returns the k-th smallest (from 0) of hs, which it
// reorders. It is a three-way quickselect: linear on average, and fast on
// repeated values.
func kthSmallest(hs []uint64, k int) uint64 {
	lo, hi := 0, len(hs)
	// Invariant: every value in hs[:lo] is below every value in hs[lo:hi],
	// which are all below every value in hs[hi:]; lo <= k < hi.
	for hi-lo > 1 {
		pivot := median3(hs[lo], hs[lo+(hi-lo)/2], hs[hi-1])
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch h := hs[i]; {
			case h < pivot:
				hs[lt], hs[i] = hs[i], hs[lt]
				lt++
				i++
			case h > pivot:
				gt--
				hs[i], hs[gt] = hs[gt], hs[i]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return pivot
		}
	}
	return hs[k]
}

func median3(a, b, c uint64) uint64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	if a > b {
		return a
	}
	return b
}

// scanFilter is SCAN's MATCH and TYPE. An empty pattern or type name is
// a filter too (it keeps only the empty key, or nothing).
type scanFilter struct {
	match, byType bool
	pattern, typ  []byte
}

// scanKeeps reports whether SCAN returns hk: live, matching the pattern
// and of the type (compared ignoring ASCII case).
func (t *txn) scanKeeps(hk hashedKey, f *scanFilter) bool {
	if !t.live(hk.exp) {
		return false
	}
	if f.match && !globMatch(f.pattern, []byte(hk.k)) {
		return false
	}
	return !f.byType || equalFoldASCII(f.typ, hk.typ.String())
}

// equalFoldASCII reports whether b equals s ignoring ASCII case, as
// strcasecmp does.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// stripeOfHash returns the stripe that owns hash h.
func (s *Store) stripeOfHash(h uint64) int {
	if s.shift == 64 {
		return 0
	}
	return int(h >> s.shift)
}

// keys answers KEYS: every live key matching op.Args[0], in hash order.
func (t *txn) keys(op *Op) Result {
	pattern := op.Args[0]
	out := []Val{}
	var buf []hashedKey
	for i := range t.s.stripes {
		buf = buf[:0]
		unlock := t.lockStripe(i)
		for k, e := range t.s.stripes[i].m {
			if t.live(e.exp) && globMatch(pattern, []byte(k)) {
				buf = append(buf, hashedKey{h: xxhash.Sum64String(k), k: k})
			}
		}
		unlock()
		slices.SortFunc(buf, byHash)
		for _, hk := range buf {
			out = append(out, Val{S: hk.k})
		}
	}
	return Result{Kind: RList, Vals: out}
}

// randomKeyTries bounds how many random picks RANDOMKEY makes before it
// falls back to walking the keyspace for a live key.
const randomKeyTries = 100

// randomKey answers RANDOMKEY: a live key chosen by the random seed op.N
// (so that Apply stays deterministic), or nil when there is none. Each
// pick chooses a stripe weighted by its size, then a key by its rank in
// hash order; expired keys are picked again.
func (t *txn) randomKey(op *Op) Result {
	rng := splitMix64(uint64(op.N))
	n := len(t.s.stripes)
	sizes := make([]int, n)
	var total uint64
	for i := range n {
		unlock := t.lockStripe(i)
		sizes[i] = len(t.s.stripes[i].m)
		unlock()
		total += uint64(sizes[i])
	}
	if total == 0 {
		return Nil()
	}
	var hs []uint64
	var buf []hashedKey
	for range randomKeyTries {
		r := rng.next() % total
		i := 0
		for ; i < n-1 && r >= uint64(sizes[i]); i++ {
			r -= uint64(sizes[i])
		}
		unlock := t.lockStripe(i)
		hs = t.stripeHashes(hs, i, 0)
		if len(hs) > 0 {
			h := kthSmallest(hs, int(r%uint64(len(hs))))
			buf = t.stripeKeys(buf, i, h, h)
		}
		unlock()
		if len(hs) > 0 && t.live(buf[0].exp) {
			return Str(buf[0].k)
		}
	}
	// Mostly expired: take the first live key from a random hash on.
	start := rng.next()
	for j := range n + 1 {
		i := (t.s.stripeOfHash(start) + j) % n
		from := uint64(0)
		if j == 0 {
			from = start
		}
		unlock := t.lockStripe(i)
		buf = t.stripeKeys(buf, i, from, math.MaxUint64)
		unlock()
		for _, hk := range buf {
			if t.live(hk.exp) {
				return Str(hk.k)
			}
		}
	}
	return Nil()
}

// splitMix64 is a small deterministic random source (SplitMix64).
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// dbSize answers DBSIZE: the number of keys held, including expired keys
// not yet reclaimed, as Redis counts them.
func (t *txn) dbSize(op *Op) Result {
	var n int64
	for i := range t.s.stripes {
		unlock := t.lockStripe(i)
		n += int64(len(t.s.stripes[i].m))
		unlock()
	}
	return Int(n)
}

// flush empties the store (FLUSHDB, FLUSHALL); it holds every stripe. Like
// Redis, it breaks the WATCH of every key it removes, and of a key created
// since its WATCH, but not of a key absent all along.
func (t *txn) flush(op *Op) Result {
	for i := range t.s.stripes {
		st := &t.s.stripes[i]
		for _, e := range st.m {
			if e.ver > st.delVer {
				st.delVer = e.ver
			}
		}
		st.m = make(map[string]entry)
		st.keyTTL = ttl.NewIndex()
		st.fieldTTL = ttl.NewIndex()
		st.mem = 0
	}
	return OK()
}
