package shard

import (
	"bufio"
	"slices"
)

// The value of a set: one of three encodings, named as Redis names them
// (OBJECT ENCODING) and converted at Redis 7.2's thresholds:
//
//   - intset: every member is an integer in canonical form (ParseInt) and
//     there are at most setMaxIntsetEntries of them; kept in a slice
//     sorted by integer value, as Redis's intset is, so SMEMBERS answers
//     in Redis's order.
//   - listpack: at most setMaxListpackEntries members of at most
//     setMaxListpackValue bytes each; kept in a slice in insertion order,
//     as Redis's listpack is.
//   - hashtable: anything larger; a map, plus the members ordered by
//     xxhash (a keyOrder: SSCAN's cursor and every ordered read), built
//     by the first read that needs it and then kept up to date by every
//     add and removal. Go's map order is never used.
//
// A set only ever converts towards hashtable (intset to listpack or
// hashtable, listpack to hashtable), never back, as in Redis. The size
// thresholds are Redis's defaults (set-max-intset-entries,
// set-max-listpack-entries, set-max-listpack-value): ops carry no set
// limits, so Apply reads no per-node setting.
//
// Like a big hash's map, a setData is changed in place by writes and
// shared by the successive setColl headers the key's writes install;
// each header remembers the accounted size at its install, so that put
// sees the old and the new size.

// Redis's default set encoding thresholds.
const (
	setMaxIntsetEntries   = 512
	setMaxListpackEntries = 128
	setMaxListpackValue   = 64
)

// setEnc is a set's encoding. The numbers are persisted (snapshot).
type setEnc uint8

const (
	setIntset    setEnc = 1
	setListpack  setEnc = 2
	setHashtable setEnc = 3
)

// Accounting constants: a set's fixed cost (setColl, setData, slice or
// map header), a slice member's string header, and a hashtable member's
// map slot at the map's load factor plus its order-cache entry.
const (
	setOverhead         = 96
	setSliceMember      = 16
	setHashtableMember  = 64
	setHashtableMapBase = 48
)

// setData holds a set's members.
type setData struct {
	enc   setEnc
	list  []string            // intset (by integer value) and listpack (insertion order)
	m     map[string]struct{} // hashtable
	order *keyOrder           // hashtable: members by xxhash; nil until a read needs it
	bytes int64               // accounted size, kept by every change
}

// setColl is the collection stored in entry.big.coll for a set: the
// shared data and the size at the time this header was installed.
type setColl struct {
	d     *setData
	bytes int64
}

func (c *setColl) size() int64      { return c.bytes }
func (c *setColl) length() int      { return c.d.len() }
func (c *setColl) encoding() string { return c.d.enc.String() }
func (c *setColl) clone() collection {
	return &setColl{d: c.d.clone(), bytes: c.bytes}
}

// write writes the snapshot encoding: enc:byte n:uvarint member:string*n,
// members in order (intset: by integer value; listpack: insertion order;
// hashtable: byte order). It reads neither the order cache nor anything a
// locked reader may change, since snapshots call it outside the lock.
func (c *setColl) write(w *bufio.Writer) {
	d := c.d
	w.WriteByte(byte(d.enc))
	putUvarint(w, uint64(d.len()))
	if d.enc != setHashtable {
		for _, s := range d.list {
			putString(w, s)
		}
		return
	}
	ms := make([]string, 0, len(d.m))
	for s := range d.m {
		ms = append(ms, s)
	}
	slices.Sort(ms)
	for _, s := range ms {
		putString(w, s)
	}
}

// String returns the encoding's OBJECT ENCODING name.
func (e setEnc) String() string {
	switch e {
	case setIntset:
		return "intset"
	case setListpack:
		return "listpack"
	}
	return "hashtable"
}

// newSetData returns an empty set of encoding enc.
func newSetData(enc setEnc, n int) *setData {
	d := &setData{enc: enc, bytes: setOverhead}
	if enc == setHashtable {
		d.m = make(map[string]struct{}, n)
		d.bytes += setHashtableMapBase
	} else {
		d.list = make([]string, 0, n)
	}
	return d
}

// newSetFor returns the empty set Redis creates for a first member and a
// size hint (setTypeCreate): an intset if the member is an integer and
// the hint fits one, else a listpack if the hint fits one, else a
// hashtable.
func newSetFor(first []byte, hint int) *setData {
	if _, ok := ParseInt(first); ok && hint <= setMaxIntsetEntries {
		return newSetData(setIntset, min(hint, 16))
	}
	if hint <= setMaxListpackEntries {
		return newSetData(setListpack, min(hint, 16))
	}
	return newSetData(setHashtable, hint)
}

// newSetOf builds a set holding members (distinct, in the order they
// should keep in a listpack) with the encoding a set built member by
// member would reach.
func newSetOf(members []string) *setData {
	n := len(members)
	ints := n <= setMaxIntsetEntries
	short := n <= setMaxListpackEntries
	for _, s := range members {
		if ints {
			_, ints = ParseInt(s)
		}
		if len(s) > setMaxListpackValue {
			short = false
		}
	}
	var d *setData
	switch {
	case ints:
		d = newSetData(setIntset, n)
		d.list = append(d.list, members...)
		slices.SortFunc(d.list, cmpIntStr)
	case short:
		d = newSetData(setListpack, n)
		d.list = append(d.list, members...)
	default:
		d = newSetData(setHashtable, n)
		for _, s := range members {
			d.m[s] = struct{}{}
		}
	}
	for _, s := range members {
		d.bytes += d.memberCost(s)
	}
	return d
}

// cmpIntStr compares two canonical integer strings by value.
func cmpIntStr(a, b string) int {
	x, _ := ParseInt(a)
	y, _ := ParseInt(b)
	return cmpInt64(x, y)
}

func (d *setData) len() int {
	if d.enc == setHashtable {
		return len(d.m)
	}
	return len(d.list)
}

func (d *setData) memberCost(s string) int64 {
	if d.enc == setHashtable {
		return allocSize(len(s)) + setHashtableMember
	}
	return allocSize(len(s)) + setSliceMember
}

func (d *setData) clone() *setData {
	c := &setData{enc: d.enc, bytes: d.bytes}
	if d.enc == setHashtable {
		c.m = make(map[string]struct{}, len(d.m))
		for s := range d.m {
			c.m[s] = struct{}{}
		}
		c.order = d.order.clone()
	} else {
		c.list = slices.Clone(d.list)
	}
	return c
}

// intsetIndex returns where integer v is or would go in an intset.
func (d *setData) intsetIndex(v int64) (int, bool) {
	return slices.BinarySearchFunc(d.list, v, func(s string, v int64) int {
		x, _ := ParseInt(s)
		return cmpInt64(x, v)
	})
}

// has reports whether m is a member.
func (d *setData) has(m []byte) bool {
	switch d.enc {
	case setIntset:
		v, ok := ParseInt(m)
		if !ok {
			return false
		}
		_, found := d.intsetIndex(v)
		return found
	case setListpack:
		for _, s := range d.list {
			if s == string(m) {
				return true
			}
		}
		return false
	}
	_, ok := d.m[string(m)]
	return ok
}

// toHashtable converts the set to a hashtable.
func (d *setData) toHashtable() {
	if d.enc == setHashtable {
		return
	}
	m := make(map[string]struct{}, len(d.list)+1)
	for _, s := range d.list {
		m[s] = struct{}{}
	}
	d.convert(setHashtable, nil, m)
}

// convert installs a new encoding and its members, recomputing the size.
func (d *setData) convert(enc setEnc, list []string, m map[string]struct{}) {
	d.enc, d.list, d.m, d.order = enc, list, m, nil
	d.bytes = setOverhead
	if enc == setHashtable {
		d.bytes += setHashtableMapBase
		for s := range m {
			d.bytes += d.memberCost(s)
		}
		return
	}
	for _, s := range list {
		d.bytes += d.memberCost(s)
	}
}

// maybeConvert converts the set to a hashtable ahead of an SADD of hint
// members that could not fit its encoding (setTypeMaybeConvert). It
// reports whether it converted.
func (d *setData) maybeConvert(hint int) bool {
	if d.wouldConvert(hint) {
		d.toHashtable()
		return true
	}
	return false
}

// wouldConvert reports whether maybeConvert(hint) would convert the set.
func (d *setData) wouldConvert(hint int) bool {
	return (d.enc == setListpack && hint > setMaxListpackEntries) ||
		(d.enc == setIntset && hint > setMaxIntsetEntries)
}

// add adds member m (copied if kept) and reports whether it was new. It
// converts the encoding as Redis's setTypeAdd does.
func (d *setData) add(m []byte) bool {
	switch d.enc {
	case setIntset:
		if v, ok := ParseInt(m); ok {
			i, found := d.intsetIndex(v)
			if found {
				return false
			}
			s := string(m)
			d.list = slices.Insert(d.list, i, s)
			d.bytes += d.memberCost(s)
			if len(d.list) > setMaxIntsetEntries {
				d.toHashtable()
			}
			return true
		}
		if len(d.list) < setMaxListpackEntries && len(m) <= setMaxListpackValue {
			d.enc = setListpack // members keep their integer order
		} else {
			d.toHashtable()
		}
		return d.add(m)
	case setListpack:
		if d.has(m) {
			return false
		}
		if len(d.list) >= setMaxListpackEntries || len(m) > setMaxListpackValue {
			d.toHashtable()
			return d.add(m)
		}
		s := string(m)
		d.list = append(d.list, s)
		d.bytes += d.memberCost(s)
		return true
	}
	if _, ok := d.m[string(m)]; ok {
		return false
	}
	s := string(m)
	d.m[s] = struct{}{}
	d.bytes += d.memberCost(s)
	if d.order != nil {
		d.order.insert(s)
	}
	return true
}

// remove removes member m and reports whether it was there.
func (d *setData) remove(m []byte) bool {
	switch d.enc {
	case setIntset:
		v, ok := ParseInt(m)
		if !ok {
			return false
		}
		i, found := d.intsetIndex(v)
		if !found {
			return false
		}
		d.removeAt(i)
		return true
	case setListpack:
		for i, s := range d.list {
			if s == string(m) {
				d.removeAt(i)
				return true
			}
		}
		return false
	}
	if _, ok := d.m[string(m)]; !ok {
		return false
	}
	d.bytes -= d.memberCost(string(m))
	delete(d.m, string(m))
	if d.order != nil {
		d.order.remove(string(m))
	}
	return true
}

// removeAt removes the i-th member of an intset or listpack.
func (d *setData) removeAt(i int) {
	d.bytes -= d.memberCost(d.list[i])
	d.list = slices.Delete(d.list, i, i+1)
}

// sorted returns a hashtable's members ordered by xxhash (ties by
// member), building the order if needed.
func (d *setData) sorted() *keyOrder {
	if d.order == nil {
		d.order = newKeyOrder(d.m)
	}
	return d.order
}

// at returns the i-th member in the set's order (see members).
func (d *setData) at(i int) string {
	if d.enc == setHashtable {
		return d.sorted().at(i).f
	}
	return d.list[i]
}

// members appends the members, in the set's order (intset: by value;
// listpack: insertion order; hashtable: by xxhash), to dst.
func (d *setData) members(dst []Val) []Val {
	if d.enc == setHashtable {
		for k := range d.sorted().all() {
			dst = append(dst, Val{S: k.f})
		}
		return dst
	}
	for _, s := range d.list {
		dst = append(dst, Val{S: s})
	}
	return dst
}

// removeIndexes removes the members at the given positions of the set's
// order (distinct, any order).
func (d *setData) removeIndexes(idx []int) {
	if d.enc == setHashtable {
		o := d.sorted()
		gone := make([]string, len(idx))
		for j, i := range idx {
			gone[j] = o.at(i).f
		}
		for _, s := range gone {
			d.bytes -= d.memberCost(s)
			delete(d.m, s)
		}
		if len(gone) > len(d.m)/4 {
			d.order = nil // cheaper to sort again when needed
			return
		}
		for _, s := range gone {
			o.remove(s)
		}
		return
	}
	drop := make([]bool, len(d.list))
	for _, i := range idx {
		drop[i] = true
	}
	out := d.list[:0]
	for i, s := range d.list {
		if drop[i] {
			d.bytes -= d.memberCost(s)
			continue
		}
		out = append(out, s)
	}
	clear(d.list[len(out):])
	d.list = out
}

// readSet reads a set's snapshot encoding (setColl.write) and checks it:
// a known encoding, at least one member, an intset's members canonical
// integers in ascending order, a listpack's distinct, a hashtable's in
// strictly ascending byte order.
func (d *snapDecoder) readSet(k string) collection {
	enc := setEnc(d.byte())
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if enc < setIntset || enc > setHashtable {
		d.corrupt("key %q: set encoding %d", k, enc)
		return nil
	}
	if n == 0 {
		d.corrupt("key %q: empty set", k)
		return nil
	}
	s := newSetData(enc, int(min(n, 1024)))
	var seen map[string]struct{}
	if enc == setListpack {
		seen = make(map[string]struct{}, min(n, 1024))
	}
	prev := ""
	var prevInt int64
	for i := range n {
		m := d.str()
		if d.err != nil {
			return nil
		}
		switch enc {
		case setIntset:
			v, ok := ParseInt(m)
			if !ok || (i > 0 && v <= prevInt) {
				d.corrupt("key %q: intset member %q", k, m)
				return nil
			}
			prevInt = v
			s.list = append(s.list, m)
		case setListpack:
			if _, dup := seen[m]; dup {
				d.corrupt("key %q: duplicate set member %q", k, m)
				return nil
			}
			seen[m] = struct{}{}
			s.list = append(s.list, m)
		default:
			if i > 0 && m <= prev {
				d.corrupt("key %q: set members out of order at %q", k, m)
				return nil
			}
			prev = m
			s.m[m] = struct{}{}
		}
		s.bytes += s.memberCost(m)
	}
	return &setColl{d: s, bytes: s.bytes}
}
