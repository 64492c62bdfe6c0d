package shard

import "math/bits"

// A chunk is one node of a list (list_deque.go): up to a few KiB of
// elements packed into one []byte, with their boundaries in a []uint32.
// Neither array holds pointers, so the garbage collector never scans
// them: it sees only the ring of chunk headers.
//
// Element j of a chunk is buf[off[a+j]:off[a+j+1]]. The elements are
// contiguous in buf; the free space is before off[a] and after off[b]
// (in both arrays), so that a push at either end writes one element and
// one boundary and moves nothing. When the end being pushed has no room
// left, the chunk is laid out again (relayout) if that leaves it at most
// half full or lets it grow to a bigger capacity; otherwise the list
// starts a new chunk. Each relayout moves at most half a chunk and buys
// at least a quarter of one, so pushes stay O(1) amortized.

// Chunk capacities. A chunk's arrays grow from the minimums by doubling
// (a small list stays small) up to the maximums; a list that already has
// a chunk starts new ones at the maximum data capacity. An element longer
// than chunkBytes gets a chunk of its own, sized for it.
const (
	chunkBytes    = 8192 // data capacity of a full chunk
	chunkMinBytes = 16
	chunkMaxOffs  = 512 // boundary capacity of a full chunk: at most 511 elements
	chunkMinOffs  = 4
)

// chunk is one node of a list. It is held by value in its deque's ring.
type chunk struct {
	buf []byte   // element bytes; len(buf) is the capacity
	off []uint32 // element boundaries; len(off) is the capacity
	a   int32    // off[a..b] are the boundaries in use:
	b   int32    // the chunk holds b-a >= 1 elements
	// shared is set by deque.clone on both deques' headers: buf and off
	// may then be read by another deque, so they are copied (own) before
	// anything writes them. Pops and trims only move a and b.
	shared bool
}

// n is the number of elements in the chunk.
func (c *chunk) n() int { return int(c.b - c.a) }

// get returns element j (0 is the chunk's first). The slice aliases the
// chunk: copy it before the list changes.
func (c *chunk) get(j int) []byte {
	i := int(c.a) + j
	return c.buf[c.off[i]:c.off[i+1]]
}

// used is the number of element bytes in the chunk.
func (c *chunk) used() int { return int(c.off[c.b] - c.off[c.a]) }

// span is the number of bytes of elements j..j+k-1.
func (c *chunk) span(j, k int) int {
	i := int(c.a) + j
	return int(c.off[i+k] - c.off[i])
}

// mem is the accounted size of the chunk's arrays (their capacities are
// allocation size classes, see chunkCap).
func (c *chunk) mem() int64 { return allocSize(len(c.buf)) + allocSize(4*len(c.off)) }

// fits reports whether an element of n bytes can be pushed at the chunk's
// start (left) or end without laying it out again.
func (c *chunk) fits(n int, left bool) bool {
	if left {
		return c.a > 0 && int(c.off[c.a]) >= n
	}
	return int(c.b)+1 < len(c.off) && int(c.off[c.b])+n <= len(c.buf)
}

// grown returns the capacities for a relayout of c that makes room for one
// more element of n bytes, and false when the list should start a new
// chunk instead: when the chunk cannot hold it, or when it cannot grow
// and would be more than half full afterwards (see the top of the file).
func (c *chunk) grown(n int) (nb, no int, ok bool) {
	needB, needO := c.used()+n, c.n()+2
	nb, no = len(c.buf), len(c.off) // powers of two up to the maximums, or an oversized chunk's
	for needB > nb/2 && nb < chunkBytes {
		nb *= 2
	}
	for needO > no/2 && no < chunkMaxOffs {
		no *= 2
	}
	if needB > nb || needO > no {
		return 0, 0, false
	}
	grew := nb != len(c.buf) || no != len(c.off)
	if !grew && (needB > nb/2 || needO > no/2) {
		return 0, 0, false
	}
	return nb, no, true
}

// relayout moves c's elements into arrays of nb bytes and no boundaries
// (c's own arrays when the capacities are unchanged and c is not shared),
// leaving room for an element of n bytes at the start (left) or end. An
// end chunk of a longer list keeps all its free space on its outer side;
// the only chunk (both) splits it between the two.
func (c *chunk) relayout(nb, no, n int, left, both bool) {
	cnt, used := c.n(), c.used()
	buf, off := c.buf, c.off
	if nb != len(buf) || c.shared {
		buf = make([]byte, nb)
	}
	if no != len(off) || c.shared {
		off = make([]uint32, no)
	}
	freeB, freeO := nb-used, no-cnt-1
	var sb, so int // where the elements and the boundaries start
	switch {
	case both && left:
		sb, so = max(freeB/2, n), max(freeO/2, 1)
	case both:
		sb, so = min(freeB/2, freeB-n), min(freeO/2, freeO-1)
	case left:
		sb, so = freeB, freeO
	}
	from := c.off[c.a]
	copy(buf[sb:], c.buf[from:int(from)+used])
	copy(off[so:], c.off[c.a:c.b+1])
	delta := uint32(sb) - from // modular: adding it shifts every boundary by sb-from
	for i := so; i <= so+cnt; i++ {
		off[i] += delta
	}
	c.buf, c.off, c.a, c.b, c.shared = buf, off, int32(so), int32(so+cnt), false
}

// own gives c arrays of its own (same capacities) if they are shared.
func (c *chunk) own() {
	if !c.shared {
		return
	}
	buf := make([]byte, len(c.buf))
	off := make([]uint32, len(c.off))
	from := c.off[c.a]
	copy(buf[from:], c.buf[from:c.off[c.b]])
	copy(off[c.a:], c.off[c.a:c.b+1])
	c.buf, c.off, c.shared = buf, off, false
}

// emptyChunk returns a chunk with no elements and arrays of nb bytes and
// no boundaries, its free space all at the start (left) or all at the end.
// Only a push may see it: a chunk in a ring is never empty.
func emptyChunk(nb, no int, left bool) chunk {
	c := chunk{buf: make([]byte, nb), off: make([]uint32, no)}
	if left {
		c.a, c.b = int32(no-1), int32(no-1)
		c.off[no-1] = uint32(nb)
	}
	return c
}

// packChunk returns a chunk holding copies of elems (at least one), with
// capacities just big enough for them.
func packChunk(elems [][]byte) chunk {
	used := 0
	for _, e := range elems {
		used += len(e)
	}
	c := emptyChunk(chunkCap(used), offsCap(len(elems)+1), false)
	p := 0
	for i, e := range elems {
		p += copy(c.buf[p:], e)
		c.off[i+1] = uint32(p)
	}
	c.b = int32(len(elems))
	return c
}

// chunkCap is the data capacity for n bytes: a power of two from
// chunkMinBytes, or beyond chunkBytes the allocation size of n.
func chunkCap(n int) int {
	if n > chunkBytes {
		return int(allocSize(n))
	}
	return max(chunkMinBytes, 1<<bits.Len(uint(max(n, 1)-1)))
}

// offsCap is the boundary capacity for n boundaries: a power of two from
// chunkMinOffs (beyond chunkMaxOffs only for a chunk made by a relayout,
// which never happens: chunks hold at most chunkMaxOffs-1 elements).
func offsCap(n int) int {
	return max(chunkMinOffs, 1<<bits.Len(uint(max(n, 1)-1)))
}

// packChunks packs elems, in order, into as few chunks as the capacity
// limits allow (greedily), each a packChunk.
func packChunks(elems [][]byte) []chunk {
	var out []chunk
	start, bytes := 0, 0
	for i, e := range elems {
		if i > start && (bytes+len(e) > chunkBytes || i-start+1 > chunkMaxOffs-1) {
			out = append(out, packChunk(elems[start:i]))
			start, bytes = i, 0
		}
		bytes += len(e)
	}
	if start < len(elems) {
		out = append(out, packChunk(elems[start:]))
	}
	return out
}
