package shard

import "bufio"

// List values.
//
// A list is a deque: a ring buffer of strings whose capacity is a power of
// two. Pushes and pops at either end are O(1) (amortized: the ring doubles
// when full and halves when a quarter full), LINDEX and LSET are O(1), and
// LRANGE costs only the elements it returns. LINSERT and LREM move the
// elements on one side of the change, as Redis's quicklist does within a
// node. Elements are Go strings that are never changed, so a Result may
// alias them.
//
// The deque is changed in place by writes (like a big hash's map): each
// write installs a new *large header and, in it, a new listColl that
// points at the same deque but records the size after the write. put and
// remove subtract the cost of the entry they replace, so that cost must
// be the size as it was when that entry was installed, not the size of
// the shared deque now: listColl.size answers the recorded figure. A
// header frozen by a snapshot is copied by large.edit (listColl.clone)
// before the next write changes anything.

// listOverhead approximates the fixed cost of a list beyond its entry:
// the *large header, the listColl and the deque.
const listOverhead = 208

// listSlotSize is the size of one ring slot (a string header).
const listSlotSize = 16

// listMinCap is the smallest ring a list gets.
const listMinCap = 4

// deque is a ring buffer of strings. buf's length is 0 or a power of two;
// the elements are buf[(head+i) & (len(buf)-1)] for i in [0, n). Slots
// outside the elements hold "" so that they keep nothing alive.
type deque struct {
	buf  []string
	head int
	n    int
	elem int64 // accounted bytes of the elements' strings (allocSize)
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
// element as a string, head first. n >= 1.
func (c *listColl) write(w *bufio.Writer) {
	d := c.d
	putUvarint(w, uint64(d.n))
	for i := range d.n {
		putString(w, d.at(i))
	}
}

// size is the accounted size of the list: overhead, ring and elements.
func (d *deque) size() int64 {
	return listOverhead + int64(len(d.buf))*listSlotSize + d.elem
}

// elemCost is the accounted size of one element's string.
func elemCost(s string) int64 { return allocSize(len(s)) }

func (d *deque) mask() int { return len(d.buf) - 1 }

// at returns element i (0 is the head); 0 <= i < n.
func (d *deque) at(i int) string { return d.buf[(d.head+i)&d.mask()] }

// setAt replaces element i.
func (d *deque) setAt(i int, s string) {
	p := &d.buf[(d.head+i)&d.mask()]
	d.elem += elemCost(s) - elemCost(*p)
	*p = s
}

// clone returns a copy sharing only the (immutable) strings.
func (d *deque) clone() *deque {
	c := &deque{buf: make([]string, len(d.buf)), n: d.n, elem: d.elem}
	for i := range d.n {
		c.buf[i] = d.at(i)
	}
	return c
}

// resize moves the elements into a new ring of capacity c >= n (a power
// of two), head at 0.
func (d *deque) resize(c int) {
	nb := make([]string, c)
	if d.n > 0 {
		h := d.head
		k := copy(nb, d.buf[h:min(h+d.n, len(d.buf))])
		copy(nb[k:], d.buf[:d.n-k])
	}
	d.buf, d.head = nb, 0
}

// reserve makes room for k more elements.
func (d *deque) reserve(k int) {
	need := d.n + k
	if need <= len(d.buf) {
		return
	}
	c := max(len(d.buf), listMinCap)
	for c < need {
		c *= 2
	}
	d.resize(c)
}

// shrink halves the ring while it is at most a quarter full.
func (d *deque) shrink() {
	c := len(d.buf)
	for c > listMinCap && d.n <= c/4 {
		c /= 2
	}
	if c != len(d.buf) {
		d.resize(c)
	}
}

// pushBack appends s at the tail.
func (d *deque) pushBack(s string) {
	d.reserve(1)
	d.buf[(d.head+d.n)&d.mask()] = s
	d.n++
	d.elem += elemCost(s)
}

// pushFront prepends s at the head.
func (d *deque) pushFront(s string) {
	d.reserve(1)
	d.head = (d.head - 1) & d.mask()
	d.buf[d.head] = s
	d.n++
	d.elem += elemCost(s)
}

// popFront removes and returns the head; n > 0. The caller shrinks.
func (d *deque) popFront() string {
	p := &d.buf[d.head]
	s := *p
	*p = ""
	d.head = (d.head + 1) & d.mask()
	d.n--
	d.elem -= elemCost(s)
	return s
}

// popBack removes and returns the tail; n > 0. The caller shrinks.
func (d *deque) popBack() string {
	p := &d.buf[(d.head+d.n-1)&d.mask()]
	s := *p
	*p = ""
	d.n--
	d.elem -= elemCost(s)
	return s
}

// pop removes and returns an element from the head (left) or the tail.
func (d *deque) pop(left bool) string {
	if left {
		return d.popFront()
	}
	return d.popBack()
}

// push adds s at the head (left) or the tail.
func (d *deque) push(s string, left bool) {
	if left {
		d.pushFront(s)
	} else {
		d.pushBack(s)
	}
}

// insert puts s at index i (0 <= i <= n), moving the shorter side.
func (d *deque) insert(i int, s string) {
	d.reserve(1)
	if i < d.n-i {
		d.head = (d.head - 1) & d.mask()
		for j := 0; j < i; j++ {
			d.buf[(d.head+j)&d.mask()] = d.buf[(d.head+j+1)&d.mask()]
		}
	} else {
		for j := d.n; j > i; j-- {
			d.buf[(d.head+j)&d.mask()] = d.buf[(d.head+j-1)&d.mask()]
		}
	}
	d.buf[(d.head+i)&d.mask()] = s
	d.n++
	d.elem += elemCost(s)
}

// trim removes l elements from the head and r from the tail
// (l + r <= n), then shrinks.
func (d *deque) trim(l, r int) {
	for range l {
		d.popFront()
	}
	for range r {
		d.popBack()
	}
	d.shrink()
}

// removeIn removes the elements equal to s at indexes lo..hi and returns
// how many it removed, keeping the others in order; it shrinks.
func (d *deque) removeIn(s string, lo, hi int) int {
	w := lo
	for r := lo; r < d.n; r++ {
		v := d.at(r)
		if r <= hi && v == s {
			d.elem -= elemCost(v)
			continue
		}
		if w != r {
			d.buf[(d.head+w)&d.mask()] = v
		}
		w++
	}
	removed := d.n - w
	for j := w; j < d.n; j++ {
		d.buf[(d.head+j)&d.mask()] = ""
	}
	d.n = w
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
	n := int64(d.n)
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
