package shard

import (
	"bufio"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// Digests (DEBUG DIGEST, DEBUG DIGEST-VALUE).
//
// Each key contributes the SHA-1 of its canonical encoding: the key, then
// what a snapshot record holds of its value (writeValue: type, encoding,
// key deadline, and the string, the packed hash with its field order and
// deadlines, or a big hash's fields by name with their deadlines). The
// per-key sums are added as 160-bit integers, which does not depend on
// the order keys are visited in (stripe layout, map order), and the
// digest is the SHA-1 of that sum and the key count. Write versions and
// the access clock are not content and are left out. Keys whose deadline
// has passed but which are not reaped yet count, as in Redis.

// zeroDigest is what Redis answers for an empty dataset or a missing key.
const zeroDigest = "0000000000000000000000000000000000000000"

// digester accumulates the digest of a set of keys.
type digester struct {
	h     hash.Hash
	w     *bufio.Writer
	sum   [sha1.Size]byte // running sum of the per-key digests
	one   [sha1.Size]byte
	n     uint64
	names []string
}

func newDigester() *digester {
	h := sha1.New()
	return &digester{h: h, w: bufio.NewWriterSize(h, 4096)}
}

// add adds key k holding e.
func (d *digester) add(k string, e entry) {
	d.h.Reset()
	d.w.Reset(d.h)
	putString(d.w, k)
	d.names = writeValue(d.w, e, d.names)
	d.w.Flush()
	d.h.Sum(d.one[:0])
	var carry uint16
	for i := len(d.sum) - 1; i >= 0; i-- {
		carry += uint16(d.sum[i]) + uint16(d.one[i])
		d.sum[i] = byte(carry)
		carry >>= 8
	}
	d.n++
}

// digest returns the digest of the keys added, in hex.
func (d *digester) digest() string {
	if d.n == 0 {
		return zeroDigest
	}
	d.h.Reset()
	d.h.Write(d.sum[:])
	d.h.Write(binary.BigEndian.AppendUint64(nil, d.n))
	return hex.EncodeToString(d.h.Sum(nil))
}

// Digest returns a digest of the store's whole content as 40 lowercase
// hex characters, like Redis's DEBUG DIGEST: every key with its type,
// value (hash field order and field deadlines included) and deadline. It
// does not depend on the stripe count or on map order, so two stores
// that applied the same ops have the same digest, and any difference in
// content changes it (short of a SHA-1 collision). An empty store gives
// forty zeros.
//
// It holds every stripe while it runs, which gives a consistent view
// even with concurrent Apply, and blocks every op meanwhile (as DEBUG
// DIGEST blocks Redis).
func (s *Store) Digest() string {
	d := newDigester()
	for i := range s.stripes {
		s.stripes[i].mu.Lock()
	}
	defer func() {
		for i := range s.stripes {
			s.stripes[i].mu.Unlock()
		}
	}()
	for i := range s.stripes {
		for k, e := range s.stripes[i].m {
			d.add(k, e)
		}
	}
	return d.digest()
}

// Digest returns the digest of the captured content; it equals the
// store's Digest at the instant of the capture.
func (sn *Snapshot) Digest() string {
	sn.sort() // WriteTo may be sorting the entries concurrently
	d := newDigester()
	for i := range sn.ents {
		d.add(sn.ents[i].k, sn.ents[i].e)
	}
	return d.digest()
}

// DigestValue returns the digest of key's value (with its type and
// deadline) as 40 lowercase hex characters, like Redis's DEBUG
// DIGEST-VALUE, or forty zeros when the key is not stored. Like Redis it
// does not check the deadline: a key not yet reaped still has a digest.
func (s *Store) DigestValue(key []byte) string {
	st := &s.stripes[s.stripeOf(key)]
	st.mu.Lock()
	e, ok := st.m[string(key)]
	var names []string
	var sum [sha1.Size]byte
	if ok {
		h := sha1.New()
		w := bufio.NewWriterSize(h, 4096)
		writeValue(w, e, names)
		w.Flush()
		h.Sum(sum[:0])
	}
	st.mu.Unlock()
	if !ok {
		return zeroDigest
	}
	return hex.EncodeToString(sum[:])
}
