package shard

import "slices"

// Big hashes.
//
// A hash that outgrows the packed encoding lives in a *large (entry.big):
// a map of fields, like Redis's hashtable encoding, and it never converts
// back. Copying the map on every write would cost O(n) per HSET, so the
// map and the deadline heap are changed in place and shared by the
// successive headers (large values) that the key's writes install; each
// write installs a new header (one small allocation) so that put sees the
// old and the new size and earliest deadline. Strings are never changed,
// so strings handed out in Results stay valid.
//
// The price is that an old header's map is not a frozen picture. Inside
// the store this does not matter (every access holds the stripe lock and
// starts from the current header). Code that keeps an entry and reads it
// outside the lock (a snapshot being written in the background) must call
// freeze on the header while it still holds the lock: the next write then
// copies the map first (copy on write) and leaves the frozen one alone.
//
// Field deadlines: hfield.exp, plus a min-heap (large.ttl) of (deadline,
// field) pairs that makes the earliest deadline exact and reaping
// O(k log n). A heap entry is valid while the field exists with that very
// deadline; stale entries are dropped when they surface at the top and by
// an occasional rebuild.
//
// Order: Go maps have no stable order and Apply must not depend on map
// order, so readers that need an order (HGETALL, HKEYS, HVALS, HSCAN,
// HRANDFIELD) use the fields sorted by xxhash (a keyOrder, built by the
// first such read and then kept up to date by every add and removal).
// HSCAN's cursor is that hash.

// bigFieldOverhead approximates the bytes a big-hash field costs beyond
// its name and value: its map slot (string header and hfield at the map's
// load factor) and the rounding of the two string allocations.
const bigFieldOverhead = 88

// bigOverhead approximates the fixed cost of a big hash: header and map.
const bigOverhead = 160

// hexpSize is the size of one heap entry.
const hexpSize = 24

// hexp is one entry of a big hash's deadline heap.
type hexp struct {
	at int64
	f  string
}

// hkey is one entry of a big hash's order cache.
type hkey struct {
	h uint64
	f string
}

// size is the accounted size of a large value beyond its entry.
// For a collection, bytes is the collection's size when the header was
// installed (put records it), since the collection is shared with, and
// changed under, the key's older headers.
func (l *large) size() int64 { return l.bytes }

// freeze marks l as shared with a reader that runs outside the stripe
// lock: the next write to the key copies the map and heap instead of
// changing them. Call it with the stripe locked.
func (l *large) freeze() { l.frozen = true }

// newLarge returns an empty big hash sized for n fields.
func newLarge(n int) *large {
	return &large{hash: make(map[string]hfield, n), fbytes: bigOverhead}
}

// edit returns a new header for a write to l's hash. A frozen hash is
// copied first.
func (l *large) edit() *large {
	nl := *l
	nl.frozen = false
	if l.frozen && l.coll != nil {
		nl.coll = l.coll.clone()
	} else if l.frozen {
		nl.hash = make(map[string]hfield, len(l.hash))
		for f, hf := range l.hash {
			nl.hash[f] = hf
		}
		nl.ttl = slices.Clone(l.ttl)
		nl.order = l.order.clone() // changed in place: the copy gets its own
	}
	return &nl
}

// fieldCost is the accounted size of one field.
func fieldCost(f, v string) int64 { return int64(len(f) + len(v) + bigFieldOverhead) }

// set stores field f (a string the hash may keep) with hf. old and had
// describe what f held before.
func (l *large) set(f string, hf, old hfield, had bool) {
	if had {
		l.fbytes -= fieldCost(f, old.v)
		if old.exp != 0 {
			l.nexp--
		}
	} else if l.order != nil {
		l.order.insert(f)
	}
	l.hash[f] = hf
	l.fbytes += fieldCost(f, hf.v)
	if hf.exp != 0 {
		l.nexp++
		if !had || old.exp != hf.exp {
			l.push(hexp{at: hf.exp, f: f})
		}
	}
}

// del removes field f, which holds old.
func (l *large) del(f string, old hfield) {
	delete(l.hash, f)
	l.fbytes -= fieldCost(f, old.v)
	if old.exp != 0 {
		l.nexp--
	}
	if l.order != nil {
		l.order.remove(f)
	}
}

// valid reports whether heap entry x still describes its field.
func (l *large) valid(x hexp) bool {
	hf, ok := l.hash[x.f]
	return ok && hf.exp == x.at
}

func (l *large) push(x hexp) {
	l.ttl = append(l.ttl, x)
	h := l.ttl
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (l *large) pop() {
	h := l.ttl
	n := len(h) - 1
	h[0] = h[n]
	h[n] = hexp{}
	h = h[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].at < h[c].at {
			c++
		}
		if h[i].at <= h[c].at {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	l.ttl = h
}

// finish brings the header up to date after a write: it drops stale heap
// entries from the top (and rebuilds a heap that is mostly stale), and
// records the earliest deadline and the size.
func (l *large) finish() {
	switch {
	case l.nexp == 0:
		l.ttl = nil
	case len(l.ttl) > 2*l.nexp+32:
		h := make([]hexp, 0, l.nexp)
		for f, hf := range l.hash {
			if hf.exp != 0 {
				h = append(h, hexp{at: hf.exp, f: f})
			}
		}
		slices.SortFunc(h, func(a, b hexp) int { return cmpInt64(a.at, b.at) })
		l.ttl = h // a sorted slice is a valid heap
	}
	for len(l.ttl) > 0 && !l.valid(l.ttl[0]) {
		l.pop()
	}
	l.minExp = 0
	if len(l.ttl) > 0 {
		l.minExp = l.ttl[0].at
	}
	l.bytes = l.fbytes + int64(cap(l.ttl))*hexpSize
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// reapDue removes the fields whose deadline has passed at now (see
// expired) and returns how many it removed.
func (l *large) reapDue(now int64) int64 {
	var n int64
	for len(l.ttl) > 0 {
		x := l.ttl[0]
		if !l.valid(x) {
			l.pop()
			continue
		}
		if !expired(x.at, now) {
			break
		}
		l.del(x.f, l.hash[x.f])
		l.pop()
		n++
	}
	return n
}

// liveLen returns the number of fields live at now. It walks the map
// only when a field is due but not yet reaped.
func (l *large) liveLen(now int64) int {
	n := len(l.hash)
	if !expired(l.minExp, now) {
		return n
	}
	for _, hf := range l.hash {
		if !live(hf.exp, now) {
			n--
		}
	}
	return n
}

// get returns field name if it is live at now.
func (l *large) get(name []byte, now int64) (hfield, bool) {
	hf, ok := l.hash[string(name)]
	if !ok || !live(hf.exp, now) {
		return hfield{}, false
	}
	return hf, true
}

// sorted returns the fields ordered by xxhash (ties by name), building
// the cache if needed. It includes fields that may have expired.
func (l *large) sorted() *keyOrder {
	if l.order == nil {
		l.order = newKeyOrder(l.hash)
	}
	return l.order
}
