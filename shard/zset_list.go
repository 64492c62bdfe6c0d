package shard

import (
	"bufio"
	"math"

	"github.com/cespare/xxhash/v2"
)

// The sorted set value: a skiplist ordered by (score, member) whose links
// carry spans, as Redis's zskiplist, so that insert, delete, rank and
// select-by-rank are O(log n), plus a member -> node map for O(1) score
// lookups.
//
// Node levels are not random: they come from the xxhash of the member
// (a quarter of the nodes reach each next level), so every replica that
// applies the same writes builds the same list.
//
// A zset is changed in place by writes (see collection in ext.go). The
// collection stored in a header is a zsetColl value that records the
// accounted size at the time that header was installed, because put
// subtracts the old header's size after the shared zset has changed.

// zsetMaxLevel bounds the skiplist's height (enough for 2^64 nodes at
// p = 1/4).
const zsetMaxLevel = 32

// Redis's defaults for the listpack encoding of sorted sets
// (zset-max-listpack-entries and -value). They decide OBJECT ENCODING and
// how ZSCAN answers, not the structure.
const (
	zsetListpackEntries = 128
	zsetListpackValue   = 64
)

// zsetNodeOverhead approximates a member's cost beyond its string: the
// node (rounded to its size class) and its map slot at the map's load
// factor. The links are counted by level.
const zsetNodeOverhead = 64 + 56

// zsetOverhead approximates the fixed cost of a sorted set: the zset,
// its head node and links, and the map header.
const zsetOverhead = 64 + 64 + zsetMaxLevel*16 + 48

// zlink is one forward link of a node: the next node at this level and
// how many nodes the link skips over (1 for adjacent nodes).
type zlink struct {
	next *znode
	span int
}

// znode is one member of a sorted set.
type znode struct {
	member string
	score  float64
	back   *znode // previous node at level 0; nil for the first
	lv     []zlink
}

// zset is a sorted set. The zero value is not usable: see newZSet.
type zset struct {
	head  *znode // sentinel: its lv has zsetMaxLevel links
	tail  *znode
	level int // levels in use, >= 1
	dict  map[string]*znode
	bytes int64 // accounted size, kept by every change
	// big is the skiplist encoding: the set has outgrown the listpack
	// limits once. It never goes back, as in Redis (until a restore).
	big   bool
	order []hkey // cache: members by xxhash, for ZSCAN; nil when stale
}

// newZSet returns an empty sorted set.
func newZSet() *zset {
	return &zset{
		head:  &znode{lv: make([]zlink, zsetMaxLevel)},
		level: 1,
		dict:  make(map[string]*znode),
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

// zsetLevel is the level of a node for member m: 1, plus one for each
// pair of low zero bits of its hash.
func zsetLevel(m string) int {
	h := xxhash.Sum64String(m)
	lvl := 1
	for h&3 == 0 && lvl < zsetMaxLevel {
		lvl++
		h >>= 2
	}
	return lvl
}

// newZNode returns a node with lvl links. Up to level 4 (more than 99% of
// nodes) the links share the node's allocation, so a search step that
// reaches a node finds its links in the same cache line or the next one
// instead of behind another pointer.
func newZNode(m string, s float64, lvl int) *znode {
	var n *znode
	switch lvl {
	case 1:
		x := &struct {
			n znode
			l [1]zlink
		}{}
		n = &x.n
		n.lv = x.l[:]
	case 2:
		x := &struct {
			n znode
			l [2]zlink
		}{}
		n = &x.n
		n.lv = x.l[:]
	case 3:
		x := &struct {
			n znode
			l [3]zlink
		}{}
		n = &x.n
		n.lv = x.l[:]
	case 4:
		x := &struct {
			n znode
			l [4]zlink
		}{}
		n = &x.n
		n.lv = x.l[:]
	default:
		n = &znode{lv: make([]zlink, lvl)}
	}
	n.member, n.score = m, s
	return n
}

// zless reports whether (s1, m1) sorts before (s2, m2).
func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func nodeCost(m string, lvl int) int64 {
	return allocSize(len(m)) + allocSize(lvl*16) + zsetNodeOverhead
}

func (z *zset) len() int { return len(z.dict) }

// insert adds member m, which must be absent, with score s.
func (z *zset) insert(m string, s float64) *znode {
	var update [zsetMaxLevel]*znode
	var rank [zsetMaxLevel]int
	x := z.head
	for i := z.level - 1; i >= 0; i-- {
		if i < z.level-1 {
			rank[i] = rank[i+1]
		}
		for x.lv[i].next != nil && zless(x.lv[i].next.score, x.lv[i].next.member, s, m) {
			rank[i] += x.lv[i].span
			x = x.lv[i].next
		}
		update[i] = x
	}
	lvl := zsetLevel(m)
	if lvl > z.level {
		for i := z.level; i < lvl; i++ {
			rank[i] = 0
			update[i] = z.head
			update[i].lv[i].span = z.len()
		}
		z.level = lvl
	}
	n := newZNode(m, s, lvl)
	for i := range lvl {
		n.lv[i].next = update[i].lv[i].next
		update[i].lv[i].next = n
		n.lv[i].span = update[i].lv[i].span - (rank[0] - rank[i])
		update[i].lv[i].span = rank[0] - rank[i] + 1
	}
	for i := lvl; i < z.level; i++ {
		update[i].lv[i].span++
	}
	if update[0] != z.head {
		n.back = update[0]
	}
	if n.lv[0].next != nil {
		n.lv[0].next.back = n
	} else {
		z.tail = n
	}
	z.dict[m] = n
	z.bytes += nodeCost(m, lvl)
	z.order = nil
	return n
}

// remove deletes node n.
func (z *zset) remove(n *znode) {
	var update [zsetMaxLevel]*znode
	x := z.head
	for i := z.level - 1; i >= 0; i-- {
		for x.lv[i].next != nil && x.lv[i].next != n &&
			zless(x.lv[i].next.score, x.lv[i].next.member, n.score, n.member) {
			x = x.lv[i].next
		}
		update[i] = x
	}
	for i := range z.level {
		if update[i].lv[i].next == n {
			update[i].lv[i].span += n.lv[i].span - 1
			update[i].lv[i].next = n.lv[i].next
		} else {
			update[i].lv[i].span--
		}
	}
	if n.lv[0].next != nil {
		n.lv[0].next.back = n.back
	} else {
		z.tail = n.back
	}
	for z.level > 1 && z.head.lv[z.level-1].next == nil {
		z.level--
	}
	delete(z.dict, n.member)
	z.bytes -= nodeCost(n.member, len(n.lv))
	z.order = nil
}

// setScore moves node n to score s.
func (z *zset) setScore(n *znode, s float64) {
	// In place when the order stays the same.
	if (n.back == nil || zless(n.back.score, n.back.member, s, n.member)) &&
		(n.lv[0].next == nil || zless(s, n.member, n.lv[0].next.score, n.lv[0].next.member)) {
		n.score = s
		return
	}
	m := n.member
	z.remove(n)
	z.insert(m, s)
}

// rank returns the 0-based position of node n.
func (z *zset) rank(n *znode) int {
	r := 0
	x := z.head
	for i := z.level - 1; i >= 0; i-- {
		for x.lv[i].next != nil && (x.lv[i].next == n ||
			zless(x.lv[i].next.score, x.lv[i].next.member, n.score, n.member)) {
			r += x.lv[i].span
			x = x.lv[i].next
		}
		if x == n {
			return r - 1
		}
	}
	return r - 1
}

// at returns the node at 0-based rank r (0 <= r < len).
func (z *zset) at(r int) *znode {
	r++ // spans count from the head
	traversed := 0
	x := z.head
	for i := z.level - 1; i >= 0; i-- {
		for x.lv[i].next != nil && traversed+x.lv[i].span <= r {
			traversed += x.lv[i].span
			x = x.lv[i].next
		}
		if traversed == r {
			return x
		}
	}
	return nil
}

// count returns how many leading nodes satisfy pred, which must be true
// for a prefix of the order and false after it (the walk assumes so).
func (z *zset) count(pred func(*znode) bool) int {
	r := 0
	x := z.head
	for i := z.level - 1; i >= 0; i-- {
		for x.lv[i].next != nil && pred(x.lv[i].next) {
			r += x.lv[i].span
			x = x.lv[i].next
		}
	}
	return r
}

// first returns the first node, or nil.
func (z *zset) first() *znode { return z.head.lv[0].next }

// clone returns a deep copy sharing nothing mutable with z.
func (z *zset) clone() *zset {
	c := newZSet()
	c.big = z.big
	c.dict = make(map[string]*znode, len(z.dict))
	// Appending in order rebuilds the same list (levels come from the
	// members).
	for n := z.first(); n != nil; n = n.lv[0].next {
		c.insert(n.member, n.score)
	}
	c.order = z.order // never changed in place, only replaced
	return c
}

// write writes the snapshot encoding: n:uvarint, then n times
// member:string score:uvarint (the IEEE 754 bits), in (score, member)
// order.
func (z *zset) write(w *bufio.Writer) {
	putUvarint(w, uint64(z.len()))
	for n := z.first(); n != nil; n = n.lv[0].next {
		putString(w, n.member)
		putUvarint(w, math.Float64bits(n.score))
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
	var prev *znode
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
		if prev != nil && !zless(prev.score, prev.member, s, m) {
			d.corrupt("key %q: sorted set members out of order at %q", k, m)
			return nil
		}
		prev = z.insert(m, s)
		maxLen = max(maxLen, len(m))
	}
	z.big = z.len() > zsetListpackEntries || maxLen > zsetListpackValue
	return zsetColl{z: z, bytes: z.bytes}
}

// sorted returns the members ordered by xxhash (ties by name), building
// the cache if needed (ZSCAN's order).
func (z *zset) sorted() []hkey {
	if z.order == nil && z.len() > 0 {
		z.order = hashOrder(z.dict)
	}
	return z.order
}
