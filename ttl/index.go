package ttl

// BucketShift sets the width of an Index bucket: deadlines are grouped into
// buckets of 1<<BucketShift milliseconds (1,024 ms). Wide buckets keep the
// index small when keys trickle in (a store has one index per stripe, so
// at a few thousand new sessions a second narrow buckets would hold one key
// each); the reaper still reclaims at millisecond precision because its
// callback checks each key's exact deadline.
const BucketShift = 10

// smallBucket is how many keys a bucket keeps in a slice before it
// switches to a map: one key costs 16 bytes instead of a map's ~200.
const smallBucket = 8

// bucket is the set of keys whose deadlines fall in one bucket-width
// window: in few while it is small, in keys once it outgrew few. at is its
// position in Index.heap, or -1 while Due holds it.
type bucket struct {
	num  int64
	at   int
	few  []string
	keys map[string]struct{}
}

// len returns the number of keys in b.
func (b *bucket) len() int {
	if b.keys != nil {
		return len(b.keys)
	}
	return len(b.few)
}

// add adds key and reports whether it was not there yet.
func (b *bucket) add(key string) bool {
	if b.keys != nil {
		if _, dup := b.keys[key]; dup {
			return false
		}
		b.keys[key] = struct{}{}
		return true
	}
	for _, k := range b.few {
		if k == key {
			return false
		}
	}
	if len(b.few) < smallBucket {
		b.few = append(b.few, key)
		return true
	}
	b.keys = make(map[string]struct{}, 2*smallBucket)
	for _, k := range b.few {
		b.keys[k] = struct{}{}
	}
	b.few = nil
	b.keys[key] = struct{}{}
	return true
}

// remove removes key and reports whether it was there.
func (b *bucket) remove(key string) bool {
	if b.keys != nil {
		if _, there := b.keys[key]; !there {
			return false
		}
		delete(b.keys, key)
		return true
	}
	for i, k := range b.few {
		if k == key {
			last := len(b.few) - 1
			b.few[i] = b.few[last]
			b.few[last] = ""
			b.few = b.few[:last]
			return true
		}
	}
	return false
}

// each calls fn for every key until fn returns false, and reports whether
// it got through them all. fn may remove the key it is given. Keys of a
// small bucket are visited from a copy of the slice header, walking back,
// so a removal (which moves the last key into the hole) skips nothing that
// was not yet visited.
func (b *bucket) each(fn func(string) bool) bool {
	if b.keys != nil {
		for k := range b.keys {
			if !fn(k) {
				return false
			}
		}
		return true
	}
	few := b.few
	for i := len(few) - 1; i >= 0; i-- {
		if !fn(few[i]) {
			return false
		}
	}
	return true
}

// Index maps keys to absolute deadlines (Unix ms) and finds the keys whose
// deadline has passed. Keys are grouped into buckets of 1,024 ms kept in a
// min-heap by bucket number, so Add and Remove cost O(1) when the bucket
// exists and O(log buckets) when it is created or emptied, whatever the
// spread of deadlines; Due costs O(log buckets) per bucket it visits plus
// one step per key it offers. An emptied bucket is dropped at once, so the
// Index holds nothing for deadlines that no key has any more.
//
// An Index is not safe for concurrent use: its owner (a store stripe)
// guards it with the same lock as the keys themselves. The caller must
// pass the deadline a key was added with when removing or moving it; the
// Index keeps no back-pointer per key, which keeps it at about one map slot
// per volatile key.
type Index struct {
	buckets map[int64]*bucket
	heap    []*bucket // min-heap on num
	n       int
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{buckets: make(map[int64]*bucket)}
}

// Len returns the number of keys in the index.
func (x *Index) Len() int { return x.n }

// Buckets returns the number of non-empty buckets.
func (x *Index) Buckets() int { return len(x.buckets) }

// Add records that key expires at deadline. deadline must be > 0. Adding a
// key again with a deadline in the same bucket is a no-op; adding it with
// a deadline in another bucket without removing it first leaves it in
// both (use Move).
func (x *Index) Add(key string, deadline int64) {
	num := deadline >> BucketShift
	b, ok := x.buckets[num]
	if !ok {
		b = &bucket{num: num, few: make([]string, 0, 1)}
		x.buckets[num] = b
		x.push(b)
	}
	if b.add(key) {
		x.n++
	}
}

// Remove forgets key, which was added with deadline. Removing a key that
// is not there is a no-op.
func (x *Index) Remove(key string, deadline int64) {
	num := deadline >> BucketShift
	b, ok := x.buckets[num]
	if !ok {
		return
	}
	if !b.remove(key) {
		return
	}
	x.n--
	if b.len() == 0 {
		delete(x.buckets, num)
		if b.at >= 0 { // not held by a running Due
			x.remove(b.at)
		}
	}
}

// Move changes key's deadline from old to new; either may be 0, meaning
// "none".
func (x *Index) Move(key string, old, new int64) {
	if old == new || (old > 0 && new > 0 && old>>BucketShift == new>>BucketShift) {
		return // same bucket: the index holds buckets, not exact deadlines
	}
	if old > 0 {
		x.Remove(key, old)
	}
	if new > 0 {
		x.Add(key, new)
	}
}

// Due calls fn for keys whose bucket starts at or before now, oldest
// bucket first, until fn has been called max times or returns false. A key
// in the bucket that holds now may not be due yet, so fn must check the
// exact deadline. Due removes nothing itself: the owner removes keys when
// it deletes or refreshes them (fn may do so for the key it is given), and
// a key it keeps is offered again on the next call.
func (x *Index) Due(now int64, max int, fn func(key string) bool) {
	limit := now >> BucketShift
	var held []*bucket // buckets taken off the heap, to put back
	defer func() {
		for _, b := range held {
			if b.len() > 0 {
				x.push(b)
			} else if x.buckets[b.num] == b {
				delete(x.buckets, b.num)
			}
		}
	}()
	calls := 0
	for len(x.heap) > 0 && x.heap[0].num <= limit {
		if calls >= max {
			return
		}
		b := x.heap[0]
		x.remove(0)
		held = append(held, b)
		if !b.each(func(k string) bool {
			if calls >= max || !fn(k) {
				return false
			}
			calls++
			return true
		}) {
			return
		}
	}
}

// Clear removes every key.
func (x *Index) Clear() {
	clear(x.buckets)
	clear(x.heap)
	x.heap = x.heap[:0]
	x.n = 0
}

// push adds b to the heap.
func (x *Index) push(b *bucket) {
	b.at = len(x.heap)
	x.heap = append(x.heap, b)
	x.up(b.at)
}

// remove takes the bucket at heap position i off the heap and marks it
// held (at = -1).
func (x *Index) remove(i int) {
	h := x.heap
	last := len(h) - 1
	b := h[i]
	if i != last {
		h[i] = h[last]
		h[i].at = i
	}
	h[last] = nil
	x.heap = h[:last]
	if i != last {
		if !x.down(i) {
			x.up(i)
		}
	}
	b.at = -1
}

func (x *Index) up(i int) {
	h := x.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].num <= h[i].num {
			break
		}
		h[p], h[i] = h[i], h[p]
		h[p].at, h[i].at = p, i
		i = p
	}
}

// down sifts the bucket at i down and reports whether it moved.
func (x *Index) down(i int) bool {
	h := x.heap
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].num < h[l].num {
			m = r
		}
		if h[i].num <= h[m].num {
			break
		}
		h[i], h[m] = h[m], h[i]
		h[i].at, h[m].at = i, m
		i = m
	}
	return i != start
}
