package shard

// Kind names an operation. The numbers are persisted in the replication log
// and in snapshots: never renumber a kind and never reuse a retired number.
type Kind uint8

// String operations.
const (
	KindGet         Kind = 1  // Key
	KindSet         Kind = 2  // Key, Args[0]=value; At (0 = no expiry); NX XX GET KEEPTTL
	KindGetEx       Kind = 3  // Key; At (set expiry) or Persist; neither: plain GET
	KindGetDel      Kind = 4  // Key
	KindMGet        Kind = 5  // Args = keys
	KindMSet        Kind = 6  // Args = key, value, key, value...
	KindMSetNX      Kind = 7  // Args = key, value, ...
	KindIncrBy      Kind = 8  // Key, N = delta
	KindIncrByFloat Kind = 9  // Key, F = delta
	KindAppend      Kind = 10 // Key, Args[0]
	KindStrLen      Kind = 11 // Key
	KindGetRange    Kind = 12 // Key, N = start, At = end (inclusive, Redis indexes)
	KindSetRange    Kind = 13 // Key, N = offset, Args[0]
)

// Keyspace operations.
const (
	KindDel       Kind = 20 // Args = keys
	KindExists    Kind = 21 // Args = keys (repeats count twice)
	KindType      Kind = 22 // Key
	KindTouch     Kind = 23 // Args = keys
	KindRename    Kind = 24 // Key -> Args[0]; NX for RENAMENX
	KindExpire    Kind = 25 // Key; At = absolute ms deadline, any int64 (<= Now deletes the key); NX XX GT LT
	KindTTL       Kind = 26 // Key; Millis, Absolute choose TTL/PTTL/EXPIRETIME/PEXPIRETIME
	KindPersist   Kind = 27 // Key
	KindScan      Kind = 28 // N = cursor: the 64-bit key hash to resume at (0 starts and ends); At = count >= 1; Match: Args[0]; TypeFilter: Args[1]
	KindKeys      Kind = 29 // Args[0] = pattern
	KindRandomKey Kind = 30 // N = random seed stamped by the server (keeps Apply deterministic)
	KindDBSize    Kind = 31 //
	KindFlush     Kind = 32 // FLUSHDB / FLUSHALL
)

// Hash operations. Field deadlines follow Redis 7.4/8.0.
const (
	KindHSet         Kind = 50 // Key, Args = field, value...; NX: HSETNX (one pair)
	KindHGet         Kind = 51 // Key, Args[0] = field
	KindHMGet        Kind = 52 // Key, Args = fields
	KindHGetAll      Kind = 53 // Key
	KindHDel         Kind = 54 // Key, Args = fields
	KindHLen         Kind = 55 // Key
	KindHExists      Kind = 56 // Key, Args[0]
	KindHKeys        Kind = 57 // Key
	KindHVals        Kind = 58 // Key
	KindHIncrBy      Kind = 59 // Key, Args[0], N
	KindHIncrByFloat Kind = 60 // Key, Args[0] = field, Args[1] = increment text (exact), F
	KindHStrLen      Kind = 61 // Key, Args[0]
	KindHScan        Kind = 62 // Key, N = cursor, At = count, Match: Args[0]; NoValues
	KindHRandField   Kind = 63 // Key; At = random seed; HasCount: N = count; WithValues
	KindHExpire      Kind = 64 // Key, At, Args = fields; NX XX GT LT
	KindHTTL         Kind = 65 // Key, Args = fields; Millis, Absolute
	KindHPersist     Kind = 66 // Key, Args = fields
	KindHGetEx       Kind = 67 // Key, Args = fields; SetExpiry: At, or Persist
	KindHSetEx       Kind = 68 // Key, Args = field, value...; SetExpiry: At, or KeepTTL; FNX FXX
	KindHGetDel      Kind = 69 // Key, Args = fields
)

// Transactions and housekeeping.
const (
	KindMulti Kind = 100 // Subs run atomically if every Watch still holds
	KindReap  Kind = 101 // Args = keys: delete those (and hash fields) due at Now
	KindEvict Kind = 102 // Args = keys: delete them to free memory
)

// Flags modify an op. Like Kind, the bit positions are persisted.
type Flags uint32

// Op flags.
const (
	NX         Flags = 1 << 0  // only if absent (SET NX, EXPIRE NX, HSETNX, RENAMENX)
	XX         Flags = 1 << 1  // only if present
	GT         Flags = 1 << 2  // EXPIRE GT
	LT         Flags = 1 << 3  // EXPIRE LT
	KeepTTL    Flags = 1 << 4  // SET KEEPTTL, HSETEX KEEPTTL
	Get        Flags = 1 << 5  // SET ... GET: reply with the old value
	Persist    Flags = 1 << 6  // GETEX/HGETEX PERSIST
	Millis     Flags = 1 << 7  // TTL family: answer in milliseconds
	Absolute   Flags = 1 << 8  // TTL family: answer a Unix time
	WithValues Flags = 1 << 9  // HRANDFIELD ... WITHVALUES
	HasCount   Flags = 1 << 10 // HRANDFIELD with a count
	FNX        Flags = 1 << 11 // HSETEX FNX
	FXX        Flags = 1 << 12 // HSETEX FXX
	Match      Flags = 1 << 13 // SCAN/HSCAN MATCH pattern in Args[0]
	TypeFilter Flags = 1 << 14 // SCAN TYPE in Args[1]
	NoValues   Flags = 1 << 15 // HSCAN NOVALUES
	SetExpiry  Flags = 1 << 16 // GETEX/HGETEX: At holds a new deadline
	NoTouch    Flags = 1 << 17 // a read that leaves the access clock alone (CLIENT NO-TOUCH); never encoded
	// FastSample: SPOP with a count draws its members in O(count)
	// (randomRanks) instead of walking the whole set (pickDistinct),
	// which picks other members for the same seed. An op carrying it is
	// encoded as version 3, which nodes that predate it refuse instead
	// of popping other members than their peers.
	FastSample Flags = 1 << 18
)

// Op is one typed operation. Relative times are already absolute: the
// leader's server stamps Now and turns EX/PX/EXPIRE into At, exactly as
// Redis turns EXPIRE into PEXPIREAT when it replicates.
//
// Key and Args may alias a connection's read buffer: Apply and Read copy
// whatever they keep, and the caller must not change them while an Apply
// is running.
type Op struct {
	Kind  Kind
	Flags Flags
	Now   int64   // leader's clock, Unix ms
	At    int64   // an absolute deadline in Unix ms, or a second integer operand
	N     int64   // integer operand: delta, offset, count, cursor
	F     float64 // float operand
	Key   []byte
	Args  [][]byte
	Subs  []Op    // KindMulti: the queued ops, in order
	Watch []Watch // KindMulti: keys that must be unchanged since WATCH

	// Size limits the leader stamps from its configuration when it
	// builds a write, so that Apply reads no per-node setting and
	// replicas configured differently still apply the log alike. Zero
	// (or less) means Redis's default, never the store's configuration.
	Limit       int64 // APPEND, SETRANGE: longest string the write may build (proto-max-bulk-len; default 512 MiB)
	HashEntries int32 // hash writes: most fields a packed hash may hold (hash-max-listpack-entries; default 128)
	HashValue   int32 // hash writes: longest field or value a packed hash may hold (hash-max-listpack-value; default 64)

	// Scratch, when not nil, is where a read that returns a list (MGET,
	// HMGET, HGETALL, HKEYS, HVALS) appends its values instead of
	// allocating: the Result's Vals may then alias it, so the caller must
	// be done with the Result before reusing Scratch. It is never encoded.
	Scratch []Val
}

// Has reports whether all of fl are set.
func (o *Op) Has(fl Flags) bool { return o.Flags&fl == fl }

// Redis's defaults for the limits an op carries.
const (
	defaultMaxBulkLen  = 512 << 20 // proto-max-bulk-len
	defaultHashEntries = 128       // hash-max-listpack-entries
	defaultHashValue   = 64        // hash-max-listpack-value
)

// maxBulkLen is the longest string the op may build: Limit, or Redis's
// default when the op carries none.
func (o *Op) maxBulkLen() int64 {
	if o.Limit <= 0 {
		return defaultMaxBulkLen
	}
	return o.Limit
}

// hashLimits are the packed-hash thresholds the op carries, or Redis's
// defaults for those it does not.
func (o *Op) hashLimits() (entries, value int) {
	entries, value = int(o.HashEntries), int(o.HashValue)
	if entries <= 0 {
		entries = defaultHashEntries
	}
	if value <= 0 {
		value = defaultHashValue
	}
	return entries, value
}

// Watch records what a WATCHed key looked like when it was watched.
// Version is the key's version (0 when absent); Seq is the store's
// sequence number then, which tells whether a key absent then and now was
// created and deleted in between.
type Watch struct {
	Key     []byte
	Version uint64
	Seq     uint64
	Expired bool // the key was already logically expired when watched
}

// IsWrite reports whether k changes state and so must go through the
// replication log. Read-only kinds are answered by Store.Read.
func (k Kind) IsWrite() bool {
	switch k {
	case KindGet, KindMGet, KindStrLen, KindGetRange,
		KindExists, KindType, KindTTL, KindScan, KindKeys, KindRandomKey, KindDBSize,
		KindHGet, KindHMGet, KindHGetAll, KindHLen, KindHExists, KindHKeys, KindHVals,
		KindHStrLen, KindHScan, KindHRandField, KindHTTL:
		return false
	case KindGetEx:
		return true // GETEX without options is still a write in Redis's table
	}
	return !extIsRead(k)
}
