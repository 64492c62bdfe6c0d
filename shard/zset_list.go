package shard

import (
	"bufio"
	"math"
	"slices"
	"sort"
)

// The sorted set value: an order-statistic B+tree of (score, member)
// entries, plus a member -> score map for O(1) score lookups. Leaves hold
// up to zfan entries in order and are linked both ways; an inner node
// holds up to zfan children with the number of entries under each, so
// that insert, delete, rank and select-by-rank are O(log n) as in Redis's
// zskiplist, and a search touches a few nodes whose upper levels stay in
// the cache instead of ~4 log4(n) scattered skiplist nodes (the search
// was a cache miss per step: a million-member set took ~2 µs per insert).
//
// The tree's shape depends on its history, not only on its contents (a
// snapshot restore or a copy builds full leaves), so no answer may depend
// on it: replicas that applied the same writes hold the same entries in
// trees of different shapes. count asks its predicate of separators and
// so is exact only for predicates that are monotone in the order; others
// walk the entries (lexSpan with mixed scores).
//
// A zset is changed in place by writes (see collection in ext.go). The
// collection stored in a header is a zsetColl value that records the
// accounted size at the time that header was installed, because put
// subtracts the old header's size after the shared zset has changed.

// zfan is the capacity of a tree node: entries of a leaf, children of an
// inner node.
const zfan = 32

// zmaxHeight bounds the inner levels: a level is added only when a full
// root splits, so reaching height h takes more than (zfan/2)^(h-1)
// leaves.
const zmaxHeight = 24

// Redis's defaults for the listpack encoding of sorted sets
// (zset-max-listpack-entries and -value). They decide OBJECT ENCODING and
// how ZSCAN answers, not the structure.
const (
	zsetListpackEntries = 128
	zsetListpackValue   = 64
)

// zsetMemberOverhead approximates a member's cost beyond its string: its
// leaf slot at the usual fill (24 bytes at ~70%), its share of the inner
// nodes and its map slot at the map's load factor (24 bytes at 50-87%).
// Measured (runtime.MemStats, 17-byte members, 1,000 to 1,000,000 of
// them): 95-144 bytes per member in all, string included.
const zsetMemberOverhead = 80

// zsetOverhead approximates the fixed cost of a sorted set: the zset,
// its first leaf and the map header.
const zsetOverhead = 96 + 64 + 48

// zentry is one member of a sorted set.
type zentry struct {
	score  float64
	member string
}

// less reports whether a sorts before b.
func (a *zentry) less(b *zentry) bool {
	return a.score < b.score || (a.score == b.score && a.member < b.member)
}

// sortEntries sorts es by (score, member); members must be distinct.
func sortEntries(es []zentry) {
	slices.SortFunc(es, func(a, b zentry) int {
		if a.less(&b) {
			return -1
		}
		return 1
	})
}

// zleaf is a leaf: up to zfan entries in order. Only the root may be
// empty.
type zleaf struct {
	e          []zentry
	prev, next *zleaf
}

// search returns the index of the first entry not below k.
func (l *zleaf) search(k *zentry) int {
	lo, hi := 0, len(l.e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.e[m].less(k) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// zinner is an inner node. sep[i] is a lower bound of the entries under
// child i (i > 0) and at least every entry under child i-1; sep[0] bounds
// the node itself the same way (unset in the leftmost node of a level).
// Separators are set when a node splits and never tightened, so a
// deleted member may stay one. Children are inner nodes (inner) above
// the bottom inner level and leaves (leaf) on it.
type zinner struct {
	n     int
	sep   [zfan]zentry
	cnt   [zfan]int
	inner [zfan]*zinner
	leaf  [zfan]*zleaf
}

// child returns the index of the child whose range holds k: the last i
// that is 0 or has sep[i] <= k.
func (nd *zinner) child(k *zentry) int {
	lo, hi := 1, nd.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.less(&nd.sep[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// total returns the number of entries under nd.
func (nd *zinner) total() int {
	t := 0
	for i := range nd.n {
		t += nd.cnt[i]
	}
	return t
}

// insertAt makes (sep, cnt, child) the child at index at, shifting the
// later ones right. nd has room.
func (nd *zinner) insertAt(at int, sep zentry, cnt int, in *zinner, lf *zleaf) {
	copy(nd.sep[at+1:nd.n+1], nd.sep[at:nd.n])
	copy(nd.cnt[at+1:nd.n+1], nd.cnt[at:nd.n])
	copy(nd.inner[at+1:nd.n+1], nd.inner[at:nd.n])
	copy(nd.leaf[at+1:nd.n+1], nd.leaf[at:nd.n])
	nd.sep[at], nd.cnt[at], nd.inner[at], nd.leaf[at] = sep, cnt, in, lf
	nd.n++
}

// removeAt drops the child at index at.
func (nd *zinner) removeAt(at int) {
	copy(nd.sep[at:], nd.sep[at+1:nd.n])
	copy(nd.cnt[at:], nd.cnt[at+1:nd.n])
	copy(nd.inner[at:], nd.inner[at+1:nd.n])
	copy(nd.leaf[at:], nd.leaf[at+1:nd.n])
	nd.n--
	nd.sep[nd.n], nd.cnt[nd.n], nd.inner[nd.n], nd.leaf[nd.n] = zentry{}, 0, nil, nil
}

// split moves the upper half of nd's children into a new node and
// returns it.
func (nd *zinner) split() *zinner {
	mid := nd.n / 2
	r := &zinner{n: nd.n - mid}
	copy(r.sep[:], nd.sep[mid:nd.n])
	copy(r.cnt[:], nd.cnt[mid:nd.n])
	copy(r.inner[:], nd.inner[mid:nd.n])
	copy(r.leaf[:], nd.leaf[mid:nd.n])
	clear(nd.sep[mid:nd.n])
	clear(nd.cnt[mid:nd.n])
	clear(nd.inner[mid:nd.n])
	clear(nd.leaf[mid:nd.n])
	nd.n = mid
	return r
}

// zstep is one inner node on the way down and the child taken.
type zstep struct {
	nd *zinner
	i  int
}

// zset is a sorted set. The zero value is not usable: see newZSet.
type zset struct {
	h     int     // inner levels: 0 when the root is a leaf
	root  *zinner // h > 0
	rootL *zleaf  // h == 0
	head  *zleaf  // first leaf
	tail  *zleaf  // last leaf
	dict  map[string]float64
	bytes int64 // accounted size, kept by every change
	// big is the skiplist encoding: the set has outgrown the listpack
	// limits once. It never goes back, as in Redis (until a restore).
	big   bool
	order *keyOrder // members by xxhash, for ZSCAN; built by the first ZSCAN
}

// newZSet returns an empty sorted set.
func newZSet() *zset {
	l := &zleaf{}
	return &zset{
		rootL: l,
		head:  l,
		tail:  l,
		dict:  make(map[string]float64),
		bytes: zsetOverhead,
	}
}

// zsetColl is the collection stored in a header: the shared zset and
// the size accounted when the header was installed.
type zsetColl struct {
	z     *zset
	bytes int64
}

func (c zsetColl) size() int64 { return c.bytes }

func (c zsetColl) clone() collection {
	z := c.z.clone()
	return zsetColl{z: z, bytes: z.bytes}
}

func (c zsetColl) write(w *bufio.Writer) { c.z.write(w) }

func (c zsetColl) length() int { return len(c.z.dict) }

func (c zsetColl) encoding() string {
	if c.z.big {
		return "skiplist"
	}
	return "listpack"
}

// zless reports whether (s1, m1) sorts before (s2, m2).
func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func memberCost(m string) int64 { return allocSize(len(m)) + zsetMemberOverhead }

func (z *zset) len() int { return len(z.dict) }

// descend walks from the root to the leaf whose range holds k, recording
// the inner nodes and children taken in path[:z.h].
func (z *zset) descend(k *zentry, path *[zmaxHeight]zstep) *zleaf {
	if z.h == 0 {
		return z.rootL
	}
	nd := z.root
	for d := 0; ; d++ {
		i := nd.child(k)
		path[d] = zstep{nd, i}
		if d == z.h-1 {
			return nd.leaf[i]
		}
		nd = nd.inner[i]
	}
}

// insert adds member m, which must be absent, with score s.
func (z *zset) insert(m string, s float64) {
	k := zentry{score: s, member: m}
	var path [zmaxHeight]zstep
	lf := z.descend(&k, &path)
	for d := range z.h {
		path[d].nd.cnt[path[d].i]++
	}
	j := lf.search(&k)
	if len(lf.e) < zfan {
		if len(lf.e) == cap(lf.e) {
			grown := make([]zentry, len(lf.e), min(zfan, max(4, 2*cap(lf.e))))
			copy(grown, lf.e)
			lf.e = grown
		}
		lf.e = lf.e[:len(lf.e)+1]
		copy(lf.e[j+1:], lf.e[j:])
		lf.e[j] = k
	} else {
		z.splitLeaf(lf, j, k, &path)
	}
	z.dict[m] = s
	z.bytes += memberCost(m)
	if z.order != nil {
		z.order.insert(m)
	}
}

// splitLeaf inserts k at index j of the full leaf lf by splitting it in
// two (at the middle; an append after the last entry of the set starts a
// new leaf instead, so that a set built in order has full leaves) and
// adding the new leaf to the inner nodes above it.
func (z *zset) splitLeaf(lf *zleaf, j int, k zentry, path *[zmaxHeight]zstep) {
	r := &zleaf{prev: lf, next: lf.next}
	if j == len(lf.e) && lf.next == nil {
		r.e = make([]zentry, 1, 4)
		r.e[0] = k
	} else {
		mid := zfan / 2
		r.e = make([]zentry, zfan-mid, zfan)
		copy(r.e, lf.e[mid:])
		clear(lf.e[mid:])
		lf.e = lf.e[:mid]
		into, at := lf, j
		if j > mid {
			into, at = r, j-mid
		}
		into.e = into.e[:len(into.e)+1]
		copy(into.e[at+1:], into.e[at:])
		into.e[at] = k
	}
	if lf.next != nil {
		lf.next.prev = r
	} else {
		z.tail = r
	}
	lf.next = r

	// Add r after lf in the inner node above, splitting full inner nodes
	// on the way up.
	sep, leftCnt, rightCnt := r.e[0], len(lf.e), len(r.e)
	var newIn *zinner
	newLf := r
	for d := z.h - 1; d >= 0; d-- {
		nd, i := path[d].nd, path[d].i
		nd.cnt[i] = leftCnt
		if nd.n < zfan {
			nd.insertAt(i+1, sep, rightCnt, newIn, newLf)
			return
		}
		right := nd.split()
		if i+1 <= nd.n {
			nd.insertAt(i+1, sep, rightCnt, newIn, newLf)
		} else {
			right.insertAt(i+1-nd.n, sep, rightCnt, newIn, newLf)
		}
		sep, leftCnt, rightCnt = right.sep[0], nd.total(), right.total()
		newIn, newLf = right, nil
	}
	// The root split: a new root above the two halves.
	nr := &zinner{n: 2}
	nr.sep[1], nr.cnt[0], nr.cnt[1] = sep, leftCnt, rightCnt
	if z.h == 0 {
		nr.leaf[0], nr.leaf[1] = z.rootL, newLf
		z.rootL = nil
	} else {
		nr.inner[0], nr.inner[1] = z.root, newIn
	}
	z.root = nr
	z.h++
}

// remove deletes member m, which must be present with score s.
func (z *zset) remove(m string, s float64) {
	k := zentry{score: s, member: m}
	var path [zmaxHeight]zstep
	lf := z.descend(&k, &path)
	for d := range z.h {
		path[d].nd.cnt[path[d].i]--
	}
	j := lf.search(&k)
	copy(lf.e[j:], lf.e[j+1:])
	lf.e[len(lf.e)-1] = zentry{}
	lf.e = lf.e[:len(lf.e)-1]
	delete(z.dict, m)
	z.bytes -= memberCost(m)
	if z.order != nil {
		z.order.remove(m)
	}
	if z.h > 0 {
		z.rebalance(lf, &path)
	}
}

// rebalance keeps the tree compact after an entry left lf: an empty leaf
// is dropped, and a leaf below a quarter full is merged into a neighbour
// under the same inner node when both fit in one leaf. Inner nodes left
// without children are dropped, and a root with one child gives way to
// it.
func (z *zset) rebalance(lf *zleaf, path *[zmaxHeight]zstep) {
	d := z.h - 1
	nd, i := path[d].nd, path[d].i
	switch {
	case len(lf.e) == 0:
		z.unlink(lf)
		nd.removeAt(i)
	case len(lf.e) < zfan/4:
		if i+1 < nd.n && len(lf.e)+len(nd.leaf[i+1].e) <= zfan*3/4 {
			r := nd.leaf[i+1]
			lf.e = append(lf.e, r.e...)
			nd.cnt[i] += len(r.e)
			z.unlink(r)
			nd.removeAt(i + 1)
		} else if i > 0 && len(lf.e)+len(nd.leaf[i-1].e) <= zfan*3/4 {
			l := nd.leaf[i-1]
			l.e = append(l.e, lf.e...)
			nd.cnt[i-1] += len(lf.e)
			z.unlink(lf)
			nd.removeAt(i)
		}
	}
	for ; d > 0 && path[d].nd.n == 0; d-- {
		path[d-1].nd.removeAt(path[d-1].i)
	}
	for z.h > 0 && z.root.n == 1 {
		if z.h == 1 {
			z.rootL = z.root.leaf[0]
			z.root = nil
		} else {
			z.root = z.root.inner[0]
		}
		z.h--
	}
}

// unlink takes leaf l out of the leaf list.
func (z *zset) unlink(l *zleaf) {
	if l.prev != nil {
		l.prev.next = l.next
	} else {
		z.head = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	} else {
		z.tail = l.prev
	}
	l.prev, l.next = nil, nil
}

// setScore moves member m from score old to score s.
func (z *zset) setScore(m string, old, s float64) {
	k := zentry{score: old, member: m}
	var path [zmaxHeight]zstep
	lf := z.descend(&k, &path)
	j := lf.search(&k)
	// In place when the entry keeps its place among its leaf's
	// neighbours (not the first: the separators above bound it).
	if j > 0 && j < len(lf.e)-1 &&
		zless(lf.e[j-1].score, lf.e[j-1].member, s, m) &&
		zless(s, m, lf.e[j+1].score, lf.e[j+1].member) {
		lf.e[j].score = s
		z.dict[m] = s
		return
	}
	z.remove(m, old)
	z.insert(m, s)
}

// descendBy walks from the root to a leaf, taking at each inner node the
// child pick chooses, and returns the leaf and how many entries the
// children passed over hold (the rank of the leaf's first entry).
func (z *zset) descendBy(pick func(nd *zinner) int) (*zleaf, int) {
	if z.h == 0 {
		return z.rootL, 0
	}
	r := 0
	nd := z.root
	for d := 0; ; d++ {
		i := pick(nd)
		for c := range i {
			r += nd.cnt[c]
		}
		if d == z.h-1 {
			return nd.leaf[i], r
		}
		nd = nd.inner[i]
	}
}

// rank returns the 0-based position of member m, present with score s.
func (z *zset) rank(m string, s float64) int {
	k := zentry{score: s, member: m}
	lf, r := z.descendBy(func(nd *zinner) int { return nd.child(&k) })
	return r + lf.search(&k)
}

// zpos is a position in a sorted set's order; the zero value is past
// either end. A write to the set invalidates it.
type zpos struct {
	l *zleaf
	i int
}

// ok reports whether p is on an entry.
func (p zpos) ok() bool { return p.l != nil }

// at returns p's entry.
func (p zpos) at() *zentry { return &p.l.e[p.i] }

// next returns the position after p.
func (p zpos) next() zpos {
	if p.i++; p.i == len(p.l.e) {
		p.l, p.i = p.l.next, 0
	}
	return p
}

// prev returns the position before p.
func (p zpos) prev() zpos {
	if p.i--; p.i < 0 {
		p.l = p.l.prev
		if p.l != nil {
			p.i = len(p.l.e) - 1
		}
	}
	return p
}

// at returns the position of 0-based rank r (0 <= r < len).
func (z *zset) at(r int) zpos {
	lf, _ := z.descendBy(func(nd *zinner) int {
		i := 0
		for i < nd.n-1 && r >= nd.cnt[i] {
			r -= nd.cnt[i]
			i++
		}
		return i
	})
	return zpos{lf, r}
}

// count returns how many leading entries satisfy pred, which must be
// true for a prefix of the order and false after it (the search assumes
// so, and asks it of separators too).
func (z *zset) count(pred func(*zentry) bool) int {
	// At an inner node, the last child whose separator satisfies pred:
	// every entry before it does.
	lf, r := z.descendBy(func(nd *zinner) int {
		return sort.Search(nd.n-1, func(i int) bool { return !pred(&nd.sep[i+1]) })
	})
	return r + sort.Search(len(lf.e), func(i int) bool { return !pred(&lf.e[i]) })
}

// first returns the position of the first entry (not ok when empty).
func (z *zset) first() zpos {
	if z.len() == 0 {
		return zpos{}
	}
	return zpos{z.head, 0}
}

// last returns the position of the last entry (not ok when empty).
func (z *zset) last() zpos {
	if z.len() == 0 {
		return zpos{}
	}
	return zpos{z.tail, len(z.tail.e) - 1}
}

// clone returns a deep copy sharing nothing mutable with z.
func (z *zset) clone() *zset {
	c := newZSet()
	c.big = z.big
	c.dict = make(map[string]float64, len(z.dict))
	// Appending in order fills each leaf.
	for p := z.first(); p.ok(); p = p.next() {
		e := p.at()
		c.insert(e.member, e.score)
	}
	c.order = z.order.clone()
	return c
}

// write writes the snapshot encoding: n:uvarint, then n times
// member:string score:uvarint (the IEEE 754 bits), in (score, member)
// order.
func (z *zset) write(w *bufio.Writer) {
	putUvarint(w, uint64(z.len()))
	for p := z.first(); p.ok(); p = p.next() {
		e := p.at()
		putString(w, e.member)
		putUvarint(w, math.Float64bits(e.score))
	}
}

// readZSet reads a sorted set's snapshot encoding (zset.write): at least
// one member, strictly ascending (score, member), no NaN. The encoding is
// chosen as Redis chooses it when it loads a sorted set: the listpack one
// when the set fits its limits.
func (d *snapDecoder) readZSet(k string) collection {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 {
		d.corrupt("key %q: empty sorted set", k)
		return nil
	}
	z := newZSet()
	var prev zentry
	maxLen := 0
	for range n {
		m := d.str()
		s := math.Float64frombits(d.uvarint())
		if d.err != nil {
			return nil
		}
		if math.IsNaN(s) {
			d.corrupt("key %q: member %q has a NaN score", k, m)
			return nil
		}
		if z.len() > 0 && !zless(prev.score, prev.member, s, m) {
			d.corrupt("key %q: sorted set members out of order at %q", k, m)
			return nil
		}
		if _, dup := z.dict[m]; dup { // out of order too, unless the scores differ
			d.corrupt("key %q: sorted set member %q twice", k, m)
			return nil
		}
		z.insert(m, s)
		prev = zentry{score: s, member: m}
		maxLen = max(maxLen, len(m))
	}
	z.big = z.len() > zsetListpackEntries || maxLen > zsetListpackValue
	return zsetColl{z: z, bytes: z.bytes}
}

// sorted returns the members ordered by xxhash (ties by name), building
// the cache if needed (ZSCAN's order).
func (z *zset) sorted() *keyOrder {
	if z.order == nil {
		z.order = newKeyOrder(z.dict)
	}
	return z.order
}
