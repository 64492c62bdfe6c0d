package shard

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// keyOrder holds the fields of a big hash or the members of a hashtable
// set sorted by hashOrder's order (xxhash, ties by name): the order their
// SCAN cursors walk, SPOP, SRANDMEMBER and HRANDFIELD pick positions in,
// and every ordered read answers in. Since the order depends only on the
// names, every replica has the same one.
//
// It is built from the map by the first read that needs an order and
// then kept up to date by every add and removal (insert, remove), so that
// a set written and read in turn (SADD then SPOP, SRANDMEMBER or SSCAN)
// does not sort itself again after each write. It is a list of sorted
// chunks of at most orderChunkMax keys: an insert or removal costs a
// binary search and a move within one chunk; position i is found through
// the chunks' start positions, recomputed after a change.
//
// A keyOrder is changed in place, like the map it indexes; a copied map
// (copy on write after a snapshot froze the value) gets a clone.
type keyOrder struct {
	chunks [][]hkey
	starts []int // starts[j]: the position of chunks[j][0]; nil when stale
	n      int
}

// orderChunkMax bounds a chunk: a split halves a chunk that grows past
// it, and a chunk shrunk below a quarter of it is merged into a
// neighbour when they fit together.
const orderChunkMax = 512

// cmpHkey orders hkeys by hash, then name.
func cmpHkey(a, b hkey) int { return cmp.Or(cmp.Compare(a.h, b.h), strings.Compare(a.f, b.f)) }

// newKeyOrder returns the order of m's keys.
func newKeyOrder[V any](m map[string]V) *keyOrder {
	return orderOf(hashOrder(m))
}

// orderOf returns the order holding sorted (which it takes over).
func orderOf(sorted []hkey) *keyOrder {
	o := &keyOrder{n: len(sorted)}
	const fill = orderChunkMax * 3 / 4
	for len(sorted) > 0 {
		c := min(len(sorted), fill)
		o.chunks = append(o.chunks, sorted[:c:c])
		sorted = sorted[c:]
	}
	return o
}

// clone returns a copy of o sharing nothing mutable with it (nil for
// nil): a copied map's order, cheaper to copy than to sort again.
func (o *keyOrder) clone() *keyOrder {
	if o == nil {
		return nil
	}
	all := make([]hkey, 0, o.n)
	for _, c := range o.chunks {
		all = append(all, c...)
	}
	return orderOf(all)
}

// len returns the number of keys.
func (o *keyOrder) len() int { return o.n }

// find returns the chunk key k is or would go in, its position there and
// whether it is there.
func (o *keyOrder) find(k hkey) (ci, i int, found bool) {
	ci = sort.Search(len(o.chunks), func(j int) bool {
		c := o.chunks[j]
		return cmpHkey(c[len(c)-1], k) >= 0
	})
	if ci == len(o.chunks) {
		ci--
		return ci, len(o.chunks[ci]), false
	}
	i, found = slices.BinarySearchFunc(o.chunks[ci], k, cmpHkey)
	return ci, i, found
}

// insert adds name f (a string the caller keeps) unless it is there.
func (o *keyOrder) insert(f string) {
	k := hkey{h: xxhash.Sum64String(f), f: f}
	if len(o.chunks) == 0 {
		o.chunks = [][]hkey{{k}}
		o.n, o.starts = 1, nil
		return
	}
	ci, i, found := o.find(k)
	if found {
		return
	}
	c := slices.Insert(o.chunks[ci], i, k)
	if len(c) > orderChunkMax {
		h := len(c) / 2
		right := slices.Clone(c[h:])
		clear(c[h:])
		c = c[:h]
		o.chunks = slices.Insert(o.chunks, ci+1, right)
	}
	o.chunks[ci] = c
	o.n++
	o.starts = nil
}

// remove removes name f if it is there.
func (o *keyOrder) remove(f string) {
	if o.n == 0 {
		return
	}
	ci, i, found := o.find(hkey{h: xxhash.Sum64String(f), f: f})
	if !found {
		return
	}
	c := slices.Delete(o.chunks[ci], i, i+1)
	o.chunks[ci] = c
	o.n--
	o.starts = nil
	switch {
	case len(c) == 0:
		o.chunks = slices.Delete(o.chunks, ci, ci+1)
	case len(c) < orderChunkMax/4 && ci+1 < len(o.chunks) && len(c)+len(o.chunks[ci+1]) <= orderChunkMax*3/4:
		o.chunks[ci] = append(c, o.chunks[ci+1]...)
		o.chunks = slices.Delete(o.chunks, ci+1, ci+2)
	case len(c) < orderChunkMax/4 && ci > 0 && len(c)+len(o.chunks[ci-1]) <= orderChunkMax*3/4:
		o.chunks[ci-1] = append(o.chunks[ci-1], c...)
		o.chunks = slices.Delete(o.chunks, ci, ci+1)
	}
}

// at returns the key at position i (0 <= i < len).
func (o *keyOrder) at(i int) hkey {
	if o.starts == nil {
		o.starts = make([]int, len(o.chunks))
		p := 0
		for j, c := range o.chunks {
			o.starts[j] = p
			p += len(c)
		}
	}
	j := sort.Search(len(o.starts), func(j int) bool { return o.starts[j] > i }) - 1
	return o.chunks[j][i-o.starts[j]]
}

// from returns the keys whose hash is at least h, in order.
func (o *keyOrder) from(h uint64) iter.Seq[hkey] {
	return func(yield func(hkey) bool) {
		ci := sort.Search(len(o.chunks), func(j int) bool {
			c := o.chunks[j]
			return c[len(c)-1].h >= h
		})
		for ; ci < len(o.chunks); ci++ {
			c := o.chunks[ci]
			i := 0
			if c[0].h < h {
				i = sort.Search(len(c), func(i int) bool { return c[i].h >= h })
			}
			for _, k := range c[i:] {
				if !yield(k) {
					return
				}
			}
		}
	}
}

// all returns every key, in order.
func (o *keyOrder) all() iter.Seq[hkey] {
	return func(yield func(hkey) bool) {
		for _, c := range o.chunks {
			for _, k := range c {
				if !yield(k) {
					return
				}
			}
		}
	}
}
