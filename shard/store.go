package shard

import (
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"sessiond/ttl"
)

// Type is the type of a key's value, as TYPE and SCAN TYPE name it. The
// numbers are persisted in snapshots.
type Type uint8

// Value types.
const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeHash   Type = 2
	TypeList   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
)

// String returns the name TYPE replies with.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return "none"
}

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// Stripes is the number of independently locked partitions of the
	// keyspace, a power of two. Default 256.
	Stripes int
	// Clock is read by Read for lazy expiry and by the access clock
	// (LRU). Apply never reads it. Default ttl.SystemClock.
	Clock ttl.Clock
	// There are no size limits here: a write carries them (Op.Limit,
	// Op.HashEntries, Op.HashValue), so that Apply reads no per-node
	// setting.
}

// entry is one key's value. Entries are stored by value in the stripe map
// and values are immutable: a write installs a new entry, so a string
// handed out in a Result stays valid.
type entry struct {
	s   string // string value, or the packed encoding of a small hash
	big *large // non-nil for a value too large to pack
	exp int64  // absolute deadline, Unix ms; 0 means none
	ver uint64 // store sequence number of the last write (for WATCH)
	lru uint32 // access clock: last access second and LFU counter (evict.go)
	typ Type
	// enc: how Redis would have encoded this string where its content
	// alone does not say (OBJECT ENCODING). Not in snapshots: Redis too
	// encodes a string afresh when it loads it.
	enc strEnc
}

// strEnc records how a string value was made, for OBJECT ENCODING.
type strEnc uint8

const (
	// encByContent: int, embstr or raw by content and length (SET, INCR...).
	encByContent strEnc = iota
	// encRaw: changed in place (APPEND or SETRANGE of an existing value),
	// which Redis keeps in its raw encoding whatever its content.
	encRaw
	// encFloat: made from a long double (INCRBYFLOAT), which Redis never
	// encodes as an integer: embstr or raw by length.
	encFloat
)

// large holds values kept in Go maps instead of a packed string. For a
// hash, the map (and the deadline heap) is shared by the successive
// headers a key's writes install and is changed in place; the header
// carries what put and fieldDeadline read. See hash_big.go.
type large struct {
	hash   map[string]hfield
	ttl    []hexp    // min-heap of field deadlines; may hold stale entries
	nexp   int       // fields with a deadline
	fbytes int64     // accounted bytes of the fields, kept by every change
	bytes  int64     // size() of this header: fbytes plus the heap
	minExp int64     // earliest field deadline, 0 if none (exact)
	order  *keyOrder // fields by xxhash, built by the first read that needs it
	frozen bool      // shared with a reader outside the lock: copy before writing

	// coll is a list's, set's or sorted set's value (ext.go); the hash
	// fields above are then unused.
	coll collection
}

// hfield is one field of a large hash.
type hfield struct {
	v   string
	exp int64 // absolute deadline, Unix ms; 0 means none
}

// stripe is one locked partition of the keyspace.
type stripe struct {
	mu       sync.Mutex
	m        map[string]entry
	keyTTL   *ttl.Index // keys with a deadline, at that deadline
	fieldTTL *ttl.Index // hashes with field deadlines, at their earliest one
	delVer   uint64     // highest version of a key removed from this stripe (WATCH)
	mem      int64      // accounted bytes (see cost)
}

// Store is the in-memory keyspace. All methods are safe for concurrent use.
type Store struct {
	cfg      Config
	shift    uint // 64 - log2(len(stripes)): a key's stripe is hash >> shift
	stripes  []stripe
	seq      atomic.Uint64 // versions handed to writes
	lastNow  atomic.Int64  // highest Op.Now applied: time never goes back
	warmed   atomic.Int64  // keys Prefetch and Warm found (keeps their lookups observable)
	warmFold atomic.Int64  // bytes Warm read from values, folded (keeps those reads)
	// warmedMembers: members and fields WarmMembers found.
	warmedMembers atomic.Int64
	events        atomic.Bool  // report keyspace events (EnableEvents)
	sink          func(Event)  // where events go (SetEventSink)
	scripts       ScriptEngine // runs scripts inside Apply (SetScripts)
	stats         Stats
}

// Stats are counters the server reports in INFO. All fields are updated
// atomically.
type Stats struct {
	ExpiredKeys   atomic.Int64
	ExpiredFields atomic.Int64
	EvictedKeys   atomic.Int64
	Hits          atomic.Int64
	Misses        atomic.Int64
	// ScriptReruns counts the scripts run a second time holding every
	// stripe, because a stripe they named could not be taken in order.
	ScriptReruns atomic.Int64
}

// New returns an empty Store.
func New(cfg Config) *Store {
	if cfg.Stripes <= 0 || cfg.Stripes&(cfg.Stripes-1) != 0 {
		cfg.Stripes = 256
	}
	if cfg.Clock == nil {
		cfg.Clock = ttl.SystemClock{}
	}
	s := &Store{cfg: cfg, stripes: make([]stripe, cfg.Stripes)}
	s.shift = uint(64 - bits.TrailingZeros(uint(cfg.Stripes)))
	for i := range s.stripes {
		s.stripes[i].m = make(map[string]entry)
		s.stripes[i].keyTTL = ttl.NewIndex()
		s.stripes[i].fieldTTL = ttl.NewIndex()
	}
	return s
}

// LastNow returns the highest Op.Now applied so far (Unix ms): the store
// judges expiry at no earlier time than this.
func (s *Store) LastNow() int64 { return s.lastNow.Load() }

// Stats returns the store's counters.
func (s *Store) Stats() *Stats { return &s.stats }

// hashKey is the 64-bit hash that picks a key's stripe and orders SCAN.
func hashKey(key []byte) uint64 { return xxhash.Sum64(key) }

func (s *Store) stripeOf(key []byte) int {
	if s.shift == 64 {
		return 0
	}
	return int(hashKey(key) >> s.shift)
}

// Apply executes op, which may change state, and returns its result. It is
// deterministic: see the package comment.
func (s *Store) Apply(op *Op) Result {
	now := op.Now
	for {
		last := s.lastNow.Load()
		if now <= last {
			now = last
			break
		}
		if s.lastNow.CompareAndSwap(last, now) {
			break
		}
	}
	var t txn
	s.begin(&t, op, now)
	defer t.end()
	t.ver = s.seq.Add(1)
	return t.exec(op)
}

// Read executes a read-only op against local state. Expiry is judged at
// op.Now when the caller stamped it, else at the store's clock; either is
// raised to the highest time already applied. Write kinds are refused with
// ErrUnknownOp.
func (s *Store) Read(op *Op) Result {
	if op.Kind.IsWrite() {
		return Err(ErrUnknownOp)
	}
	var t txn
	s.beginRead(&t, op)
	defer t.end()
	t.noTouch = op.Has(NoTouch)
	return t.exec(op)
}

// beginRead begins t as a read of op's keys: at op.Now when the caller
// stamped it, else at the store's clock, either raised to the highest
// time already applied.
func (s *Store) beginRead(t *txn, op *Op) {
	now := op.Now
	if now == 0 {
		now = s.cfg.Clock.Now().UnixMilli()
	}
	if last := s.lastNow.Load(); last > now {
		now = last
	}
	s.begin(t, op, now)
	t.read = true
}

// txn is one op's view of the store while it holds its stripes' locks.
// It lives on the caller's stack: begin fills it in, end releases it.
type txn struct {
	s       *Store
	now     int64
	ver     uint64
	read    bool
	noTouch bool   // a read that leaves the access clock alone (CLIENT NO-TOUCH)
	all     bool   // every stripe is locked
	one     int    // the stripe locked, when exactly one is (n == 1)
	n       int    // stripes locked by begin, 0 when all or none
	few     [8]int // the stripes locked, ascending, when 1 < n <= 8
	many    []int  // the stripes locked, ascending, when n > 8
	// evbuf, when set, collects the keyspace events instead of reporting
	// them: a script taking its stripes as it goes reports its events only
	// once it has run to the end (execScript).
	evbuf *[]Event
	// nonBlocking: the op runs inside MULTI or a script, where a
	// blocking list command that finds nothing answers nil, as in Redis,
	// instead of ErrListBlocking (blockingEmpty).
	nonBlocking bool
}

// collect appends the stripe of every key op touches to idx (without a
// closure, so that multi-key reads do not allocate).
func (t *txn) collect(op *Op, idx []int) []int {
	s := t.s
	switch op.Kind {
	case KindMGet, KindDel, KindExists, KindTouch, KindReap, KindEvict:
		for _, k := range op.Args {
			idx = append(idx, s.stripeOf(k))
		}
	case KindMSet, KindMSetNX:
		for i := 0; i < len(op.Args); i += 2 {
			idx = append(idx, s.stripeOf(op.Args[i]))
		}
	case KindRename:
		idx = append(idx, s.stripeOf(op.Key), s.stripeOf(op.Args[0]))
	case KindMulti:
		for i := range op.Watch {
			idx = append(idx, s.stripeOf(op.Watch[i].Key))
		}
		for i := range op.Subs {
			idx = t.collect(&op.Subs[i], idx)
		}
	case KindScan, KindKeys, KindRandomKey, KindDBSize, KindFlush:
	default:
		if keys, ok := extMultiKeys(op); ok {
			for _, k := range keys {
				idx = append(idx, s.stripeOf(k))
			}
			break
		}
		idx = append(idx, s.stripeOf(op.Key))
	}
	return idx
}

// begin locks the stripes op needs. Kinds that walk the whole keyspace
// (SCAN, KEYS, DBSIZE, RANDOMKEY) lock stripe by stripe themselves unless
// they run inside a MULTI, which locks everything.
func (s *Store) begin(t *txn, op *Op, now int64) {
	t.s, t.now = s, now
	if needsAll(op) {
		t.all = true
		for i := range s.stripes {
			s.stripes[i].mu.Lock()
		}
		return
	}
	if singleKey(op) {
		t.one, t.n = s.stripeOf(op.Key), 1
		s.stripes[t.one].mu.Lock()
		return
	}
	var buf [8]int
	idx := t.collect(op, buf[:0])
	if len(idx) > 1 {
		sort.Ints(idx)
		out := idx[:1]
		for _, v := range idx[1:] {
			if v != out[len(out)-1] {
				out = append(out, v)
			}
		}
		idx = out
	}
	switch {
	case len(idx) == 0:
	case len(idx) == 1:
		t.one, t.n = idx[0], 1
		s.stripes[t.one].mu.Lock()
	default:
		// Copied, not kept: a slice of buf stored in t would move both
		// to the heap on every op.
		t.n = len(idx)
		if t.n <= len(t.few) {
			copy(t.few[:], idx)
		} else {
			t.many = append([]int(nil), idx...)
		}
		for _, i := range t.locked() {
			s.stripes[i].mu.Lock()
		}
	}
}

// locked returns the stripes begin locked when there are several.
func (t *txn) locked() []int {
	if t.n <= len(t.few) {
		return t.few[:t.n]
	}
	return t.many
}

func (t *txn) end() {
	switch {
	case t.all:
		for i := range t.s.stripes {
			t.s.stripes[i].mu.Unlock()
		}
	case t.n == 1:
		t.s.stripes[t.one].mu.Unlock()
	case t.n > 1:
		for _, i := range t.locked() {
			t.s.stripes[i].mu.Unlock()
		}
	}
}

// needsAll reports whether op must hold every stripe at once.
func needsAll(op *Op) bool {
	switch op.Kind {
	case KindFlush:
		return true
	case KindMulti:
		for i := range op.Subs {
			switch op.Subs[i].Kind {
			case KindFlush, KindScan, KindKeys, KindRandomKey, KindDBSize,
				// A script in a MULTI cannot take more stripes as it goes
				// (execScript): the MULTI's earlier writes would be lost
				// to a rerun.
				KindEval, KindEvalRO:
				return true
			}
			if extNeedsAll(&op.Subs[i]) {
				return true
			}
		}
	}
	return extNeedsAll(op)
}

// singleKey reports whether op touches exactly op.Key (collect's
// default case).
func singleKey(op *Op) bool {
	switch op.Kind {
	case KindMGet, KindDel, KindExists, KindTouch, KindReap, KindEvict,
		KindMSet, KindMSetNX, KindRename, KindMulti,
		KindScan, KindKeys, KindRandomKey, KindDBSize, KindFlush:
		return false
	}
	_, multi := extMultiKeys(op)
	return !multi
}

// stripe returns the (locked) stripe that holds key.
//
// When begin locked exactly one stripe, every key the op may touch lives
// in it (touching an unlocked stripe would be a bug), so the key is not
// hashed again: single-key ops hash their key once.
func (t *txn) stripe(key []byte) *stripe {
	if t.n == 1 && !t.all {
		return &t.s.stripes[t.one]
	}
	return &t.s.stripes[t.s.stripeOf(key)]
}

// expired reports whether a deadline (0 = none) has passed at now. Like
// Redis's keyIsExpired (now > when), a key is still there during its
// deadline's own millisecond, when PTTL answers 0. Commands that set a
// deadline already reached (EXPIRE, SET PXAT) delete at once instead, as
// Redis's checkAlreadyExpired does.
func expired(exp, now int64) bool { return exp != 0 && exp < now }

// lookup returns key's live entry. An entry whose deadline has passed at
// t.now is reported absent, though it stays in memory until reaped or
// overwritten.
func (t *txn) lookup(key []byte) (entry, bool) {
	st := t.stripe(key)
	e, ok := st.m[string(key)]
	if !ok || expired(e.exp, t.now) {
		return entry{}, false
	}
	if e.typ == TypeHash {
		// A hash whose every field is due is gone, though its reap has
		// not been applied yet.
		if fe := fieldDeadline(e); expired(fe, t.now) && hashLen(e, t.now) == 0 {
			return entry{}, false
		}
	}
	return e, true
}

// put installs e as key's value: it stamps the version, moves the key in
// the deadline index and keeps the memory account.
func (t *txn) put(key []byte, e entry) {
	st := t.stripe(key)
	old, had := st.m[string(key)]
	if e.big != nil && e.big.coll != nil {
		// The collection may have changed in place since old's header
		// was installed: this header records its size now.
		e.big.bytes = e.big.coll.size()
	}
	if !had {
		t.event(EventNew, "new", key)
	}
	e.ver = t.ver
	if e.lru == 0 || e.lru == old.lru {
		e.lru = writeClock(old.lru, t.now, key)
	}
	k := string(key)
	st.m[k] = e
	var oldField int64
	if had {
		st.mem -= cost(len(key), old)
		oldField = fieldDeadline(old)
	}
	if old.exp != e.exp {
		st.keyTTL.Move(k, old.exp, e.exp)
	}
	if newField := fieldDeadline(e); newField != oldField {
		st.fieldTTL.Move(k, oldField, newField)
	}
	st.mem += cost(len(key), e)
}

// del removes key, live or expired, and reports whether it was there
// and live.
func (t *txn) del(key []byte) bool {
	st := t.stripe(key)
	old, had := st.m[string(key)]
	if !had {
		return false
	}
	t.remove(st, string(key), old)
	return !expired(old.exp, t.now)
}

// remove deletes k, whose current entry is old, from st.
func (t *txn) remove(st *stripe, k string, old entry) {
	delete(st.m, k)
	if old.ver > st.delVer {
		st.delVer = old.ver
	}
	st.mem -= cost(len(k), old)
	if old.exp != 0 {
		st.keyTTL.Remove(k, old.exp)
	}
	if fe := fieldDeadline(old); fe != 0 {
		st.fieldTTL.Remove(k, fe)
	}
}

// entryOverhead is what a key costs in its stripe's map: one slot (string
// header, entry, control byte) divided by the map's load factor. A Go map
// holds between 7/16 and 7/8 of its slots and never shrinks, and its big
// tables are rounded up to whole pages, so the measured cost per key
// swings between about 1.6 and 2.3 slots with the key count; 2 slots is
// the middle. Calibrated against the heap by TestCostTracksHeap.
const entryOverhead = 2 * mapSlotSize

// cost is the accounted size of one key: what it adds to the live heap.
// Its key and value strings count at their allocation size (Go's size
// classes), plus its map slot, plus a slot in a deadline index for a key
// or hash-field deadline, plus a big value's own accounting.
func cost(keyLen int, e entry) int64 {
	n := allocSize(keyLen) + allocSize(len(e.s)) + entryOverhead
	if e.exp != 0 {
		n += deadlineOverhead
	}
	if e.typ == TypeHash && fieldDeadline(e) != 0 {
		n += deadlineOverhead
	}
	if e.big != nil {
		n += e.big.size()
	}
	return n
}

// UsedBytes returns the accounted size of the dataset.
func (s *Store) UsedBytes() int64 {
	var n int64
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		n += st.mem
		st.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held, including expired keys not yet
// reclaimed, and how many of them have a deadline.
func (s *Store) Len() (keys, volatile int) {
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu.Lock()
		keys += len(st.m)
		volatile += st.keyTTL.Len()
		st.mu.Unlock()
	}
	return keys, volatile
}

// exec dispatches op to the method for its kind. The stripes op needs are
// locked.
func (t *txn) exec(op *Op) Result {
	switch op.Kind {
	case KindGet:
		return t.get(op)
	case KindSet:
		return t.set(op)
	case KindGetEx:
		return t.getEx(op)
	case KindGetDel:
		return t.getDel(op)
	case KindMGet:
		return t.mget(op)
	case KindMSet:
		return t.mset(op)
	case KindMSetNX:
		return t.msetNX(op)
	case KindIncrBy:
		return t.incrBy(op)
	case KindIncrByFloat:
		return t.incrByFloat(op)
	case KindAppend:
		return t.append(op)
	case KindStrLen:
		return t.strLen(op)
	case KindGetRange:
		return t.getRange(op)
	case KindSetRange:
		return t.setRange(op)

	case KindDel:
		return t.delKeys(op)
	case KindExists:
		return t.exists(op)
	case KindType:
		return t.typeOf(op)
	case KindTouch:
		return t.touch(op)
	case KindRename:
		return t.rename(op)
	case KindExpire:
		return t.expire(op)
	case KindTTL:
		return t.ttl(op)
	case KindPersist:
		return t.persist(op)
	case KindScan:
		return t.scan(op)
	case KindKeys:
		return t.keys(op)
	case KindRandomKey:
		return t.randomKey(op)
	case KindDBSize:
		return t.dbSize(op)
	case KindFlush:
		return t.flush(op)

	case KindHSet:
		return t.hset(op)
	case KindHGet:
		return t.hget(op)
	case KindHMGet:
		return t.hmget(op)
	case KindHGetAll:
		return t.hgetAll(op)
	case KindHDel:
		return t.hdel(op)
	case KindHLen:
		return t.hlen(op)
	case KindHExists:
		return t.hexists(op)
	case KindHKeys:
		return t.hkeys(op)
	case KindHVals:
		return t.hvals(op)
	case KindHIncrBy:
		return t.hincrBy(op)
	case KindHIncrByFloat:
		return t.hincrByFloat(op)
	case KindHStrLen:
		return t.hstrLen(op)
	case KindHScan:
		return t.hscan(op)
	case KindHRandField:
		return t.hrandField(op)
	case KindHExpire:
		return t.hexpire(op)
	case KindHTTL:
		return t.httl(op)
	case KindHPersist:
		return t.hpersist(op)
	case KindHGetEx:
		return t.hgetEx(op)
	case KindHSetEx:
		return t.hsetEx(op)
	case KindHGetDel:
		return t.hgetDel(op)

	case KindMulti:
		return t.multi(op)
	case KindReap:
		return t.reap(op)
	case KindEvict:
		return t.evict(op)
	}
	return t.execExt(op)
}
