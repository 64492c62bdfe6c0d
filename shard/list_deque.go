package shard

import (
	"bufio"
	"iter"
	"slices"
	"strings"
	"unsafe"
)

// List values.
//
// A list is a deque of chunks, like Redis's quicklist: a ring (a power of
// two long) of chunk headers, each chunk packing up to chunkBytes of
// elements into one []byte with their boundaries in a []uint32
// (list_chunk.go). The garbage collector scans only the ring; a push
// copies the element's bytes into the end chunk and allocates nothing
// until that chunk is full. Pushes and pops at either end are O(1)
// (amortized: a chunk is laid out again or a new one started when an
// end is full; the ring of headers doubles and halves). LINDEX and LSET
// locate their chunk from the nearer end, O(chunks) as in Redis; LRANGE
// costs the elements it returns plus locating the first. LINSERT and
// LSET (to a different length) rebuild one chunk, splitting it when it
// overflows; LREM compacts the chunks it removes from. Elements are
// stored as bytes that writes change in place, so every element handed
// out in a Result is copied into a string first.
//
// The deque is changed in place by writes (like a big hash's map): each
// write installs a new *large header and, in it, a new listColl that
// points at the same deque but records the size after the write. put and
// remove subtract the cost of the entry they replace, so that cost must
// be the size as it was when that entry was installed, not the size of
// the shared deque now: listColl.size answers the recorded figure. A
// header frozen by a snapshot is copied by large.edit (listColl.clone)
// before the next write changes anything. The copy shares the chunks'
// arrays, marked shared in both deques: whichever writes one first copies
// it (chunk.own), so a clone costs O(chunks) and a frozen deque is never
// changed.

// listOverhead approximates the fixed cost of a list beyond its entry:
// the *large header, the listColl and the deque.
const listOverhead = 224

// listSlotSize is the size of one ring slot (a chunk header).
const listSlotSize = int64(unsafe.Sizeof(chunk{}))

// deque is a list: a ring of chunks. ring's length is 0 or a power of
// two; the chunks are ring[(head+k) & (len(ring)-1)] for k in [0, nc),
// none of them empty. Slots outside them are zero so that they keep
// nothing alive.
type deque struct {
	ring []chunk
	head int
	nc   int   // chunks
	n    int   // elements
	mem  int64 // accounted bytes of the chunks' arrays (chunk.mem)
}

// listColl is a list's collection value: a header over a deque that may
// be shared with the list's earlier headers (see above).
type listColl struct {
	d     *deque
	bytes int64 // size() when this header was installed
}

// newListColl returns a header for d that records d's current size.
func newListColl(d *deque) *listColl { return &listColl{d: d, bytes: d.size()} }

func (c *listColl) size() int64       { return c.bytes }
func (c *listColl) length() int       { return c.d.n }
func (c *listColl) clone() collection { return &listColl{d: c.d.clone(), bytes: c.bytes} }

// encoding answers OBJECT ENCODING as Redis 7.0 does for every list.
// (Redis 7.2 and later answer "listpack" for small lists.)
func (c *listColl) encoding() string { return "quicklist" }

// write writes the list's snapshot encoding: n:uvarint, then each
// element as a string (putString's format), head first. n >= 1.
func (c *listColl) write(w *bufio.Writer) {
	d := c.d
	putUvarint(w, uint64(d.n))
	for k := range d.nc {
		ch := d.chunk(k)
		for j := range ch.n() {
			e := ch.get(j)
			putUvarint(w, uint64(len(e)))
			w.Write(e)
		}
	}
}

// size is the accounted size of the list: overhead, ring and chunks.
// Free space inside the chunks counts: it is allocated.
func (d *deque) size() int64 {
	return listOverhead + int64(len(d.ring))*listSlotSize + d.mem
}

// chunk returns the k-th chunk from the head; 0 <= k < nc.
func (d *deque) chunk(k int) *chunk { return &d.ring[(d.head+k)&(len(d.ring)-1)] }

// clone returns a copy that shares the chunks' arrays, marked shared in
// both (see above). It writes only the shared marks of d's chunk headers,
// which readers of a frozen d never look at.
func (d *deque) clone() *deque {
	c := &deque{ring: make([]chunk, len(d.ring)), nc: d.nc, n: d.n, mem: d.mem}
	for k := range d.nc {
		p := d.chunk(k)
		p.shared = true
		c.ring[k] = chunk{buf: p.buf, off: p.off, a: p.a, b: p.b, shared: true}
	}
	return c
}

// locate returns the chunk k and the position j in it of element i
// (0 <= i < n), walking from the nearer end.
func (d *deque) locate(i int) (k, j int) {
	if i < d.n/2 {
		for k = 0; ; k++ {
			c := d.chunk(k)
			if i < c.n() {
				return k, i
			}
			i -= c.n()
		}
	}
	i = d.n - 1 - i // counted from the tail
	for k = d.nc - 1; ; k-- {
		c := d.chunk(k)
		if i < c.n() {
			return k, c.n() - 1 - i
		}
		i -= c.n()
	}
}

// at returns element i (0 is the head); 0 <= i < n. The slice aliases
// the list: copy it before the list changes.
func (d *deque) at(i int) []byte {
	k, j := d.locate(i)
	return d.chunk(k).get(j)
}

// from yields the index and the element of i, i+1, ... n-1. The elements
// alias the list, which must not change during the iteration.
func (d *deque) from(i int) iter.Seq2[int, []byte] {
	if i < 0 || i >= d.n {
		return func(func(int, []byte) bool) {}
	}
	k, j := d.locate(i)
	return d.fromAt(k, j, i)
}

// fromAt is from(i) for i, element j of chunk k.
func (d *deque) fromAt(k, j, i int) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for ; k < d.nc; k++ {
			c := d.chunk(k)
			for ; j < c.n(); j++ {
				if !yield(i, c.get(j)) {
					return
				}
				i++
			}
			j = 0
		}
	}
}

// backFrom yields the index and the element of i, i-1, ... 0, as from.
func (d *deque) backFrom(i int) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		if i < 0 || i >= d.n {
			return
		}
		k, j := d.locate(i)
		for ; k >= 0; k-- {
			c := d.chunk(k)
			for ; j >= 0; j-- {
				if !yield(i, c.get(j)) {
					return
				}
				i--
			}
			if k > 0 {
				j = d.chunk(k-1).n() - 1
			}
		}
	}
}

// vals appends elements lo..hi (0 <= lo <= hi < n) to dst, head first,
// or tail first when reverse. They are copied into one new string (one
// allocation) that the Vals slice.
func (d *deque) vals(dst []Val, lo, hi int, reverse bool) []Val {
	k0, j0 := d.locate(lo)
	total := 0
	for k, j, left := k0, j0, hi-lo+1; left > 0; k, j = k+1, 0 {
		c := d.chunk(k)
		take := min(c.n()-j, left)
		total += c.span(j, take)
		left -= take
	}
	// Grow makes room for every byte, so each String is a prefix of the
	// final string in the same memory, and the slices stay valid.
	var sb strings.Builder
	sb.Grow(total)
	start := len(dst)
	for i, e := range d.fromAt(k0, j0, lo) {
		if i > hi {
			break
		}
		sb.Write(e)
		all := sb.String()
		dst = append(dst, Val{S: all[len(all)-len(e):]})
	}
	if reverse {
		for i, j := start, len(dst)-1; i < j; i, j = i+1, j-1 {
			dst[i], dst[j] = dst[j], dst[i]
		}
	}
	return dst
}

// grow makes room in the ring for one more chunk.
func (d *deque) grow() {
	if d.nc < len(d.ring) {
		return
	}
	d.resize(max(1, 2*len(d.ring)))
}

// shrink halves the ring while it is at most a quarter full.
func (d *deque) shrink() {
	c := len(d.ring)
	for c > 1 && d.nc <= c/4 {
		c /= 2
	}
	if d.nc == 0 {
		c = 0
	}
	if c != len(d.ring) {
		d.resize(c)
	}
}

// resize moves the chunk headers into a new ring of c >= nc slots (a
// power of two, or 0 for an empty list), head at 0.
func (d *deque) resize(c int) {
	nr := make([]chunk, c)
	for k := range d.nc {
		nr[k] = *d.chunk(k)
	}
	d.ring, d.head = nr, 0
}

// addChunk puts c at the head (left) or the tail and returns it.
func (d *deque) addChunk(c chunk, left bool) *chunk {
	d.grow()
	if left {
		d.head = (d.head - 1) & (len(d.ring) - 1)
	}
	d.nc++
	d.mem += c.mem()
	p := d.chunk(0)
	if !left {
		p = d.chunk(d.nc - 1)
	}
	*p = c
	return p
}

// dropEnd removes the (empty) chunk at the head (left) or the tail.
func (d *deque) dropEnd(left bool) {
	k := 0
	if !left {
		k = d.nc - 1
	}
	p := d.chunk(k)
	d.mem -= p.mem()
	*p = chunk{}
	if left {
		d.head = (d.head + 1) & (len(d.ring) - 1)
	}
	d.nc--
}

// endChunk returns the chunk at the head (left) or the tail, made
// writable, with room at that end for an element of n bytes: the end
// chunk as it is, laid out again, or a new one.
func (d *deque) endChunk(n int, left bool) *chunk {
	if d.nc > 0 {
		k := 0
		if !left {
			k = d.nc - 1
		}
		c := d.chunk(k)
		if c.fits(n, left) {
			c.own()
			return c
		}
		if nb, no, ok := c.grown(n); ok {
			before := c.mem()
			c.relayout(nb, no, n, left, d.nc == 1)
			d.mem += c.mem() - before
			return c
		}
		// The list already fills a chunk: start the next one full-sized,
		// with as many boundaries as the end chunk used.
		nb := max(chunkBytes, chunkCap(n))
		no := min(offsCap(c.n()+2), chunkMaxOffs)
		return d.addChunk(emptyChunk(nb, no, left), left)
	}
	return d.addChunk(emptyChunk(chunkCap(n), chunkMinOffs, left), left)
}

// room adds an element of n bytes at the head (left) or the tail and
// returns its bytes for the caller to fill.
func (d *deque) room(n int, left bool) []byte {
	c := d.endChunk(n, left)
	d.n++
	if left {
		c.a--
		c.off[c.a] = c.off[c.a+1] - uint32(n)
		return c.buf[c.off[c.a]:c.off[c.a+1]]
	}
	c.b++
	c.off[c.b] = c.off[c.b-1] + uint32(n)
	return c.buf[c.off[c.b-1]:c.off[c.b]]
}

// push adds a copy of s at the head (left) or the tail.
func (d *deque) push(s []byte, left bool) { copy(d.room(len(s), left), s) }

// pushString adds a copy of s at the head (left) or the tail.
func (d *deque) pushString(s string, left bool) { copy(d.room(len(s), left), s) }

// popBytes removes the head (left) or the tail element and returns it;
// n > 0. The slice aliases the list: copy it before the list changes.
// The caller shrinks.
func (d *deque) popBytes(left bool) []byte {
	k := 0
	if !left {
		k = d.nc - 1
	}
	c := d.chunk(k)
	var v []byte
	if left {
		v = c.get(0)
		c.a++
	} else {
		v = c.get(c.n() - 1)
		c.b--
	}
	d.n--
	if c.a == c.b {
		d.dropEnd(left)
	}
	return v
}

// pop removes and returns the head (left) or the tail element; n > 0.
// The caller shrinks.
func (d *deque) pop(left bool) string { return string(d.popBytes(left)) }

// popN removes k elements (0 < k <= n) from the head (left) or the tail
// and appends them to dst in the order popped; it shrinks.
func (d *deque) popN(dst []Val, k int, left bool) []Val {
	if left {
		dst = d.vals(dst, 0, k-1, false)
		d.trim(k, 0)
	} else {
		dst = d.vals(dst, d.n-k, d.n-1, true)
		d.trim(0, k)
	}
	return dst
}

// setAt replaces element i with a copy of s.
func (d *deque) setAt(i int, s []byte) {
	k, j := d.locate(i)
	c := d.chunk(k)
	if old := c.get(j); len(old) == len(s) {
		c.own()
		copy(c.get(j), s)
		return
	}
	elems := c.elems(nil)
	elems[j] = s
	d.replaceChunk(k, elems)
}

// insert puts a copy of s at index i (0 <= i <= n): a push at either
// end, else a rebuild of the chunk holding element i.
func (d *deque) insert(i int, s []byte) {
	switch i {
	case 0:
		d.push(s, true)
		return
	case d.n:
		d.push(s, false)
		return
	}
	k, j := d.locate(i)
	elems := d.chunk(k).elems(make([][]byte, 0, d.chunk(k).n()+1))
	elems = slices.Insert(elems, j, s)
	d.replaceChunk(k, elems)
	d.n++
}

// elems appends views of c's elements to dst.
func (c *chunk) elems(dst [][]byte) [][]byte {
	for j := range c.n() {
		dst = append(dst, c.get(j))
	}
	return dst
}

// replaceChunk replaces chunk k by chunks packing copies of elems (which
// may alias chunk k) and updates the accounting, not n.
func (d *deque) replaceChunk(k int, elems [][]byte) {
	cs := packChunks(elems)
	old := d.chunk(k)
	d.mem -= old.mem()
	for i := range cs {
		d.mem += cs[i].mem()
	}
	if len(cs) == 1 {
		*old = cs[0]
		return
	}
	nc := d.nc - 1 + len(cs)
	c := 1
	for c < nc {
		c *= 2
	}
	nr := make([]chunk, c)
	for i := range k {
		nr[i] = *d.chunk(i)
	}
	copy(nr[k:], cs)
	for i := k + 1; i < d.nc; i++ {
		nr[i-1+len(cs)] = *d.chunk(i)
	}
	d.ring, d.head, d.nc = nr, 0, nc
}

// trim removes l elements from the head and r from the tail
// (l + r <= n), then shrinks.
func (d *deque) trim(l, r int) {
	for l > 0 {
		c := d.chunk(0)
		if k := c.n(); k <= l {
			d.n -= k
			l -= k
			d.dropEnd(true)
			continue
		}
		c.a += int32(l)
		d.n -= l
		l = 0
	}
	for r > 0 {
		c := d.chunk(d.nc - 1)
		if k := c.n(); k <= r {
			d.n -= k
			r -= k
			d.dropEnd(false)
			continue
		}
		c.b -= int32(r)
		d.n -= r
		r = 0
	}
	d.shrink()
}

// removeIn removes the elements equal to s at indexes lo..hi and returns
// how many it removed, keeping the others in order; it shrinks. Each
// chunk with a match is compacted in place; chunks left empty leave the
// ring in one pass.
func (d *deque) removeIn(s string, lo, hi int) int {
	removed, emptied := 0, false
	base := 0 // index of the first element of chunk k
	for k := 0; k < d.nc && base <= hi; k++ {
		c := d.chunk(k)
		cn := c.n()
		j0, j1 := max(lo-base, 0), min(hi-base, cn-1) // the chunk's part of lo..hi
		base += cn
		match := false
		for j := j0; j <= j1 && !match; j++ {
			match = string(c.get(j)) == s
		}
		if !match {
			continue
		}
		c.own()
		w, wpos := c.a+int32(j0), c.off[c.a+int32(j0)]
		for r := c.a + int32(j0); r < c.b; r++ {
			e := c.buf[c.off[r]:c.off[r+1]]
			if int(r-c.a) <= j1 && string(e) == s {
				removed++
				continue
			}
			wpos += uint32(copy(c.buf[wpos:], e))
			c.off[w+1] = wpos
			w++
		}
		c.b = w
		emptied = emptied || c.a == c.b
	}
	d.n -= removed
	if emptied {
		kept := 0
		for k := range d.nc {
			c := d.chunk(k)
			if c.a == c.b {
				d.mem -= c.mem()
				continue
			}
			*d.chunk(kept) = *c
			kept++
		}
		for k := kept; k < d.nc; k++ {
			*d.chunk(k) = chunk{}
		}
		d.nc = kept
	}
	d.shrink()
	return removed
}

// index turns a Redis list index (negative counts from the tail) into a
// position, and reports whether it is within the list.
func (d *deque) index(i int64) (int, bool) {
	n := int64(d.n)
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return 0, false
	}
	return int(i), true
}

// span turns Redis's start and stop indexes (LRANGE, LTRIM) into the
// positions lo..hi of the elements they cover; ok is false for none.
func (d *deque) span(start, stop int64) (lo, hi int, ok bool) {
	return indexSpan(start, stop, int64(d.n))
}

// indexSpan turns Redis's inclusive start and stop indexes (negative ones
// count from the end) over n elements into the positions lo..hi they
// cover, as LRANGE and ZRANGE do; ok is false when they cover none.
func indexSpan(start, stop, n int64) (lo, hi int, ok bool) {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= n {
		return 0, 0, false
	}
	if stop >= n {
		stop = n - 1
	}
	return int(start), int(stop), true
}
