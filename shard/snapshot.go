package shard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"

	"sessiond/ttl"
)

// Snapshots: a point-in-time capture of a Store (Snapshot), its encoding
// (WriteTo), and build-and-swap restore (Restore). The format is
// described in DESIGN.md ("Snapshots") and frozen by
// testdata/snapshot-v1.golden.

// ErrCorruptSnapshot is wrapped by every error Restore and CheckSnapshot
// return for a stream that is not a valid snapshot (bad magic, unknown
// version, truncation, checksum mismatch, a malformed record, trailing
// data). I/O errors of the reader are wrapped as they are instead.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

// Persisted numbers of the snapshot format. Never renumber or reuse them.
const (
	snapMagic   = "SESSIONDSNAP"
	snapVersion = 1

	// Record kinds.
	recKey byte = 1    // one key
	recEnd byte = 0xff // the trailer

	// Value encodings of a key record.
	encString byte = 1 // TypeString: the value's bytes
	encPacked byte = 2 // TypeHash: the packed hash (hash_pack.go format)
	encBig    byte = 3 // TypeHash: field count, then fields by name
	encColl   byte = 4 // TypeList, TypeSet, TypeZSet: the collection's own format (collection.write)

	// snapMaxStripes bounds the delVer table a reader accepts.
	snapMaxStripes = 1 << 20
	// snapMaxLen bounds a string a reader accepts (key, value, field).
	snapMaxLen = 1 << 32
)

// Snapshot is a point-in-time copy of a Store, made by Store.Snapshot.
// It shares the stored (immutable) values with the store and holds no
// lock; WriteTo encodes it while the store keeps changing.
type Snapshot struct {
	seq     uint64
	lastNow int64
	delVer  []uint64
	ents    []snapEntry
	sorted  sync.Once
}

// snapEntry is one captured key.
type snapEntry struct {
	k string
	e entry
}

// Snapshot captures the whole store at this instant: every key's entry
// (a shallow copy; values are immutable, big hashes are frozen so the
// next write to them copies), the sequence number that WATCH versions
// come from, every stripe's delete version and the time high-water mark.
// Stats are node-local and not captured.
//
// The caller must guarantee that no Apply runs concurrently (the Raft FSM
// calls it between applies); Read, WatchKey and the access clock may run
// concurrently. It does no encoding: it costs one pass over the keyspace,
// one stripe lock at a time.
func (s *Store) Snapshot() *Snapshot {
	n := 0
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		n += len(st.m)
		st.mu.Unlock()
	}
	sn := &Snapshot{
		seq:     s.seq.Load(),
		lastNow: s.lastNow.Load(),
		delVer:  make([]uint64, len(s.stripes)),
		ents:    make([]snapEntry, 0, n),
	}
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		sn.delVer[i] = st.delVer
		for k, e := range st.m {
			if e.big != nil {
				e.big.freeze()
			}
			sn.ents = append(sn.ents, snapEntry{k, e})
		}
		st.mu.Unlock()
	}
	return sn
}

// Len returns the number of keys captured.
func (sn *Snapshot) Len() int { return len(sn.ents) }

// sort puts the captured keys in the order WriteTo writes them: ascending
// by bytes. It runs once.
func (sn *Snapshot) sort() {
	sn.sorted.Do(func() {
		slices.SortFunc(sn.ents, func(a, b snapEntry) int { return strings.Compare(a.k, b.k) })
	})
}

// crcWriter counts and checksums what passes through it to w, and keeps
// the first error.
type crcWriter struct {
	w   io.Writer
	tab *crc32.Table
	crc uint32
	n   int64
	err error
}

func (c *crcWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, c.tab, p[:n])
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	c.err = err
	return n, err
}

func putUvarint(w *bufio.Writer, x uint64) {
	w.Write(binary.AppendUvarint(w.AvailableBuffer(), x))
}

func putVarint(w *bufio.Writer, x int64) {
	w.Write(binary.AppendVarint(w.AvailableBuffer(), x))
}

func putString(w *bufio.Writer, s string) {
	putUvarint(w, uint64(len(s)))
	w.WriteString(s)
}

// writeValue writes e's type, encoding, key deadline and value (the part
// of a key record that Digest and DigestValue hash too). names is scratch
// space, returned for reuse.
func writeValue(w *bufio.Writer, e entry, names []string) []string {
	w.WriteByte(byte(e.typ))
	switch {
	case e.typ == TypeString:
		w.WriteByte(encString)
	case e.big != nil && e.big.coll != nil:
		w.WriteByte(encColl)
		putVarint(w, e.exp)
		e.big.coll.write(w)
		return names
	case e.big != nil:
		w.WriteByte(encBig)
	default:
		w.WriteByte(encPacked)
	}
	putVarint(w, e.exp)
	if e.big == nil {
		putString(w, e.s)
		return names
	}
	names = names[:0]
	for f := range e.big.hash {
		names = append(names, f)
	}
	slices.Sort(names)
	putUvarint(w, uint64(len(names)))
	for _, f := range names {
		hf := e.big.hash[f]
		putString(w, f)
		putString(w, hf.v)
		putVarint(w, hf.exp)
	}
	clear(names)
	return names
}

// WriteTo encodes the snapshot to w and returns the number of bytes
// written. It only reads the capture, so it may run concurrently with
// Apply, and with other WriteTo calls. Its output is a function of the
// captured state alone (keys are written in byte order).
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	sn.sort()
	cw := &crcWriter{w: w, tab: crc32.MakeTable(crc32.Castagnoli)}
	bw := bufio.NewWriterSize(cw, 64<<10)
	bw.WriteString(snapMagic)
	putUvarint(bw, snapVersion)
	putUvarint(bw, sn.seq)
	putVarint(bw, sn.lastNow)
	putUvarint(bw, uint64(len(sn.delVer)))
	for _, v := range sn.delVer {
		putUvarint(bw, v)
	}
	putUvarint(bw, uint64(len(sn.ents)))
	var names []string
	for i := range sn.ents {
		if cw.err != nil {
			break
		}
		se := &sn.ents[i]
		bw.WriteByte(recKey)
		putString(bw, se.k)
		putUvarint(bw, se.e.ver)
		putUvarint(bw, uint64(se.e.lru))
		names = writeValue(bw, se.e, names)
	}
	bw.WriteByte(recEnd)
	putUvarint(bw, uint64(len(sn.ents)))
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("shard: writing snapshot: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], cw.crc)
	if _, err := cw.Write(sum[:]); err != nil {
		return cw.n, fmt.Errorf("shard: writing snapshot: %w", err)
	}
	return cw.n, nil
}

// snapHeader is the store-wide state a snapshot carries.
type snapHeader struct {
	seq     uint64
	lastNow int64
	delVer  []uint64
	keys    uint64 // records announced by the header
}

// snapDecoder reads a snapshot stream, checksumming what it consumes.
// Its first error sticks: later reads return zero values.
type snapDecoder struct {
	r     io.Reader
	buf   []byte
	i, n  int // unread bytes are buf[i:n]
	sum   int // buf[:sum] is already in crc
	crc   uint32
	tab   *crc32.Table
	base  int64 // stream offset of buf[0]
	rerr  error // the reader's error, once seen
	err   error
	empty int // consecutive empty reads
}

func newSnapDecoder(r io.Reader) *snapDecoder {
	return &snapDecoder{r: r, buf: make([]byte, 64<<10), tab: crc32.MakeTable(crc32.Castagnoli)}
}

// off returns the stream offset of the next unread byte.
func (d *snapDecoder) off() int64 { return d.base + int64(d.i) }

// corrupt records a format error at the current offset (unless an error
// is already recorded).
func (d *snapDecoder) corrupt(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: byte %d: %s", ErrCorruptSnapshot, d.off(), fmt.Sprintf(format, args...))
	}
}

// fill tries to make k (<= len(buf)) unread bytes available.
func (d *snapDecoder) fill(k int) bool {
	for d.n-d.i < k {
		if d.rerr != nil {
			return false
		}
		d.crc = crc32.Update(d.crc, d.tab, d.buf[d.sum:d.i])
		copy(d.buf, d.buf[d.i:d.n])
		d.base += int64(d.i)
		d.n -= d.i
		d.i, d.sum = 0, 0
		m, err := d.r.Read(d.buf[d.n:])
		d.n += m
		switch {
		case err != nil:
			d.rerr = err
		case m == 0:
			if d.empty++; d.empty > 100 {
				d.rerr = io.ErrNoProgress
			}
		default:
			d.empty = 0
		}
	}
	return true
}

// need makes k unread bytes available or records why it cannot.
func (d *snapDecoder) need(k int) bool {
	if d.err != nil {
		return false
	}
	if d.fill(k) {
		return true
	}
	if d.rerr == io.EOF {
		d.err = fmt.Errorf("%w: truncated at byte %d: %w", ErrCorruptSnapshot, d.base+int64(d.n), io.ErrUnexpectedEOF)
	} else {
		d.err = fmt.Errorf("reading snapshot at byte %d: %w", d.base+int64(d.n), d.rerr)
	}
	return false
}

func (d *snapDecoder) byte() byte {
	if !d.need(1) {
		return 0
	}
	b := d.buf[d.i]
	d.i++
	return b
}

func (d *snapDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	if d.n-d.i >= binary.MaxVarintLen64 {
		x, m := binary.Uvarint(d.buf[d.i:d.n])
		if m <= 0 {
			d.corrupt("bad varint")
			return 0
		}
		d.i += m
		return x
	}
	var x uint64
	for shift := uint(0); ; shift += 7 {
		b := d.byte()
		if d.err != nil {
			return 0
		}
		if shift == 63 && b > 1 {
			d.corrupt("bad varint")
			return 0
		}
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x
		}
		if shift == 63 {
			d.corrupt("bad varint")
			return 0
		}
	}
}

func (d *snapDecoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// str reads a length-prefixed string. A long one is read in chunks, so
// a corrupt length costs no more memory than the stream holds.
func (d *snapDecoder) str() string {
	l := d.uvarint()
	if d.err != nil {
		return ""
	}
	if l > snapMaxLen {
		d.corrupt("string length %d", l)
		return ""
	}
	if l <= uint64(len(d.buf)) {
		if !d.need(int(l)) {
			return ""
		}
		s := string(d.buf[d.i : d.i+int(l)])
		d.i += int(l)
		return s
	}
	b := make([]byte, 0, len(d.buf))
	for uint64(len(b)) < l {
		if !d.need(1) {
			return ""
		}
		take := min(uint64(d.n-d.i), l-uint64(len(b)))
		b = append(b, d.buf[d.i:d.i+int(take)]...)
		d.i += int(take)
	}
	return string(b)
}

// checksum reads the trailer's CRC and compares it with the sum of
// everything before it.
func (d *snapDecoder) checksum() {
	if d.err != nil {
		return
	}
	d.crc = crc32.Update(d.crc, d.tab, d.buf[d.sum:d.i])
	d.sum = d.i
	want := d.crc
	if !d.need(4) {
		return
	}
	got := binary.LittleEndian.Uint32(d.buf[d.i:])
	d.i += 4
	d.sum = d.i
	if got != want {
		d.corrupt("checksum mismatch: stored %08x, computed %08x", got, want)
	}
}

// end checks that the stream ends here.
func (d *snapDecoder) end() {
	if d.err != nil {
		return
	}
	if d.fill(1) {
		d.corrupt("trailing data after the trailer")
		return
	}
	if d.rerr != io.EOF {
		d.err = fmt.Errorf("reading snapshot at byte %d: %w", d.base+int64(d.n), d.rerr)
	}
}

// header reads the magic, the version and the store-wide state.
func (d *snapDecoder) header() snapHeader {
	var h snapHeader
	if !d.need(len(snapMagic)) {
		return h
	}
	if string(d.buf[d.i:d.i+len(snapMagic)]) != snapMagic {
		d.corrupt("bad magic")
		return h
	}
	d.i += len(snapMagic)
	if v := d.uvarint(); d.err == nil && v != snapVersion {
		d.corrupt("unsupported format version %d (this build reads %d)", v, snapVersion)
		return h
	}
	h.seq = d.uvarint()
	h.lastNow = d.varint()
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > snapMaxStripes || n&(n-1) != 0) {
		d.corrupt("stripe count %d is not a power of two in [1, %d]", n, snapMaxStripes)
		return h
	}
	for range n {
		v := d.uvarint()
		if d.err != nil {
			return h
		}
		if v > h.seq {
			d.corrupt("delete version %d above sequence %d", v, h.seq)
			return h
		}
		h.delVer = append(h.delVer, v)
	}
	h.keys = d.uvarint()
	return h
}

// record reads one key record (after its kind byte) and returns the key
// and its entry.
func (d *snapDecoder) record(h *snapHeader, names map[string]struct{}) (string, entry) {
	k := d.str()
	var e entry
	e.ver = d.uvarint()
	lru := d.uvarint()
	e.typ = Type(d.byte())
	enc := d.byte()
	e.exp = d.varint()
	if d.err != nil {
		return "", entry{}
	}
	if e.ver > h.seq {
		d.corrupt("key %q: version %d above sequence %d", k, e.ver, h.seq)
	}
	if lru > math.MaxUint32 {
		d.corrupt("key %q: access clock %d", k, lru)
	}
	e.lru = uint32(lru)
	switch {
	case e.typ == TypeString && enc == encString:
		e.s = d.str()
	case e.typ == TypeHash && enc == encPacked:
		e.s = d.str()
		if d.err == nil {
			if err := checkPacked(e.s, names); err != nil {
				d.corrupt("key %q: packed hash: %v", k, err)
			}
		}
	case e.typ == TypeHash && enc == encBig:
		e.big = d.bigHash(k)
	case enc == encColl && (e.typ == TypeList || e.typ == TypeSet || e.typ == TypeZSet):
		if c := d.collection(k, e.typ); c != nil {
			e.big = &large{coll: c, bytes: c.size()}
		}
	default:
		d.corrupt("key %q: type %d with encoding %d", k, e.typ, enc)
	}
	if d.err != nil {
		return "", entry{}
	}
	return k, e
}

// bigHash reads a big hash's fields and builds it as writes would.
func (d *snapDecoder) bigHash(k string) *large {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 {
		d.corrupt("key %q: empty hash", k)
		return nil
	}
	l := newLarge(int(min(n, 1024)))
	prev := ""
	for i := range n {
		f, v, exp := d.str(), d.str(), d.varint()
		if d.err != nil {
			return nil
		}
		if i > 0 && f <= prev {
			d.corrupt("key %q: hash fields out of order at %q", k, f)
			return nil
		}
		prev = f
		l.set(f, hfield{v: v, exp: exp}, hfield{}, false)
	}
	l.finish()
	return l
}

// checkPacked reports what is wrong with packed hash s, if anything: the
// flags, the bounds of every length, a field count of zero, a deadline
// order other than the one writes keep, duplicate names, extra bytes.
// names is scratch space.
func checkPacked(s string, names map[string]struct{}) error {
	if len(s) < 2 {
		return errors.New("too short")
	}
	flags := s[0]
	if flags&^packTTL != 0 {
		return fmt.Errorf("flags %#x", flags)
	}
	ttl := flags&packTTL != 0
	i := 1
	next := func() (uint64, bool) {
		x, m := binary.Uvarint([]byte(s[i:min(len(s), i+binary.MaxVarintLen64)]))
		if m <= 0 {
			return 0, false
		}
		i += m
		return x, true
	}
	field := func() (string, bool) {
		l, ok := next()
		if !ok || l > uint64(len(s)-i) {
			return "", false
		}
		f := s[i : i+int(l)]
		i += int(l)
		return f, true
	}
	n, ok := next()
	if !ok || n == 0 || n > uint64(len(s)) {
		return fmt.Errorf("bad field count")
	}
	clear(names)
	var last int64
	prefix := true // still among the fields with a deadline (they come first)
	anyTTL := false
	for j := range n {
		f, ok := field()
		if !ok {
			return fmt.Errorf("field %d: bad name", j)
		}
		if _, ok := field(); !ok {
			return fmt.Errorf("field %d: bad value", j)
		}
		if _, dup := names[f]; dup {
			return fmt.Errorf("duplicate field %q", f)
		}
		names[f] = struct{}{}
		if !ttl {
			continue
		}
		d, ok := next()
		if !ok {
			return fmt.Errorf("field %d: bad deadline", j)
		}
		switch exp := int64(d); {
		case exp == 0:
			prefix = false
		case !prefix || (anyTTL && exp < last):
			return fmt.Errorf("field %d: deadline out of order", j)
		default:
			anyTTL, last = true, exp
		}
	}
	if ttl && !anyTTL {
		return errors.New("deadline flag without deadlines")
	}
	if i != len(s) {
		return fmt.Errorf("%d extra bytes", len(s)-i)
	}
	return nil
}

// decodeSnapshot reads and checks a whole snapshot, calling keep for
// every key record (in order) and returning the header. Nothing it
// reports is usable unless it returns no error.
func decodeSnapshot(r io.Reader, keep func(k string, e entry)) (snapHeader, error) {
	d := newSnapDecoder(r)
	h := d.header()
	names := make(map[string]struct{})
	var count uint64
	var prev string
	for d.err == nil {
		kind := d.byte()
		if d.err != nil {
			break
		}
		if kind == recEnd {
			break
		}
		if kind != recKey {
			d.corrupt("unknown record kind %d", kind)
			break
		}
		k, e := d.record(&h, names)
		if d.err != nil {
			break
		}
		if count > 0 && k <= prev {
			d.corrupt("key %q out of order", k)
			break
		}
		prev = k
		count++
		if keep != nil {
			keep(k, e)
		}
	}
	if n := d.uvarint(); d.err == nil && (n != count || n != h.keys) {
		d.corrupt("trailer counts %d records, header %d, found %d", n, h.keys, count)
	}
	d.checksum()
	d.end()
	return h, d.err
}

// CheckSnapshot reads a whole snapshot from r and reports whether Restore
// would accept it, without keeping it. Errors are as Restore's.
func CheckSnapshot(r io.Reader) error {
	if _, err := decodeSnapshot(r, nil); err != nil {
		return fmt.Errorf("shard: check snapshot: %w", err)
	}
	return nil
}

// Restore replaces the store's whole content with the snapshot read from
// r. It builds new stripes (maps, deadline indexes, memory accounts) as
// writes would have, and only once the whole stream has been read and
// checked swaps them in, with the sequence number, the delete versions
// and the time high-water mark, while holding every stripe. On any error
// the store is unchanged. Keys already expired are kept (the reaper
// removes them, as on the replica that wrote the snapshot). Stats are
// left alone. The target's stripe count may differ from the writer's.
//
// Restore may run concurrently with Read; the caller must guarantee that
// no Apply does (the Raft FSM restores between applies).
func (s *Store) Restore(r io.Reader) error {
	ns := make([]stripe, len(s.stripes))
	for i := range ns {
		ns[i].m = make(map[string]entry)
		ns[i].keyTTL = ttl.NewIndex()
		ns[i].fieldTTL = ttl.NewIndex()
	}
	h, err := decodeSnapshot(r, func(k string, e entry) {
		st := &ns[s.stripeOfString(k)]
		st.m[k] = e
		if e.exp != 0 {
			st.keyTTL.Add(k, e.exp)
		}
		if fe := fieldDeadline(e); fe != 0 {
			st.fieldTTL.Add(k, fe)
		}
		st.mem += cost(len(k), e)
	})
	if err != nil {
		return fmt.Errorf("shard: restore: %w", err)
	}
	// A stripe of this store covers the hash range of one writer stripe
	// or of several (stripes are the top bits of the key hash): it
	// inherits their highest delete version, which can only make WATCH
	// of an absent key stricter.
	wb := bits.TrailingZeros(uint(len(h.delVer)))
	tb := bits.TrailingZeros(uint(len(ns)))
	for i := range ns {
		if tb >= wb {
			ns[i].delVer = h.delVer[i>>(tb-wb)]
			continue
		}
		for _, v := range h.delVer[i<<(wb-tb) : (i+1)<<(wb-tb)] {
			ns[i].delVer = max(ns[i].delVer, v)
		}
	}
	for i := range s.stripes {
		s.stripes[i].mu.Lock()
	}
	for i := range s.stripes {
		st, n := &s.stripes[i], &ns[i]
		st.m, st.keyTTL, st.fieldTTL = n.m, n.keyTTL, n.fieldTTL
		st.delVer, st.mem = n.delVer, n.mem
	}
	s.seq.Store(h.seq)
	s.lastNow.Store(h.lastNow)
	for i := range s.stripes {
		s.stripes[i].mu.Unlock()
	}
	if s.events.Load() {
		s.sink(Event{Class: EventRestored})
	}
	return nil
}

// stripeOfString is stripeOf for a key held as a string.
func (s *Store) stripeOfString(key string) int {
	if s.shift == 64 {
		return 0
	}
	return int(xxhash.Sum64String(key) >> s.shift)
}
