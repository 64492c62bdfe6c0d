package shard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The first byte of every encoded op is its version. Decoders refuse
// versions they do not know. Version 1 writes each op's presence bits as
// one byte; version 2 as a uvarint, which makes room for the bits from
// hasLimit on. The encoder writes version 1 whenever no op in the tree
// needs a wider presence, so ops without them encode as they always did.
// Version 3 is version 2 for a tree in which an op has FastSample: a
// node that predates that flag stops at it rather than apply it
// otherwise than its peers.
const (
	codecVersion       = 1
	codecVersionWide   = 2
	codecVersionSample = 3
)

// ErrCorruptOp is wrapped by every Decode error.
var ErrCorruptOp = errors.New("shard: corrupt op encoding")

// presence bits: which optional fields follow the kind and flags.
const (
	hasNow = 1 << iota
	hasAt
	hasN
	hasF
	hasKey
	hasArgs
	hasSubs
	hasWatch
	hasLimit      // version 2 only: Limit
	hasHashLimits // version 2 only: HashEntries, HashValue
)

// knownPresence is every presence bit a decoder understands.
const knownPresence = hasNow | hasAt | hasN | hasF | hasKey | hasArgs | hasSubs | hasWatch | hasLimit | hasHashLimits

// maxDecodeDepth bounds nesting (MULTI ops do not nest, but corrupt input
// must not recurse without end).
const maxDecodeDepth = 2

// AppendEncode appends op's binary encoding to dst. The encoding is
// compact and self-delimiting; it is what the replication log stores.
func AppendEncode(dst []byte, op *Op) []byte {
	return appendEncode(dst, op, false)
}

// AppendEncodeNoBody is AppendEncode for a script op (see ScriptBody)
// whose SHA and body a log entry stores once for all the ops that run
// it: the op is encoded without its Key and with an empty Args[0], which
// whoever decodes it must restore (RestoreScript). op itself is not
// changed.
func AppendEncodeNoBody(dst []byte, op *Op) []byte {
	return appendEncode(dst, op, true)
}

func appendEncode(dst []byte, op *Op, noBody bool) []byte {
	if anyFlag(op, FastSample) {
		dst = append(dst, codecVersionSample)
		return appendOp(dst, op, true, noBody)
	}
	if wide(op) {
		dst = append(dst, codecVersionWide)
		return appendOp(dst, op, true, noBody)
	}
	dst = append(dst, codecVersion)
	return appendOp(dst, op, false, noBody)
}

// anyFlag reports whether op or one of its Subs has flag f.
func anyFlag(op *Op, f Flags) bool {
	if op.Flags&f != 0 {
		return true
	}
	for i := range op.Subs {
		if anyFlag(&op.Subs[i], f) {
			return true
		}
	}
	return false
}

// wide reports whether op or one of its Subs has a presence bit that
// version 1 cannot write.
func wide(op *Op) bool {
	if presence(op) > math.MaxUint8 {
		return true
	}
	for i := range op.Subs {
		if wide(&op.Subs[i]) {
			return true
		}
	}
	return false
}

// presence returns the presence bits of op's fields.
func presence(op *Op) uint64 {
	var p uint64
	if op.Now != 0 {
		p |= hasNow
	}
	if op.At != 0 {
		p |= hasAt
	}
	if op.N != 0 {
		p |= hasN
	}
	if math.Float64bits(op.F) != 0 { // -0 too, so it round-trips
		p |= hasF
	}
	if op.Key != nil {
		p |= hasKey
	}
	if len(op.Args) > 0 {
		p |= hasArgs
	}
	if len(op.Subs) > 0 {
		p |= hasSubs
	}
	if len(op.Watch) > 0 {
		p |= hasWatch
	}
	if op.Limit != 0 {
		p |= hasLimit
	}
	if op.HashEntries != 0 || op.HashValue != 0 {
		p |= hasHashLimits
	}
	return p
}

// appendOp appends op's kind, presence bits (a uvarint when wide, else
// one byte), flags and fields; with noBody, without Key and with Args[0]
// empty.
func appendOp(dst []byte, op *Op, wide, noBody bool) []byte {
	p := presence(op)
	if noBody {
		p &^= hasKey
	}
	dst = append(dst, byte(op.Kind))
	if wide {
		dst = binary.AppendUvarint(dst, p)
	} else {
		dst = append(dst, byte(p))
	}
	dst = binary.AppendUvarint(dst, uint64(op.Flags))
	if p&hasNow != 0 {
		dst = binary.AppendVarint(dst, op.Now)
	}
	if p&hasAt != 0 {
		dst = binary.AppendVarint(dst, op.At)
	}
	if p&hasN != 0 {
		dst = binary.AppendVarint(dst, op.N)
	}
	if p&hasF != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(op.F))
	}
	if p&hasKey != 0 {
		dst = appendBytes(dst, op.Key)
	}
	if p&hasArgs != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(op.Args)))
		for i, a := range op.Args {
			if i == 0 && noBody {
				a = nil
			}
			dst = appendBytes(dst, a)
		}
	}
	if p&hasSubs != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(op.Subs)))
		for i := range op.Subs {
			dst = appendOp(dst, &op.Subs[i], wide, false)
		}
	}
	if p&hasWatch != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(op.Watch)))
		for _, w := range op.Watch {
			dst = appendBytes(dst, w.Key)
			dst = binary.AppendUvarint(dst, w.Version)
			dst = binary.AppendUvarint(dst, w.Seq)
			var ex byte
			if w.Expired {
				ex = 1
			}
			dst = append(dst, ex)
		}
	}
	if p&hasLimit != 0 {
		dst = binary.AppendVarint(dst, op.Limit)
	}
	if p&hasHashLimits != 0 {
		dst = binary.AppendVarint(dst, int64(op.HashEntries))
		dst = binary.AppendVarint(dst, int64(op.HashValue))
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Decode parses an op encoded by AppendEncode. The op's byte slices alias
// b. Any malformed input returns an error wrapping ErrCorruptOp.
func Decode(b []byte) (Op, error) {
	op, _, err := DecodeArena(b, nil)
	return op, err
}

// DecodeArena is Decode, with the op's (and its sub-ops') Args taken from
// the end of arena instead of one new slice each; it returns arena grown
// by them. A caller decoding many ops (a log entry's) passes the arena
// back in each time and may reuse it, from length 0, once it no longer
// uses any op decoded into it.
func DecodeArena(b []byte, arena [][]byte) (Op, [][]byte, error) {
	if len(b) == 0 || b[0] < codecVersion || b[0] > codecVersionSample {
		return Op{}, arena, fmt.Errorf("%w: unknown version", ErrCorruptOp)
	}
	d := decoder{b: b[1:], wide: b[0] != codecVersion, arena: arena}
	op := d.op(0)
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Op{}, d.arena, d.err
	}
	return op, d.arena, nil
}

type decoder struct {
	b     []byte
	wide  bool // version 2: presence bits are a uvarint
	err   error
	arena [][]byte // where Args come from, when set (DecodeArena)
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorruptOp, what)
	}
	d.b = nil
}

func (d *decoder) byte1() byte {
	if len(d.b) < 1 {
		d.fail("short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Smallest encodings of repeated items, which bound the counts Decode
// believes: an arg is a length byte; an op a kind, presence and flags byte;
// a watch a key length, two varints and a byte.
const (
	minArgLen   = 1
	minOpLen    = 3
	minWatchLen = 4
)

// count reads the length of a list whose items take at least min bytes
// each and checks that what is left can hold them, so a corrupt length
// cannot make a large allocation.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail("count too large")
		return 0
	}
	return int(n)
}

// int32 reads a varint that must fit an int32.
func (d *decoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("int32 out of range")
		return 0
	}
	return int32(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("bytes too long")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) op(depth int) Op {
	var op Op
	op.Kind = Kind(d.byte1())
	var p uint64
	if d.wide {
		p = d.uvarint()
	} else {
		p = uint64(d.byte1())
	}
	if p&^knownPresence != 0 {
		d.fail("unknown fields")
		return op
	}
	fl := d.uvarint()
	if fl > math.MaxUint32 {
		d.fail("flags")
	}
	op.Flags = Flags(fl)
	if p&hasNow != 0 {
		op.Now = d.varint()
	}
	if p&hasAt != 0 {
		op.At = d.varint()
	}
	if p&hasN != 0 {
		op.N = d.varint()
	}
	if p&hasF != 0 {
		if len(d.b) < 8 {
			d.fail("short float")
			return op
		}
		op.F = math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
	}
	if p&hasKey != 0 {
		op.Key = d.bytes()
	}
	if p&hasArgs != 0 {
		n := d.count(minArgLen)
		if d.arena != nil {
			start := len(d.arena)
			for i := 0; i < n && d.err == nil; i++ {
				d.arena = append(d.arena, d.bytes())
			}
			op.Args = d.arena[start:len(d.arena):len(d.arena)]
		} else {
			op.Args = make([][]byte, 0, n)
			for i := 0; i < n && d.err == nil; i++ {
				op.Args = append(op.Args, d.bytes())
			}
		}
	}
	if p&hasSubs != 0 {
		if depth+1 >= maxDecodeDepth {
			d.fail("nested too deep")
			return op
		}
		n := d.count(minOpLen)
		op.Subs = make([]Op, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			op.Subs = append(op.Subs, d.op(depth+1))
		}
	}
	if p&hasWatch != 0 {
		n := d.count(minWatchLen)
		op.Watch = make([]Watch, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			w := Watch{Key: d.bytes(), Version: d.uvarint(), Seq: d.uvarint()}
			switch d.byte1() {
			case 0:
			case 1:
				w.Expired = true
			default:
				d.fail("bad watch flag")
			}
			op.Watch = append(op.Watch, w)
		}
	}
	if p&hasLimit != 0 {
		op.Limit = d.varint()
	}
	if p&hasHashLimits != 0 {
		op.HashEntries = d.int32()
		op.HashValue = d.int32()
	}
	return op
}
