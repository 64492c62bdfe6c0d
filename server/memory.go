package server

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sessiond/shard"
)

// Memory: what INFO memory reports, maxmemory and eviction, and the
// garbage collector settings that keep RSS close to used_memory.
//
// What used_memory means. Redis's used_memory is the bytes its allocator
// has handed out and not taken back. The closest Go figure, the live
// heap, is only known after a garbage collection, does not fall when keys
// are deleted until the next one, and keeps the slots of Go maps, which
// never shrink; it can neither drive eviction (which must see a delete at
// once) nor be compared from one GC cycle to the next. So sessiond's
// used_memory is
//
//	used_memory = used_memory_startup + used_memory_dataset
//
// where used_memory_dataset is the store's accounted bytes (shard's cost
// per key: key and value strings at their allocator size class, the key's
// share of its stripe's map at the map's typical load factor, deadline
// index slots, big hashes' own accounting; plus the deadline indexes'
// buckets), calibrated by shard's TestCostTracksHeap to stay within 25% of
// the live heap the keys really take (1M session hashes: 427 MB accounted,
// 443 MB live after a full GC), and used_memory_startup is the runtime's
// heap and stacks when the server started (Redis's used_memory_startup).
// It moves the moment a key is written or deleted, and it is what
// maxmemory is compared with. Client buffers are not counted.
// used_memory_rss is the process's resident set, from /proc/self/statm.

// memoryStats is what INFO memory reports.
type memoryStats struct {
	Used        int64 // used_memory: bytes the dataset and server hold
	Dataset     int64 // used_memory_dataset: accounted dataset bytes
	Startup     int64 // used_memory_startup: runtime heap and stacks at start
	RSS         int64 // used_memory_rss
	Peak        int64 // used_memory_peak
	MaxMemory   int64 // maxmemory
	Policy      string
	EvictedKeys int64
}

// Eviction tuning.
const (
	// memoryLoopInterval is how often the background loop looks at memory.
	memoryLoopInterval = 100 * time.Millisecond
	// memoryLoopSlice bounds the eviction work of one loop tick.
	memoryLoopSlice = 25 * time.Millisecond
	// evictBatch is the most keys one KindEvict op carries.
	evictBatch = 32
	// maxEvictionsPerCall bounds the keys one performEvictions call
	// evicts (Redis bounds it by time); past it the command runs and the
	// background loop carries on.
	maxEvictionsPerCall = 512
	// fastCheckBytes and maxFastChecks size the checkOOM fast path: with
	// h bytes of headroom under maxmemory, the next min(h/fastCheckBytes,
	// maxFastChecks) checks skip the exact reading.
	fastCheckBytes = 64 << 10
	maxFastChecks  = 31
)

// performEvictions outcomes, as Redis's EVICT_OK, EVICT_RUNNING and
// EVICT_FAIL.
const (
	evictOK      = iota // at or under the limit
	evictRunning        // still over the limit, but evicting: commands may run
	evictFail           // over the limit and nothing (more) may be evicted
)

// memoryState is the server's memory bookkeeping. Its zero value is ready
// to use.
type memoryState struct {
	startOnce sync.Once
	startup   int64        // used_memory_startup
	peak      atomic.Int64 // used_memory_peak
	fastLeft  atomic.Int64 // checkOOM calls that may skip the exact reading

	mu     sync.Mutex            // serialises evictions; guards pool and policy
	pools  []*shard.EvictionPool // one per shard group
	policy shard.Policy          // the policy pools were filled for
}

// mem returns s's memory bookkeeping.
func (s *Server) mem() *memoryState { return &s.memState }

// startupBytes returns used_memory_startup, reading it the first time.
func (m *memoryState) startupBytes() int64 {
	m.startOnce.Do(func() {
		sm := []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/stacks:bytes"},
		}
		metrics.Read(sm)
		for _, x := range sm {
			if x.Value.Kind() == metrics.KindUint64 {
				m.startup += int64(x.Value.Uint64())
			}
		}
	})
	return m.startup
}

// usedMemory returns used_memory and used_memory_dataset, and keeps the
// peak.
func (s *Server) usedMemory() (used, dataset int64) {
	m := s.mem()
	for _, u := range s.local() {
		dataset += u.store.MemoryUsage().Bytes()
	}
	used = m.startupBytes() + dataset
	for {
		p := m.peak.Load()
		if used <= p || m.peak.CompareAndSwap(p, used) {
			break
		}
	}
	return used, dataset
}

// memoryInfo returns the current memory figures.
func (s *Server) memoryInfo() memoryStats {
	cfg := s.config()
	used, dataset := s.usedMemory()
	m := s.mem()
	return memoryStats{
		Used:        used,
		Dataset:     dataset,
		Startup:     m.startupBytes(),
		RSS:         processRSS(),
		Peak:        max(m.peak.Load(), used),
		MaxMemory:   cfg.MaxMemory,
		Policy:      cfg.MaxMemoryPolicy,
		EvictedKeys: s.storeStats().evictedKeys,
	}
}

// processRSS returns the process's resident set size in bytes: from
// /proc/self/statm where there is one, else the memory the Go runtime has
// mapped and not returned to the OS.
func processRSS() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 2 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	sm := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(sm)
	if sm[0].Value.Kind() != metrics.KindUint64 || sm[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sm[0].Value.Uint64() - sm[1].Value.Uint64())
}

// startMemoryLoop starts the background loop that keeps memory under
// maxmemory when no write comes to trigger eviction (after CONFIG SET
// maxmemory, or when a burst left it over the limit) and keeps
// used_memory_peak current. It runs until s.ctx ends.
func (s *Server) startMemoryLoop() {
	m := s.mem()
	m.startupBytes()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(memoryLoopInterval)
		defer tick.Stop()
		var rel releaseState
		var gcSet int
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-tick.C:
			}
			end := time.Now().Add(memoryLoopSlice)
			for s.ctx.Err() == nil && time.Now().Before(end) {
				if s.performEvictions() != evictRunning {
					break
				}
			}
			s.maybeReleaseMemory(&rel)
			s.adjustGC(&gcSet)
		}
	}()
}

// gcHeadroom is the least heap growth the collector is allowed between
// cycles. GOGC=40 alone makes a small dataset collect every few MiB of
// allocation: under write load (each Raft entry allocates its encoding
// several times) the collector then costs a quarter of the core. With
// GOGC at least gcHeadroom/dataset, a small store trades up to 64 MiB of
// RSS for that CPU, and a large one keeps GOGC=40.
const gcHeadroom = 64 << 20

// adjustGC raises GOGC above gcPercent while the dataset is small (see
// gcHeadroom). It only acts when the server manages the collector and
// GOGC is not set in the environment; *last is the value it last set.
func (s *Server) adjustGC(last *int) {
	if !s.config().ManageGC || os.Getenv("GOGC") != "" {
		return
	}
	_, dataset := s.usedMemory()
	want := gcPercent
	if dataset > 0 && gcHeadroom*100/dataset > int64(want) {
		want = int(min(gcHeadroom*100/dataset, 1000))
	} else if dataset <= 0 {
		want = 1000
	}
	if *last == 0 || want > *last*11/10 || want < *last*9/10 {
		debug.SetGCPercent(want)
		*last = want
	}
}

// Returning memory to the OS after a burst: see maybeReleaseMemory.
const (
	releaseIdleTicks = 20       // memory loop ticks without a command (2 s)
	releaseMinChange = 64 << 20 // dataset growth or shrinkage since the last release
)

// releaseState is what the memory loop remembers between ticks about
// returning memory to the OS.
type releaseState struct {
	commands int64 // commands served, at the last tick
	idle     int   // ticks in a row without a command
	dataset  int64 // used_memory_dataset at the last release
}

// maybeReleaseMemory hands the heap's free pages back to the OS
// (debug.FreeOSMemory: a full collection, then returning every free page)
// once the server has gone idle after its dataset grew or shrank by at
// least releaseMinChange. Between collections a Go heap holds garbage and
// freed pages that the runtime keeps for reuse, so after a bulk load RSS
// would stay well above used_memory (measured: 1M session hashes, RSS
// 1.3x-1.4x used_memory before, 1.15x after); jemalloc in Redis returns
// dirty pages after a few idle seconds in the same way. The collection
// runs on this goroutine while no command is being served; the GC's own
// pacing is left alone.
func (s *Server) maybeReleaseMemory(r *releaseState) {
	cmds := s.stats.commands.Load()
	if cmds != r.commands {
		r.commands, r.idle = cmds, 0
		return
	}
	r.idle++
	if r.idle < releaseIdleTicks {
		return
	}
	_, dataset := s.usedMemory()
	if d := dataset - r.dataset; d < releaseMinChange && d > -releaseMinChange {
		return
	}
	r.dataset = dataset
	debug.FreeOSMemory()
}

// checkOOM returns shard.ErrOOM when cmd may grow memory (it is flagged
// denyoom), maxmemory is set, used memory is over it, and eviction cannot
// bring it back under: the policy is noeviction or no key may be evicted.
// Otherwise it first evicts as the policy says, a bounded amount of work
// (Redis's performEvictions). The dispatcher calls it before every data
// command.
func (s *Server) checkOOM(cmd *command) error {
	if !cmd.has(flagDenyOOM) {
		return nil
	}
	return s.checkMemory()
}

// checkOOMQueued is checkOOM for a command being queued by MULTI: there
// Redis refuses every command while memory is over the limit, whatever
// its flags, since the queue itself takes memory (the client then gets
// EXECABORT at EXEC).
func (s *Server) checkOOMQueued() error { return s.checkMemory() }

// checkMemory evicts while used memory is over maxmemory and returns
// shard.ErrOOM if it stays over with nothing left to evict.
func (s *Server) checkMemory() error {
	if s.config().MaxMemory <= 0 {
		return nil
	}
	// Reading the store's size locks every stripe; far under the limit a
	// few checks in a row may skip it.
	if s.mem().fastLeft.Add(-1) >= 0 {
		return nil
	}
	if s.performEvictions() == evictFail {
		return shard.ErrOOM
	}
	return nil
}

// applyMemoryConfig makes a new maxmemory or maxmemory-policy take effect
// at the next check: it drops the checkOOM fast path and, for a new
// policy, the candidates sampled under the old one. CONFIG SET calls it
// (directive apply hook); the background loop evicts down to a lowered
// limit within memoryLoopInterval.
func applyMemoryConfig(s *Server, _ *Config) {
	m := s.mem()
	m.fastLeft.Store(0)
	m.mu.Lock()
	for _, p := range m.pools {
		p.Reset()
	}
	m.mu.Unlock()
}

// performEvictions evicts keys while used memory is over maxmemory, under
// the configured policy, up to maxEvictionsPerCall keys, and reports
// where that left things. Evictions go through the Applier as KindEvict
// ops, so with replication only the leader decides them and every replica
// deletes the same keys. One call runs at a time.
func (s *Server) performEvictions() int {
	cfg := s.config()
	m := s.mem()
	m.mu.Lock()
	defer m.mu.Unlock()
	used, _ := s.usedMemory()
	limit := cfg.MaxMemory
	if limit <= 0 || used <= limit {
		if limit > 0 {
			m.fastLeft.Store(min((limit-used)/fastCheckBytes, maxFastChecks))
		}
		return evictOK
	}
	m.fastLeft.Store(0)
	policy, ok := shard.ParsePolicy(cfg.MaxMemoryPolicy)
	if !ok || policy == shard.NoEviction {
		return evictFail
	}
	if m.pools == nil {
		for range s.units() {
			m.pools = append(m.pools, shard.NewEvictionPool(nil))
		}
	}
	if policy != m.policy {
		for _, p := range m.pools {
			p.Reset()
		}
		m.policy = policy
	}
	now := s.clock.Now().UnixMilli()
	// One view of the groups held for the whole call: a replica taken or
	// dropped meanwhile (moves.go) waits for the next call.
	local := s.local()
	if len(local) == 0 {
		return evictFail // this node holds no data
	}
	for evicted, next, empty := 0, 0, 0; used > limit; next++ {
		if evicted >= maxEvictionsPerCall {
			return evictRunning
		}
		// The groups take turns, so that each gives up keys.
		u := local[next%len(local)]
		keys, found := s.pickVictims(u, m.pools[u.idx], policy, cfg.MaxMemorySamples, now, used-limit)
		if len(keys) == 0 {
			if found {
				return evictRunning
			}
			if empty++; empty >= len(local) {
				return evictFail
			}
			continue
		}
		empty = 0
		op := shard.Op{Kind: shard.KindEvict, Now: now, Args: keys}
		if _, err := u.applier.Apply(s.ctx, &op); err != nil {
			// Not the leader, or shutting down: the command itself
			// will meet the same fate.
			s.log.Debug("eviction failed", "err", err)
			return evictRunning
		}
		evicted += len(keys)
		used, _ = s.usedMemory()
	}
	return evictOK
}

// pickVictims chooses up to evictBatch keys to evict under policy whose
// accounted sizes add up to need bytes, sampling once per key as Redis
// does. found is false when the store has no key the policy may evict.
func (s *Server) pickVictims(u *unit, pool *shard.EvictionPool, policy shard.Policy, samples int, now, need int64) (keys [][]byte, found bool) {
	var freed int64
	for tries := 0; len(keys) < evictBatch && freed < need && tries < 2*evictBatch; tries++ {
		if !u.store.SampleEviction(pool, policy, samples, now) {
			return keys, len(keys) > 0
		}
		k, size, ok := u.store.NextEviction(pool, policy)
		if !ok || containsKey(keys, k) {
			continue
		}
		keys = append(keys, k)
		freed += size
	}
	return keys, true
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if string(x) == string(k) {
			return true
		}
	}
	return false
}

// Garbage collector settings chosen by TuneGC; see its comment for the
// measurements behind them.
const (
	// gcPercent is GOGC: the heap may grow this many percent over the live
	// heap before a collection.
	gcPercent = 40
	// memoryLimitSlack is added to maxmemory (plus an eighth) to make the
	// runtime's soft memory limit.
	memoryLimitSlack = 64 << 20
)

// TuneGC sets the process's garbage collector for a cache: a heap that is
// mostly long-lived data. Go's default (GOGC=100) lets the heap reach
// twice the live data before collecting, so under steady writes RSS heads
// for twice used_memory. TuneGC sets GOGC=gcPercent instead and, when
// maxmemory is set, a soft memory limit (debug.SetMemoryLimit) of
// maxmemory + 1/8 + 64 MiB, so that the collector works harder rather
// than let garbage push the process far past maxmemory. GOGC and
// GOMEMLIMIT in the environment win over both. It changes process-wide
// settings: call it once from main, and again when CONFIG SET changes
// maxmemory.
//
// Measured (1M ten-field session hashes, HSET+EXPIRE pipelined by 4
// go-redis clients, 2 shared cores; redis-server 7.0: used_memory 450 MB,
// RSS 469 MB): used_memory 427 MB whatever the GC setting. RSS after
// one load pass 550-590 MB for GOGC 25 to 100 (about 485 MB once idle:
// see maybeReleaseMemory); after three passes that rewrite every session,
// RSS 885 MB at GOGC=100, 754 MB at 50, 683 MB at 40, 665 MB at 25, with
// GC taking about 9%, 15%, 17% and 23% of the server's CPU. 40 keeps
// steady-state RSS under 1.5x Redis's at a modest GC cost; below it RSS
// gains little (fragmentation and the runtime's free-page reserve
// dominate) while GC cost keeps climbing.
func TuneGC(cfg Config) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := int64(math.MaxInt64) // no limit
		if cfg.MaxMemory > 0 {
			limit = cfg.MaxMemory + cfg.MaxMemory/8 + memoryLimitSlack
		}
		debug.SetMemoryLimit(limit)
	}
}
