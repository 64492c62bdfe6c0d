package shard

import "strings"

// Packed hashes.
//
// A hash of at most Op.HashEntries fields (hash-max-listpack-entries of
// the writes that built it), none of whose names or values is longer than
// Op.HashValue bytes (hash-max-listpack-value), is packed into entry.s
// (entry.big is nil):
//
//	flags:1 count:uvarint { len:uvarint field len:uvarint value [deadline:uvarint] }*count
//
// Bit 0 of flags (packTTL) says that every field carries a deadline
// (absolute Unix ms, 0 = none); it is set only while some field has one.
// The other bits are zero. The format is persisted in snapshots.
//
// Fields are kept in the order Redis 7.4+ keeps a listpack hash in: fields
// with a deadline first, by deadline, a field that receives a deadline
// going before those with the same deadline; then the others, in the
// order they were added (an update keeps a field's place; clearing a
// field's deadline moves it to the end). Without field deadlines this is
// plain insertion order. HGETALL, HKEYS, HVALS and HSCAN answer in it.
//
// Reads walk the string and hand out substrings of it (no copy); a write
// decodes the live fields into pfield views, changes them and encodes a
// new string in one allocation.

// packTTL is the flags bit saying each field carries a deadline.
const packTTL = 1

// uvarintAt decodes the uvarint at s[i:] and returns it and the index
// after it.
func uvarintAt(s string, i int) (uint64, int) {
	if i < len(s) && s[i] < 0x80 {
		return uint64(s[i]), i + 1
	}
	var x uint64
	var shift uint
	for ; i < len(s); i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return x, i
}

// uvarintLen is the encoded length of x.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// live reports whether a field with deadline exp is visible at now.
func live(exp, now int64) bool { return !expired(exp, now) }

// packIter walks the fields of a packed hash in order.
type packIter struct {
	s   string
	i   int
	n   int // fields not yet returned
	ttl bool
}

func newPackIter(s string) packIter {
	n, i := uvarintAt(s, 1)
	return packIter{s: s, i: i, n: int(n), ttl: s[0]&packTTL != 0}
}

// next returns the next field. The strings are substrings of the packed
// hash.
func (it *packIter) next() (f, v string, exp int64) {
	it.n--
	s := it.s
	l, i := uvarintAt(s, it.i)
	f = s[i : i+int(l)]
	i += int(l)
	l, i = uvarintAt(s, i)
	v = s[i : i+int(l)]
	i += int(l)
	if it.ttl {
		var d uint64
		d, i = uvarintAt(s, i)
		exp = int64(d)
	}
	it.i = i
	return f, v, exp
}

// packedGet returns the value and deadline of field name if it is live at
// now.
func packedGet(s string, name []byte, now int64) (v string, exp int64, ok bool) {
	it := newPackIter(s)
	for it.n > 0 {
		f, v, exp := it.next()
		if len(f) == len(name) && f == string(name) {
			if !live(exp, now) {
				return "", 0, false
			}
			return v, exp, true
		}
	}
	return "", 0, false
}

// packedLen returns the number of fields live at now.
func packedLen(s string, now int64) int {
	it := newPackIter(s)
	if !it.ttl {
		return it.n
	}
	// Fields with a deadline come first, earliest first, so the expired
	// ones are a prefix.
	n := it.n
	for it.n > 0 {
		if _, _, exp := it.next(); live(exp, now) {
			break
		}
		n--
	}
	return n
}

// packedFirstDeadline returns the deadline of the first field, which is
// the earliest one when any field has a deadline.
func packedFirstDeadline(s string) int64 {
	if len(s) == 0 || s[0]&packTTL == 0 {
		return 0
	}
	it := newPackIter(s)
	if it.n == 0 {
		return 0
	}
	_, _, exp := it.next()
	return exp
}

// pfield is one field of a packed hash being rewritten. Its name and
// value are either strings (from the old packed hash, or computed) or,
// when fa / va are non-zero, the op argument at index fa-1 / va-1, which
// the encoder copies. Nothing keeps an argument past the op.
type pfield struct {
	f, v   string
	fa, va int32
	exp    int64
}

func (p *pfield) nameLen(args [][]byte) int {
	if p.fa != 0 {
		return len(args[p.fa-1])
	}
	return len(p.f)
}

func (p *pfield) valLen(args [][]byte) int {
	if p.va != 0 {
		return len(args[p.va-1])
	}
	return len(p.v)
}

// is reports whether p is the field called name.
func (p *pfield) is(args [][]byte, name []byte) bool {
	if p.fa != 0 {
		return string(args[p.fa-1]) == string(name)
	}
	return p.f == string(name)
}

// name returns p's name as a string of its own (an argument is copied).
func (p *pfield) name(args [][]byte) string {
	if p.fa != 0 {
		return string(args[p.fa-1])
	}
	return strings.Clone(p.f)
}

// value returns p's value as a string of its own (an argument is copied).
func (p *pfield) value(args [][]byte) string {
	if p.va != 0 {
		return string(args[p.va-1])
	}
	return strings.Clone(p.v)
}

// valueView returns p's value without copying a string; an argument is
// copied, since results must not alias the op.
func (p *pfield) valueView(args [][]byte) string {
	if p.va != 0 {
		return string(args[p.va-1])
	}
	return p.v
}

// decodePacked appends the fields of packed hash s live at now to fs and
// returns them with the number of expired fields it left out.
func decodePacked(s string, now int64, fs []pfield) ([]pfield, int) {
	it := newPackIter(s)
	expired := 0
	for it.n > 0 {
		f, v, exp := it.next()
		if !live(exp, now) {
			expired++
			continue
		}
		fs = append(fs, pfield{f: f, v: v, exp: exp})
	}
	return fs, expired
}

// encodePacked builds the packed string of fs, in their order.
func encodePacked(fs []pfield, args [][]byte) string {
	ttl := false
	size := 1 + uvarintLen(uint64(len(fs)))
	for i := range fs {
		p := &fs[i]
		fl, vl := p.nameLen(args), p.valLen(args)
		size += uvarintLen(uint64(fl)) + fl + uvarintLen(uint64(vl)) + vl
		if p.exp != 0 {
			ttl = true
		}
	}
	var flags byte
	if ttl {
		flags = packTTL
		for i := range fs {
			size += uvarintLen(uint64(fs[i].exp))
		}
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteByte(flags)
	writeUvarint(&b, uint64(len(fs)))
	for i := range fs {
		p := &fs[i]
		writeUvarint(&b, uint64(p.nameLen(args)))
		if p.fa != 0 {
			b.Write(args[p.fa-1])
		} else {
			b.WriteString(p.f)
		}
		writeUvarint(&b, uint64(p.valLen(args)))
		if p.va != 0 {
			b.Write(args[p.va-1])
		} else {
			b.WriteString(p.v)
		}
		if ttl {
			writeUvarint(&b, uint64(p.exp))
		}
	}
	return b.String()
}

func writeUvarint(b *strings.Builder, x uint64) {
	for x >= 0x80 {
		b.WriteByte(byte(x) | 0x80)
		x >>= 7
	}
	b.WriteByte(byte(x))
}

// packedIndex returns the index of field name in fs, or -1.
func packedIndex(fs []pfield, args [][]byte, name []byte) int {
	for i := range fs {
		if fs[i].is(args, name) {
			return i
		}
	}
	return -1
}

// moveByDeadline moves fs[i] to its place for deadline at (which it
// takes): before the first field without a deadline or with one at or
// after at; at == 0 moves it to the end.
func moveByDeadline(fs []pfield, i int, at int64) {
	p := fs[i]
	p.exp = at
	copy(fs[i:], fs[i+1:])
	last := len(fs) - 1
	j := last
	if at != 0 {
		for j = 0; j < last; j++ {
			if e := fs[j].exp; e == 0 || e >= at {
				break
			}
		}
	}
	copy(fs[j+1:], fs[j:last])
	fs[j] = p
}
