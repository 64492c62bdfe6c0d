package shard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"sessiond/ttl"
)

var snapUpdate = flag.Bool("update", false, "rewrite testdata/snapshot-v1.golden")

// snT0 is the time the snapshot tests start at (Unix ms).
const snT0 = 1_700_000_000_000

func snStore(stripes int) *Store {
	return New(Config{Stripes: stripes, Clock: ttl.NewFakeClock(time.UnixMilli(snT0))})
}

// snBig is a value too long for a packed hash (hash-max-listpack-value
// defaults to 64), so a hash holding it is big.
func snBig(i int) string { return fmt.Sprintf("%070d", i) }

// snApply applies op and returns its result rendered.
func snApply(s *Store, op Op) string { return fmt.Sprintf("%+v", s.Apply(&op)) }

// snKeys is the keyspace the random scripts use.
func snKeys() []string {
	var ks []string
	for i := range 24 {
		ks = append(ks, fmt.Sprintf("k%02d", i))
	}
	return ks
}

// snOp returns a random op at time *now or later (advancing it). With w
// set it may return a MULTI whose WATCH is taken on w now.
func snOp(rnd *rand.Rand, now *int64, w *Store) Op {
	keys := snKeys()
	key := func() string { return keys[rnd.IntN(len(keys))] }
	field := func() string { return fmt.Sprintf("f%d", rnd.IntN(12)) }
	val := func() string {
		if rnd.IntN(10) == 0 {
			return snBig(rnd.IntN(1000))
		}
		return fmt.Sprintf("v%d", rnd.IntN(1000))
	}
	{
		*now += int64(rnd.IntN(40))
		t := *now
		var op Op
		switch r := rnd.IntN(13); r {
		case 0, 1:
			op = hop(KindSet, t, key(), val())
			if rnd.IntN(3) == 0 {
				op.At = t + int64(rnd.IntN(300))
			}
		case 2, 3, 4:
			args := []string{}
			for range 1 + rnd.IntN(4) {
				args = append(args, field(), val())
			}
			op = hop(KindHSet, t, key(), args...)
		case 5:
			op = with(hop(KindHExpire, t, key(), field(), field()), 0, t+int64(rnd.IntN(300)), 0)
		case 6:
			op = hop(KindHDel, t, key(), field())
		case 7:
			op = hop(KindDel, t, "")
			op.Args = hbs(key())
		case 8:
			op = with(hop(KindExpire, t, key()), 0, t+int64(rnd.IntN(300)), 0)
		case 9:
			op = hop(KindHGetAll, t, key())
		case 10:
			op = hop(KindGet, t, key())
		case 11:
			op = hop(KindReap, t, "")
			op.Args = hbs(keys...)
		case 12:
			if w == nil {
				op = hop(KindPersist, t, key())
				break
			}
			k := key()
			op = Op{Kind: KindMulti, Now: t, Watch: []Watch{w.WatchKey([]byte(k))},
				Subs: []Op{hop(KindSet, t, k, val())}}
		}
		return op
	}
}

// snPopulate fills s with a mix of every kind of value: strings (one
// larger than the decoder's buffer), small and big hashes with and
// without field deadlines, key deadlines, a key past its deadline and not
// reaped, and deleted keys. It returns the time it ends at.
func snPopulate(t *testing.T, s *Store, seed uint64) int64 {
	t.Helper()
	now := int64(snT0)
	for _, op := range []Op{
		hop(KindSet, now, "plain", "value"),
		hop(KindSet, now, "empty", ""),
		hop(KindSet, now, "huge", strings.Repeat("0123456789abcdef", 9000)),
		with(hop(KindSet, now, "volatile", "v"), 0, now+500_000, 0),
		with(hop(KindSet, now, "dead", "v"), 0, now+5, 0),
		hop(KindHSet, now, "small", "a", "1", "b", "2", "c", "3"),
		with(hop(KindHExpire, now, "small", "c"), 0, now+100_000, 0),
		with(hop(KindHExpire, now, "small", "a"), 0, now+200_000, 0),
		hop(KindHSet, now, "big", "x", snBig(1), "y", "2", "z", "3"),
		with(hop(KindHExpire, now, "big", "y"), 0, now+300_000, 0),
		with(hop(KindExpire, now, "big"), 0, now+900_000, 0),
		hop(KindSet, now, "gone", "v"),
	} {
		s.Apply(&op)
	}
	var args []string
	for i := range 300 {
		args = append(args, fmt.Sprintf("field%03d", i), fmt.Sprint(i))
	}
	s.Apply(ptr(hop(KindHSet, now, "wide", args...)))
	s.Apply(ptr(with(hop(KindHExpire, now, "wide", "field007", "field100", "field200"), 0, now+700_000, 0)))
	del := hop(KindDel, now, "")
	del.Args = hbs("gone")
	s.Apply(&del)
	now += 10 // "dead" is past its deadline, not reaped
	rnd := rand.New(rand.NewPCG(seed, 1))
	for range 300 {
		s.Apply(ptr(snOp(rnd, &now, nil)))
	}
	return now
}

func ptr(op Op) *Op { return &op }

// snDump renders every stored entry (versions and access clocks
// included), sorted.
func snDump(s *Store) []string {
	var out []string
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		for k, e := range st.m {
			line := fmt.Sprintf("%q ver=%d lru=%d typ=%d exp=%d", k, e.ver, e.lru, e.typ, e.exp)
			if e.big != nil {
				var fs []string
				for f, hf := range e.big.hash {
					fs = append(fs, fmt.Sprintf("%s=%s@%d", f, hf.v, hf.exp))
				}
				slices.Sort(fs)
				line += fmt.Sprintf(" big minExp=%d %v", e.big.minExp, fs)
			} else {
				line += fmt.Sprintf(" s=%q", e.s)
			}
			out = append(out, line)
		}
		st.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

// snCheckIndexes checks that every stripe's deadline indexes and memory
// account agree with its map, as put keeps them.
func snCheckIndexes(t *testing.T, s *Store) {
	t.Helper()
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		var keyed, fielded int
		var mem int64
		for k, e := range st.m {
			if e.exp != 0 {
				keyed++
			}
			if fieldDeadline(e) != 0 {
				fielded++
			}
			mem += cost(len(k), e)
			if s.stripeOfString(k) != i {
				t.Errorf("key %q in stripe %d", k, i)
			}
		}
		if st.keyTTL.Len() != keyed || st.fieldTTL.Len() != fielded || st.mem != mem {
			t.Errorf("stripe %d: keyTTL %d (want %d), fieldTTL %d (want %d), mem %d (want %d)",
				i, st.keyTTL.Len(), keyed, st.fieldTTL.Len(), fielded, st.mem, mem)
		}
		st.mu.Unlock()
	}
}

func snEncode(t *testing.T, sn *Snapshot) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := sn.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo: %d, %v (wrote %d)", n, err, b.Len())
	}
	return b.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{4, 4}, {256, 256}, {4, 16}, {16, 1}, {1, 4}} {
		t.Run(fmt.Sprintf("%d-to-%d", tc.from, tc.to), func(t *testing.T) {
			src, dst := snStore(tc.from), snStore(tc.to)
			now := snPopulate(t, src, 7)
			// dst holds other data, which Restore replaces.
			snPopulate(t, dst, 8)
			data := snEncode(t, src.Snapshot())
			if err := CheckSnapshot(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if err := dst.Restore(iotest.HalfReader(bytes.NewReader(data))); err != nil {
				t.Fatal(err)
			}
			if got, want := dst.Digest(), src.Digest(); got != want || got == zeroDigest {
				t.Fatalf("digest %s, want %s", got, want)
			}
			if got, want := snDump(dst), snDump(src); !slices.Equal(got, want) {
				t.Fatalf("content differs:\n got %q\nwant %q", got, want)
			}
			if dst.seq.Load() != src.seq.Load() || dst.lastNow.Load() != src.lastNow.Load() || dst.lastNow.Load() != now {
				t.Fatalf("seq %d lastNow %d, want %d %d", dst.seq.Load(), dst.lastNow.Load(), src.seq.Load(), now)
			}
			snCheckIndexes(t, dst)
			if tc.from == tc.to {
				for i := range src.stripes {
					if src.stripes[i].delVer != dst.stripes[i].delVer {
						t.Fatalf("stripe %d delVer %d, want %d", i, dst.stripes[i].delVer, src.stripes[i].delVer)
					}
				}
			}
			if d := dst.DigestValue([]byte("wide")); d != src.DigestValue([]byte("wide")) || d == zeroDigest {
				t.Fatalf("DigestValue(wide) = %s", d)
			}
			// Both go on identically. WATCH only decides alike with the
			// same stripe count (delete versions are per stripe).
			var w *Store
			if tc.from == tc.to {
				w = src
			}
			rnd := rand.New(rand.NewPCG(99, 2))
			for i := range 600 {
				op := snOp(rnd, &now, w)
				a, b := op, op
				if ra, rb := snApply(src, a), snApply(dst, b); ra != rb {
					t.Fatalf("op %d (%v): %s, restored store %s", i, op.Kind, ra, rb)
				}
			}
			if dst.Digest() != src.Digest() {
				t.Fatal("digests differ after the same ops")
			}
			snCheckIndexes(t, dst)
		})
	}
}

// TestSnapshotPointInTime checks that a snapshot encodes the store as it
// was when taken, though writes (to big hashes too) run before and while
// it is written.
func TestSnapshotPointInTime(t *testing.T) {
	src := snStore(8)
	now := snPopulate(t, src, 3)
	want, wantDump, wantSeq := src.Digest(), snDump(src), src.seq.Load()
	sn := src.Snapshot()
	if sn.Digest() != want {
		t.Fatal("snapshot digest differs from the store's")
	}
	write := func(i int) {
		t0 := now + int64(i)
		src.Apply(ptr(hop(KindHSet, t0, "wide", "field001", "changed", fmt.Sprintf("new%d", i), "x")))
		src.Apply(ptr(hop(KindHDel, t0, "wide", fmt.Sprintf("field%03d", 10+i))))
		src.Apply(ptr(with(hop(KindHExpire, t0, "wide", "field050"), 0, t0+1000, 0)))
		src.Apply(ptr(hop(KindHSet, t0, "big", "x", snBig(i))))
		src.Apply(ptr(hop(KindSet, t0, "plain", fmt.Sprint(i))))
		src.Apply(ptr(hop(KindHSet, t0, fmt.Sprintf("fresh%d", i), "f", snBig(i))))
	}
	for i := range 5 {
		write(i)
	}
	// Encode while writes go on.
	var out bytes.Buffer
	var werr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, werr = sn.WriteTo(&out)
	}()
	for i := 5; i < 50; i++ {
		write(i)
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if src.Digest() == want {
		t.Fatal("writes did not change the digest")
	}
	dst := snStore(8)
	if err := dst.Restore(bytes.NewReader(out.Bytes())); err != nil {
		t.Fatal(err)
	}
	if dst.Digest() != want || !slices.Equal(snDump(dst), wantDump) || dst.seq.Load() != wantSeq {
		t.Fatal("restored snapshot is not the store at the capture instant")
	}
	// The writes after the capture did not touch the captured big hash.
	if again := snEncode(t, sn); !bytes.Equal(again, out.Bytes()) {
		t.Fatal("a second WriteTo differs from the first")
	}
}

// snSmall is a small store holding a string, a small hash with field
// deadlines, a big hash and a key with a deadline.
func snSmall() *Store {
	s := snStore(2)
	s.Apply(ptr(hop(KindSet, snT0, "s", "v")))
	s.Apply(ptr(hop(KindHSet, snT0, "h", "a", "1", "b", "2")))
	s.Apply(ptr(with(hop(KindHExpire, snT0, "h", "b"), 0, snT0+1000, 0)))
	s.Apply(ptr(hop(KindHSet, snT0, "H", "x", snBig(1)[60:], "y", snBig(2))))
	s.Apply(ptr(with(hop(KindExpire, snT0, "s"), 0, snT0+5000, 0)))
	return s
}

// snBoom is the error snFailWriter fails with.
var snBoom = errors.New("boom")

// snFailWriter accepts left bytes, then fails.
type snFailWriter struct{ left int }

func (w *snFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, snBoom
	}
	w.left -= len(p)
	return len(p), nil
}

// snRecrc replaces the checksum of a snapshot whose body was changed.
func snRecrc(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

// snRejects checks that data is refused by CheckSnapshot and Restore and
// that the target is left as it was.
func snRejects(t *testing.T, target *Store, data []byte, what string) error {
	t.Helper()
	before, seq, now := target.Digest(), target.seq.Load(), target.lastNow.Load()
	cerr := CheckSnapshot(bytes.NewReader(data))
	rerr := target.Restore(bytes.NewReader(data))
	if cerr == nil || rerr == nil {
		t.Fatalf("%s: accepted (check: %v, restore: %v)", what, cerr, rerr)
	}
	if !errors.Is(cerr, ErrCorruptSnapshot) || !errors.Is(rerr, ErrCorruptSnapshot) {
		t.Fatalf("%s: errors do not wrap ErrCorruptSnapshot: %v; %v", what, cerr, rerr)
	}
	if target.Digest() != before || target.seq.Load() != seq || target.lastNow.Load() != now {
		t.Fatalf("%s: failed restore changed the store", what)
	}
	return rerr
}

func TestSnapshotCorruption(t *testing.T) {
	data := snEncode(t, snSmall().Snapshot())
	if len(data) > 400 {
		t.Fatalf("small snapshot is %d bytes", len(data))
	}
	target := snStore(4)
	snPopulate(t, target, 5)
	for i := range data {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad := slices.Clone(data)
			bad[i] ^= x
			snRejects(t, target, bad, fmt.Sprintf("byte %d ^ %#x", i, x))
		}
	}
	for n := range len(data) {
		err := snRejects(t, target, data[:n], fmt.Sprintf("truncated to %d", n))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Each structural check, with a valid checksum.
	vpos := len(snapMagic)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"trailing byte", append(slices.Clone(data), 0), "trailing data"},
		{"magic", append([]byte("SESSIONDSNAQ"), data[len(snapMagic):]...), "bad magic"},
		{"version", snRecrc(append(append(slices.Clone(data[:vpos]), 2), data[vpos+1:]...)), "unsupported format version 2"},
		{"record kind", snRecrc(bytes.Replace(data, []byte{recKey, 1, 'H'}, []byte{7, 1, 'H'}, 1)), "unknown record kind 7"},
		{"key order", snRecrc(bytes.Replace(data, []byte{recKey, 1, 'h'}, []byte{recKey, 1, 'A'}, 1)), "out of order"},
		{"trailer count", snRecrc(append(slices.Clone(data[:len(data)-5]), 4, 0, 0, 0, 0)), "trailer counts"},
	}
	for _, tc := range cases {
		err := snRejects(t, target, tc.data, tc.name)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The reader's own errors are passed on, not called corruption.
	boom := snBoom
	err := target.Restore(io.MultiReader(bytes.NewReader(data[:20]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("reader error: %v", err)
	}
	// A failing writer's error comes back from WriteTo.
	if _, err := snSmall().Snapshot().WriteTo(&snFailWriter{left: 50}); !errors.Is(err, boom) {
		t.Fatalf("WriteTo to a failing writer: %v", err)
	}
	// One byte at a time works.
	if err := target.Restore(iotest.OneByteReader(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if target.Digest() != snSmall().Digest() {
		t.Fatal("restore of the small snapshot")
	}
}

func TestCheckPacked(t *testing.T) {
	ok := []string{
		encodePacked([]pfield{{f: "a", v: "1"}}, nil),
		encodePacked([]pfield{{f: "a", v: "1", exp: 5}, {f: "b", v: ""}}, nil),
		encodePacked([]pfield{{f: "a", v: "1", exp: 5}, {f: "b", v: "", exp: 5}, {f: "c", v: "3", exp: 9}}, nil),
	}
	bad := map[string]string{
		"empty":          "",
		"no fields":      "\x00\x00",
		"flags":          "\x02\x01\x01a\x011",
		"short":          "\x00\x02\x01a\x011",
		"long name":      "\x00\x01\x05a\x011",
		"extra":          "\x00\x01\x01a\x011x",
		"duplicate":      "\x00\x02\x01a\x011\x01a\x012",
		"order":          encodePacked([]pfield{{f: "a", v: "1", exp: 9}, {f: "b", v: "2", exp: 5}}, nil),
		"timed after":    encodePacked([]pfield{{f: "a", v: "1"}, {f: "b", v: "2", exp: 5}}, nil),
		"flag, no times": "\x01\x01\x01a\x011\x00",
	}
	names := map[string]struct{}{}
	for _, s := range ok {
		if err := checkPacked(s, names); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for name, s := range bad {
		if err := checkPacked(s, names); err == nil {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}

// TestSnapshotGolden freezes format version 1: the golden file is what
// this store encodes to, and it decodes back to the same content. Run
// with -update to rewrite it after a deliberate change (which needs a new
// format version).
func TestSnapshotGolden(t *testing.T) {
	path := filepath.Join("testdata", "snapshot-v1.golden")
	s := snSmall()
	s.Apply(ptr(hop(KindSet, snT0+1, "gone", "v")))
	del := hop(KindDel, snT0+2, "")
	del.Args = hbs("gone")
	s.Apply(&del)
	data := snEncode(t, s.Snapshot())
	if *snapUpdate {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, golden) {
		t.Errorf("encoding differs from %s (run with -update only for a deliberate format change):\n got %x\nwant %x", path, data, golden)
	}
	dst := snStore(16)
	if err := dst.Restore(bytes.NewReader(golden)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(snDump(dst), snDump(s)) || dst.Digest() != s.Digest() || dst.seq.Load() != 7 || dst.lastNow.Load() != snT0+2 {
		t.Fatalf("golden decodes to\n%q\nwant\n%q", snDump(dst), snDump(s))
	}
	for _, tc := range []struct{ op, want string }{
		{fmtRes(dst.Apply(ptr(hop(KindHGetAll, snT0+2, "h")))), "map[b 2 a 1]"},
		{fmtRes(dst.Apply(ptr(hop(KindHGet, snT0+2, "H", "y")))), fmt.Sprintf("%q", snBig(2))},
		{fmtRes(dst.Apply(ptr(with(hop(KindTTL, snT0+2, "s"), Millis, 0, 0)))), "4998"},
		{fmtRes(dst.Apply(ptr(hop(KindGet, snT0+2, "gone")))), "nil"},
	} {
		if tc.op != tc.want {
			t.Errorf("restored golden: %s, want %s", tc.op, tc.want)
		}
	}
}

// TestSnapshotConcurrentReads takes snapshots and restores while reads
// (which move the access clock) and WATCHes run, under -race.
func TestSnapshotConcurrentReads(t *testing.T) {
	s := snStore(4)
	snPopulate(t, s, 11)
	want := s.Digest()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				k := snKeys()[i%24]
				s.Read(ptr(hop(KindHGetAll, 0, "wide")))
				s.Read(ptr(hop(KindGet, 0, k)))
				s.Read(ptr(hop(KindHGetAll, 0, k)))
				s.WatchKey([]byte(k))
			}
		}()
	}
	for range 10 {
		sn := s.Snapshot()
		data := snEncode(t, sn)
		if sn.Digest() != want {
			t.Error("snapshot digest changed under reads")
		}
		if err := s.Restore(bytes.NewReader(data)); err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if s.Digest() != want {
		t.Fatal("store changed")
	}
	snCheckIndexes(t, s)
}

// BenchmarkSnapshot measures the capture (the pause Apply sees) and the
// encoding of 100k ten-field session hashes.
func BenchmarkSnapshot(b *testing.B) {
	s := snStore(256)
	for i := range 100_000 {
		s.Apply(&Op{Kind: KindHSet, Now: snT0, Key: sessionKey(i), Args: sessionFields(i)})
	}
	b.Run("capture", func(b *testing.B) {
		for b.Loop() {
			s.Snapshot()
		}
	})
	sn := s.Snapshot()
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			n, _ := sn.WriteTo(io.Discard)
			b.SetBytes(n)
		}
	})
	var buf bytes.Buffer
	sn.WriteTo(&buf)
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			if err := s.Restore(bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("digest", func(b *testing.B) {
		for b.Loop() {
			s.Digest()
		}
	})
}
