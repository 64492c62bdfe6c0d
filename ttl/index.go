package ttl

import "sort"

// BucketShift sets the width of an Index bucket: deadlines are grouped into
// buckets of 1<<BucketShift milliseconds (128 ms).
const BucketShift = 7

// Index maps keys to absolute deadlines (Unix ms) and finds the keys whose
// deadline has passed. Add, Remove and Move are O(1) in the usual case
// (a deadline in a bucket that exists, or later than every other); Due costs
// O(keys in the buckets it visits).
//
// An Index is not safe for concurrent use: its owner (a store stripe)
// guards it with the same lock as the keys themselves. The caller must
// pass the deadline a key was added with when removing or moving it; the
// Index keeps no back-pointer per key, which keeps it at about one map slot
// per volatile key.
type Index struct {
	buckets map[int64]map[string]struct{}
	order   []int64 // bucket numbers, ascending; may hold emptied buckets
	n       int
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{buckets: make(map[int64]map[string]struct{})}
}

// Len returns the number of keys in the index.
func (x *Index) Len() int { return x.n }

// Add records that key expires at deadline. deadline must be > 0.
func (x *Index) Add(key string, deadline int64) {
	b := deadline >> BucketShift
	set, ok := x.buckets[b]
	if !ok {
		set = make(map[string]struct{}, 4)
		x.buckets[b] = set
		x.insertBucket(b)
	}
	if _, dup := set[key]; !dup {
		set[key] = struct{}{}
		x.n++
	}
}

func (x *Index) insertBucket(b int64) {
	n := len(x.order)
	if n == 0 || x.order[n-1] < b {
		x.order = append(x.order, b)
		return
	}
	i := sort.Search(n, func(i int) bool { return x.order[i] >= b })
	if i < n && x.order[i] == b {
		return // an emptied bucket that is being reused
	}
	x.order = append(x.order, 0)
	copy(x.order[i+1:], x.order[i:])
	x.order[i] = b
}

// Remove forgets key, which was added with deadline. Removing a key that
// is not there is a no-op.
func (x *Index) Remove(key string, deadline int64) {
	b := deadline >> BucketShift
	set, ok := x.buckets[b]
	if !ok {
		return
	}
	if _, there := set[key]; there {
		delete(set, key)
		x.n--
		if len(set) == 0 {
			delete(x.buckets, b) // its number stays in order until Due passes it
		}
	}
}

// Move changes key's deadline from old to new; either may be 0, meaning
// "none".
func (x *Index) Move(key string, old, new int64) {
	if old == new {
		return
	}
	if old > 0 {
		x.Remove(key, old)
	}
	if new > 0 {
		x.Add(key, new)
	}
}

// Due calls fn for keys whose bucket starts at or before now, oldest bucket
// first, until fn has been called max times or returns false. A key in the
// bucket that holds now may not be due yet, so fn must check the exact
// deadline. Due removes nothing: the owner removes keys when it deletes or
// refreshes them, and a key it keeps is offered again on the next call.
func (x *Index) Due(now int64, max int, fn func(key string) bool) {
	limit := now >> BucketShift
	// Drop emptied buckets from the front.
	drop := 0
	for drop < len(x.order) {
		if _, ok := x.buckets[x.order[drop]]; ok {
			break
		}
		drop++
	}
	if drop > 0 {
		x.order = append(x.order[:0], x.order[drop:]...)
	}
	calls := 0
	for _, b := range x.order {
		if b > limit {
			return
		}
		for k := range x.buckets[b] {
			if calls >= max || !fn(k) {
				return
			}
			calls++
		}
	}
}

// Clear removes every key.
func (x *Index) Clear() {
	clear(x.buckets)
	x.order = x.order[:0]
	x.n = 0
}
