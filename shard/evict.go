package shard

import (
	"math"
	"math/rand/v2"
	"strings"
	"unsafe"
)

// Eviction: the access clock kept in every entry, the maxmemory policies,
// and the sampling that picks which keys to evict. Selection is
// approximate, as in Redis: a few keys are sampled from a random stripe and
// the best of them (and of earlier samples, kept in an EvictionPool) is
// evicted. Selection runs on the leader, outside Apply, and may use
// randomness; the chosen keys are then deleted by a replicated KindEvict op.

// Policy is a maxmemory-policy: which keys may be evicted when the dataset
// is over the memory limit, and in what order.
type Policy uint8

// The maxmemory policies, as Redis names them.
const (
	NoEviction     Policy = iota // refuse writes (OOM error) instead of evicting
	AllKeysLRU                   // least recently used of all keys
	VolatileLRU                  // least recently used of the keys with a deadline
	AllKeysLFU                   // least frequently used of all keys
	VolatileLFU                  // least frequently used of the keys with a deadline
	AllKeysRandom                // any key
	VolatileRandom               // any key with a deadline
	VolatileTTL                  // the key with the nearest deadline
)

var policyNames = [...]string{
	NoEviction:     "noeviction",
	AllKeysLRU:     "allkeys-lru",
	VolatileLRU:    "volatile-lru",
	AllKeysLFU:     "allkeys-lfu",
	VolatileLFU:    "volatile-lfu",
	AllKeysRandom:  "allkeys-random",
	VolatileRandom: "volatile-random",
	VolatileTTL:    "volatile-ttl",
}

// ParsePolicy returns the policy named name (case-insensitive, as Redis's
// enum configs are); ok is false for an unknown name.
func ParsePolicy(name string) (p Policy, ok bool) {
	for i, n := range policyNames {
		if strings.EqualFold(n, name) {
			return Policy(i), true
		}
	}
	return NoEviction, false
}

// String returns the policy's Redis name.
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "noeviction"
}

// Volatile reports whether p only evicts keys that have a deadline.
func (p Policy) Volatile() bool {
	return p == VolatileLRU || p == VolatileLFU || p == VolatileRandom || p == VolatileTTL
}

// The access clock, entry.lru, packs what Redis keeps in the 24-bit lru
// field of every object, for both LRU and LFU at once, so that changing
// the policy at run time needs no rebuild:
//
//	bits 31..8  the time of the last access (or write), in seconds modulo
//	            2^24 (wraps every 194 days; idle times are computed modulo
//	            that, like Redis's estimateObjectIdleTime)
//	bits  7..0  the LFU counter: Redis's logarithmic access frequency,
//	            incremented with probability 1/((c-5)*lfu-log-factor+1) and
//	            decremented by one per lfu-decay-time minutes of idleness
//
// Zero means never stamped: the idlest and least frequently used of all.
const (
	clockBits    = 24
	clockMask    = 1<<clockBits - 1
	lfuInitVal   = 5  // LFU_INIT_VAL: a new key's counter
	lfuLogFactor = 10 // lfu-log-factor
	lfuDecayTime = 1  // lfu-decay-time, minutes
)

// clockAt returns the 24-bit access clock for now (Unix ms).
func clockAt(now int64) uint32 { return uint32(now/1000) & clockMask }

// packClock builds an access clock value, never 0.
func packClock(clock uint32, counter uint8) uint32 {
	v := clock<<8 | uint32(counter)
	if v == 0 {
		v = 1 // clock 0 with counter 0: keep 0 meaning "never stamped"
	}
	return v
}

// idleSeconds returns how long ago, in seconds, lru was stamped.
func idleSeconds(lru uint32, now int64) int64 {
	if lru == 0 {
		return clockMask
	}
	c, t := clockAt(now), lru>>8
	if c >= t {
		return int64(c - t)
	}
	return int64(c + clockMask + 1 - t)
}

// lfuCounter returns lru's LFU counter decayed to now (Redis's
// LFUDecrAndReturn).
func lfuCounter(lru uint32, now int64) uint8 {
	if lru == 0 {
		return 0
	}
	c := int64(lru & 0xff)
	if periods := idleSeconds(lru, now) / 60 / lfuDecayTime; periods < c {
		return uint8(c - periods)
	}
	return 0
}

// lfuIncr returns counter incremented logarithmically (Redis's
// LFULogIncr); r is a uniformly distributed random number.
func lfuIncr(counter uint8, r uint64) uint8 {
	if counter == 255 {
		return 255
	}
	base := float64(counter) - lfuInitVal
	if base <= 0 {
		return counter + 1
	}
	p := 1 / (base*lfuLogFactor + 1)
	if float64(r>>11)/(1<<53) < p {
		return counter + 1
	}
	return counter
}

// touched returns the access clock of a key read (or written) at now
// whose clock was lru. It is a pure function of its arguments: the LFU
// increment draws its "random" number from a hash of key, now and the
// counter, so that Apply stays deterministic.
func touched(lru uint32, now int64, key []byte) uint32 {
	counter := lfuCounter(lru, now)
	if lru == 0 {
		counter = lfuInitVal
	}
	if counter > lfuInitVal {
		counter = lfuIncr(counter, mix64(hashKey(key)^uint64(now)*0x9e3779b97f4a7c15^uint64(counter)))
	} else {
		counter = lfuIncr(counter, 0)
	}
	return packClock(clockAt(now), counter)
}

// writeClock returns the access clock for a key written at now over an
// entry whose clock was old (0 when the key is new). As in Redis, a write
// counts as an access (lookupKeyWrite) and a new key starts at
// LFU_INIT_VAL, stamped now. Store.put should set entry.lru with it.
func writeClock(old uint32, now int64, key []byte) uint32 {
	if old == 0 {
		return packClock(clockAt(now), lfuInitVal)
	}
	return touched(old, now, key)
}

// mix64 is splitmix64's finaliser: a cheap, well-spread hash of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// evictScore ranks e for eviction under p at now: the higher, the sooner
// it goes. A key already expired (not yet reaped) outranks every live one.
func evictScore(p Policy, e entry, now int64, r *rand.Rand) uint64 {
	if expired(e.exp, now) {
		return math.MaxUint64
	}
	switch p {
	case AllKeysLRU, VolatileLRU:
		return uint64(idleSeconds(e.lru, now))
	case AllKeysLFU, VolatileLFU:
		// Least frequent first; among equals, the idlest.
		return uint64(255-lfuCounter(e.lru, now))<<32 | uint64(idleSeconds(e.lru, now))
	case VolatileTTL:
		return uint64(math.MaxInt64 - e.exp) // nearest deadline first
	}
	return r.Uint64() >> 1 // random policies: a random rank
}

// PoolSize is the number of candidates an EvictionPool keeps, as Redis's
// EVPOOL_SIZE.
const PoolSize = 16

// EvictionPool keeps the best eviction candidates sampled so far, best
// last, like Redis's eviction pool: each sampling round merges into it, so
// a good candidate found in one round is still used in a later one. An
// EvictionPool is not safe for concurrent use; the zero value is not
// usable, call NewEvictionPool.
type EvictionPool struct {
	ents []candidate // ascending by score
	rnd  *rand.Rand
}

type candidate struct {
	key   string
	score uint64
}

// NewEvictionPool returns an empty pool that draws its random numbers
// (which stripe to sample, ranks under the random policies) from r, or
// from a randomly seeded source when r is nil.
func NewEvictionPool(r *rand.Rand) *EvictionPool {
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &EvictionPool{ents: make([]candidate, 0, PoolSize), rnd: r}
}

// Len returns the number of candidates held.
func (p *EvictionPool) Len() int { return len(p.ents) }

// Reset empties the pool (after a policy change, or a flush).
func (p *EvictionPool) Reset() {
	clear(p.ents)
	p.ents = p.ents[:0]
}

// add merges one sampled key: it takes a free slot, or replaces the
// worst candidate when key ranks above it. A key already held gets the
// new score.
func (p *EvictionPool) add(key string, score uint64) {
	for i := range p.ents {
		if p.ents[i].key == key {
			p.ents = append(p.ents[:i], p.ents[i+1:]...)
			break
		}
	}
	if len(p.ents) == PoolSize {
		if score <= p.ents[0].score {
			return
		}
		p.ents = append(p.ents[:0], p.ents[1:]...)
	}
	i := len(p.ents)
	for i > 0 && p.ents[i-1].score > score {
		i--
	}
	p.ents = append(p.ents, candidate{})
	copy(p.ents[i+1:], p.ents[i:])
	p.ents[i] = candidate{key: key, score: score}
}

// pop removes and returns the best candidate.
func (p *EvictionPool) pop() (string, bool) {
	n := len(p.ents)
	if n == 0 {
		return "", false
	}
	c := p.ents[n-1]
	p.ents[n-1] = candidate{}
	p.ents = p.ents[:n-1]
	return c.key, true
}

// volatileScanFactor bounds how many entries a volatile policy looks at,
// per key it wants, in a stripe where few keys have a deadline.
const volatileScanFactor = 16

// SampleEviction samples keys that policy p may evict and merges them into
// pool: up to samples keys (maxmemory-samples) of one stripe picked at
// random, moving on to the next stripe while the ones it visits have none.
// volatile-ttl takes the keys with the nearest deadlines of the stripe;
// the other policies take keys from a random position of the stripe's map
// (Go's map iteration starts at a random slot), skipping keys without a
// deadline for the volatile policies. now (Unix ms) dates idle times. It
// reports false when no stripe holds a key p may evict. It only reads the
// store, apart from access-free bookkeeping of the deadline index.
func (s *Store) SampleEviction(pool *EvictionPool, p Policy, samples int, now int64) bool {
	if p == NoEviction {
		return false
	}
	if samples <= 0 {
		samples = 5
	}
	n := len(s.stripes)
	start := pool.rnd.IntN(n)
	for i := 0; i < n; i++ {
		st := &s.stripes[(start+i)&(n-1)]
		st.mu.Lock()
		found := s.sampleStripe(st, pool, p, samples, now)
		st.mu.Unlock()
		if found {
			return true
		}
	}
	return false
}

// sampleStripe samples st (locked) into pool and reports whether it found
// any candidate.
func (s *Store) sampleStripe(st *stripe, pool *EvictionPool, p Policy, samples int, now int64) bool {
	found := 0
	switch {
	case p == VolatileTTL:
		if st.keyTTL.Len() == 0 {
			return false
		}
		st.keyTTL.Due(math.MaxInt64, samples, func(k string) bool {
			if e, ok := st.m[k]; ok && e.exp != 0 {
				pool.add(k, evictScore(p, e, now, pool.rnd))
				found++
			}
			return true
		})
	case p.Volatile():
		if st.keyTTL.Len() == 0 {
			return false
		}
		budget := samples * volatileScanFactor
		for k, e := range st.m {
			if e.exp != 0 {
				pool.add(k, evictScore(p, e, now, pool.rnd))
				found++
			}
			budget--
			if found == samples || budget == 0 {
				break
			}
		}
	default:
		for k, e := range st.m {
			pool.add(k, evictScore(p, e, now, pool.rnd))
			found++
			if found == samples {
				break
			}
		}
	}
	return found > 0
}

// NextEviction takes the best candidate from pool that p may still evict
// (it still exists and, for a volatile policy, still has a deadline) and
// returns a copy of its key and its accounted size. ok is false when the
// pool holds no such key; sample again then.
func (s *Store) NextEviction(pool *EvictionPool, p Policy) (key []byte, size int64, ok bool) {
	for {
		k, held := pool.pop()
		if !held {
			return nil, 0, false
		}
		st := &s.stripes[s.stripeOf([]byte(k))]
		st.mu.Lock()
		e, there := st.m[k]
		st.mu.Unlock()
		if there && (!p.Volatile() || e.exp != 0) {
			return []byte(k), cost(len(k), e), true
		}
	}
}

// The memory model behind cost (store.go). Accounted bytes are meant to
// track what keys add to the live Go heap, so that maxmemory and INFO's
// used_memory mean what they say; TestCostTracksHeap checks them against
// runtime heap figures.

// mapSlotSize is one slot of a stripe's map[string]entry: the key's string
// header, the entry, and the slot's control byte.
const mapSlotSize = int64(unsafe.Sizeof("") + unsafe.Sizeof(entry{}) + 1)

// deadlineOverhead is what a key with a deadline costs in a deadline index
// (ttl.Index): its slot in a bucket's set, at the set's load factor. The
// buckets themselves are counted apart (DeadlineBucketBytes), because
// their number depends on how deadlines spread, not on the key count: a
// bulk load shares a bucket among hundreds of keys, while keys written a
// few a second get one each.
const deadlineOverhead = 24

// DeadlineBucketBytes is what one bucket of a deadline index costs: the
// bucket struct, its small key slice's first array, and its slots in the
// index's map and heap. (A bucket grown past ttl's small size also pays
// for a map, but such buckets hold many keys, so per key it is noise.)
const DeadlineBucketBytes = 104

// MemoryUsage is the accounted size of a store's dataset.
type MemoryUsage struct {
	Keys            int64 // the keys' accounted bytes (cost of each)
	DeadlineBuckets int   // buckets of the key and hash-field deadline indexes
}

// Bytes returns the dataset's accounted size: the keys plus the deadline
// indexes' buckets.
func (u MemoryUsage) Bytes() int64 {
	return u.Keys + int64(u.DeadlineBuckets)*DeadlineBucketBytes
}

// MemoryUsage returns the accounted size of the dataset. Like UsedBytes it
// locks each stripe in turn.
func (s *Store) MemoryUsage() MemoryUsage {
	var u MemoryUsage
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		u.Keys += st.mem
		u.DeadlineBuckets += st.keyTTL.Buckets() + st.fieldTTL.Buckets()
		st.mu.Unlock()
	}
	return u
}

// sizeClasses are the Go allocator's small object sizes (the runtime's
// SizeClassToSize without the leading 0); a string of n bytes takes the
// first class that holds it.
var sizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144,
	160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480,
	512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912,
	8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
	20480, 21760, 24576, 27264, 28672, 32768}

// allocSize returns the heap bytes a string of n bytes occupies: nothing
// for an empty one, about n for one under 16 bytes (the tiny allocator
// packs those together), its size class up to 32 KiB, whole 8 KiB pages
// beyond.
func allocSize(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n < 16:
		return int64(n)
	case n > 32768:
		return int64(n+8191) &^ 8191
	}
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if int(sizeClasses[mid]) < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int64(sizeClasses[lo])
}
