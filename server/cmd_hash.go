package server

import (
	"errors"
	"math"

	"sessiond/shard"
)

// Hash commands. Field expiry (HEXPIRE ... HGETDEL) follows Redis 8.0;
// the rest Redis 7.0.

// Hash command errors, in Redis's words.
var (
	errHashFieldsMissing   = errors.New("ERR Mandatory argument FIELDS is missing or not at the right position")
	errHashNumFields       = errors.New("ERR Number of fields must be a positive integer")
	errHashExpireNumFields = errors.New("ERR Parameter `numFields` should be greater than 0")
	errHashNumFieldsMatch  = errors.New("ERR The `numfields` parameter must match the number of arguments")
	errHashExpireNegative  = errors.New("ERR invalid expire time, must be >= 0")
	errHashSetExNumFields  = errors.New("ERR invalid number of fields")
	errHashMissingExpire   = errors.New("ERR missing expire time")
	errHashOneCondition    = errors.New("ERR Only one of FXX or FNX arguments can be specified")
	errHashOneExpiry       = errors.New("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
	errHashIncrNaN         = errors.New("ERR value is NaN or Infinity")
	errHashOutOfRange      = errors.New("ERR value is out of range")
	errHashCountRange      = errors.New("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
)

// hashMaxAbsTime is the latest field deadline Redis accepts, in Unix ms
// (HFE_MAX_ABS_TIME_MSEC: 48 bits less the 2 it keeps in reserve).
const hashMaxAbsTime = (1<<48 - 1) >> 2

// hrandMaxCount bounds HRANDFIELD's negative count (fields that may
// repeat). Redis has no bound and builds the reply until it runs out of
// memory; sessiond answers "value is out of range" instead.
const hrandMaxCount = 1 << 23

// hashArgErr is the answer to a hash command whose arguments are wrong
// when Redis looks the key up first: WRONGTYPE if the key holds another
// type, else err.
func (c *client) hashArgErr(key []byte, err error) error {
	c.settle() // the key's type may be changing in this connection's in-flight writes
	u := c.s.unitOfKey(key)
	if u.remote {
		return err // parsed on the way to the group's leader, which looks
	}
	r := u.store.Read(&shard.Op{Kind: shard.KindHLen, Key: key})
	if r.Kind == shard.RErr {
		return r.Err
	}
	return err
}

// withHashLimits stamps the current hash-max-listpack-entries and -value
// into op, a write that may set field values: the leader's settings then
// decide the encoding on every replica.
func withHashLimits(c *client, op shard.Op) shard.Op {
	cfg := c.s.config()
	op.HashEntries = int32(min(cfg.HashMaxListpackEntries, math.MaxInt32))
	op.HashValue = int32(min(cfg.HashMaxListpackValue, math.MaxInt32))
	return op
}

func parseHSet(c *client, args [][]byte, _ int64) (shard.Op, error) {
	if len(args)%2 != 0 {
		return shard.Op{}, errWrongArgs("hset")
	}
	return withHashLimits(c, shard.Op{Kind: shard.KindHSet, Key: args[1], Args: args[2:]}), nil
}

func parseHMSet(c *client, args [][]byte, _ int64) (shard.Op, error) {
	if len(args)%2 != 0 {
		return shard.Op{}, errWrongArgs("hmset")
	}
	return withHashLimits(c, shard.Op{Kind: shard.KindHSet, Key: args[1], Args: args[2:]}), nil
}

func parseHSetNX(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return withHashLimits(c, shard.Op{Kind: shard.KindHSet, Flags: shard.NX, Key: args[1], Args: args[2:4]}), nil
}

// hashKeyArgs builds an op on key args[1] with arguments args[from:].
func hashKeyArgs(kind shard.Kind, args [][]byte, from int) shard.Op {
	return shard.Op{Kind: kind, Key: args[1], Args: args[from:]}
}

func parseHGet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return hashKeyArgs(shard.KindHGet, args, 2), nil
}

func parseHMGet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return hashKeyArgs(shard.KindHMGet, args, 2), nil
}

func parseHGetAll(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindHGetAll, args), nil
}

func parseHDel(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return hashKeyArgs(shard.KindHDel, args, 2), nil
}

func parseHLen(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindHLen, args), nil
}

func parseHExists(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return hashKeyArgs(shard.KindHExists, args, 2), nil
}

func parseHKeys(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindHKeys, args), nil
}

func parseHVals(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindHVals, args), nil
}

func parseHStrLen(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return hashKeyArgs(shard.KindHStrLen, args, 2), nil
}

func parseHIncrBy(c *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := argInt(args[3])
	if err != nil {
		return shard.Op{}, err
	}
	return withHashLimits(c, shard.Op{Kind: shard.KindHIncrBy, Key: args[1], Args: args[2:3], N: n}), nil
}

// parseHIncrByFloat keeps the increment's text in Args[1] (the store
// adds in long double precision, as Redis does); F is its float64
// rounding.
func parseHIncrByFloat(c *client, args [][]byte, _ int64) (shard.Op, error) {
	x, ok := shard.ParseLongDouble(args[3])
	if !ok {
		return shard.Op{}, errNotFloat
	}
	if x.IsInf() {
		return shard.Op{}, errHashIncrNaN
	}
	f, _ := argFloat(args[3])
	return withHashLimits(c, shard.Op{Kind: shard.KindHIncrByFloat, Key: args[1], Args: args[2:4], F: f}), nil
}

// parseHScan parses HSCAN key cursor [MATCH pattern] [COUNT count]
// [NOVALUES] (see parseCollectionScan).
func parseHScan(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseCollectionScan(c, args, shard.KindHScan, shard.KindHLen, true)
}

// parseCollectionScan parses HSCAN, SSCAN and ZSCAN: key cursor [MATCH
// pattern] [COUNT count], and NOVALUES when noValues, into a kind op.
// Redis reads the options only once it has found the key: a missing key
// answers an empty scan whatever they say, and a key of another type
// WRONGTYPE; lenKind (HLEN, SCARD, ZCARD) looks it up.
func parseCollectionScan(c *client, args [][]byte, kind, lenKind shard.Kind, noValues bool) (shard.Op, error) {
	cursor, ok := parseCursor(args[2])
	if !ok {
		return shard.Op{}, errInvalidCursor
	}
	op := shard.Op{Kind: kind, Key: args[1], N: int64(cursor)}
	optErr := func(err error) (shard.Op, error) {
		c.settle() // the key may be changing in this connection's in-flight writes
		u := c.s.unitOfKey(args[1])
		if u.remote {
			return shard.Op{}, err // parsed again at the group's leader, which looks
		}
		r := u.store.Read(&shard.Op{Kind: lenKind, Key: args[1]})
		switch {
		case r.Kind == shard.RErr:
			return shard.Op{}, r.Err
		case r.Int == 0:
			return shard.Op{Kind: kind, Key: args[1]}, nil
		}
		return shard.Op{}, err
	}
	for i := 3; i < len(args); {
		more := len(args) - i - 1
		switch {
		case eq(args[i], "count") && more >= 1:
			n, err := argInt(args[i+1])
			if err != nil {
				return optErr(err)
			}
			if n < 1 {
				return optErr(errSyntax)
			}
			op.At = n
			i += 2
		case eq(args[i], "match") && more >= 1:
			op.Flags |= shard.Match
			op.Args = args[i+1 : i+2]
			i += 2
		case noValues && eq(args[i], "novalues"):
			op.Flags |= shard.NoValues
			i++
		default:
			return optErr(errSyntax)
		}
	}
	return op, nil
}

// parseHRandField parses HRANDFIELD key [count [WITHVALUES]] and stamps a
// random seed into At, so that applying the op is deterministic.
func parseHRandField(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseRandCount(c, shard.KindHRandField, args, "withvalues")
}

// parseRandCount parses HRANDFIELD and ZRANDMEMBER: key [count [word]],
// where word (WITHVALUES, WITHSCORES) sets WithValues, as Redis checks
// them: the count's range, then the word, then a count too large to
// double.
func parseRandCount(c *client, kind shard.Kind, args [][]byte, word string) (shard.Op, error) {
	op := shard.Op{Kind: kind, Key: args[1], At: int64(c.rand() | 1)}
	if len(args) < 3 {
		return op, nil
	}
	n, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	if n == math.MinInt64 {
		return shard.Op{}, errHashCountRange
	}
	switch {
	case len(args) > 4 || (len(args) == 4 && !eq(args[3], word)):
		return shard.Op{}, errSyntax
	case len(args) == 4:
		if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
			return shard.Op{}, errHashOutOfRange
		}
		op.Flags |= shard.WithValues
	}
	if n < -hrandMaxCount {
		return shard.Op{}, errHashOutOfRange
	}
	op.Flags |= shard.HasCount
	op.N = n
	return op, nil
}

// hashExpireTime reads a field expiry argument as Redis's
// parseExpireTime: an integer >= 0, in seconds unless millis, added to
// base (now for a relative time, 0 for a Unix time), at most
// hashMaxAbsTime.
func hashExpireTime(arg []byte, millis bool, base int64, cmd string) (int64, error) {
	v, err := argInt(arg)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, errHashExpireNegative
	}
	if !millis {
		if v > hashMaxAbsTime/1000 {
			return 0, errInvalidExpire(cmd)
		}
		v *= 1000
	}
	if v > hashMaxAbsTime-base {
		return 0, errInvalidExpire(cmd)
	}
	return v + base, nil
}

// hashFields checks "FIELDS numfields field..." starting at args[at]
// (the FIELDS token) and returns the fields. numErr is the command's
// error for a numfields that is not a positive integer.
func hashFields(args [][]byte, at int, numErr error) ([][]byte, error) {
	if at >= len(args) || !eq(args[at], "fields") {
		return nil, errHashFieldsMissing
	}
	if at+1 >= len(args) {
		return nil, errHashNumFieldsMatch
	}
	n, ok := shard.ParseInt(args[at+1])
	if !ok || n < 1 {
		return nil, numErr
	}
	if n != int64(len(args)-at-2) {
		return nil, errHashNumFieldsMatch
	}
	return args[at+2:], nil
}

// parseHExpireFamily parses H[P]EXPIRE[AT] key time [NX|XX|GT|LT] FIELDS
// numfields field... millis and absolute say how time is read.
func parseHExpireFamily(c *client, args [][]byte, now int64, millis, absolute bool, cmd string) (shard.Op, error) {
	base := now
	if absolute {
		base = 0
	}
	at, err := hashExpireTime(args[2], millis, base, cmd)
	if err != nil {
		return shard.Op{}, c.hashArgErr(args[1], err)
	}
	op := shard.Op{Kind: shard.KindHExpire, Key: args[1], At: at}
	fieldsAt := 3
	for _, cond := range []struct {
		name string
		flag shard.Flags
	}{{"nx", shard.NX}, {"xx", shard.XX}, {"gt", shard.GT}, {"lt", shard.LT}} {
		if eq(args[3], cond.name) {
			op.Flags |= cond.flag
			fieldsAt = 4
			break
		}
	}
	op.Args, err = hashFields(args, fieldsAt, errHashExpireNumFields)
	if err != nil {
		return shard.Op{}, c.hashArgErr(args[1], err)
	}
	return op, nil
}

func parseHExpire(c *client, args [][]byte, now int64) (shard.Op, error) {
	return parseHExpireFamily(c, args, now, false, false, "hexpire")
}

func parseHPExpire(c *client, args [][]byte, now int64) (shard.Op, error) {
	return parseHExpireFamily(c, args, now, true, false, "hpexpire")
}

func parseHExpireAt(c *client, args [][]byte, now int64) (shard.Op, error) {
	return parseHExpireFamily(c, args, now, false, true, "hexpireat")
}

func parseHPExpireAt(c *client, args [][]byte, now int64) (shard.Op, error) {
	return parseHExpireFamily(c, args, now, true, true, "hpexpireat")
}

// parseHashFieldsCmd parses "cmd key FIELDS numfields field..." into an
// op of kind with flags fl.
func parseHashFieldsCmd(c *client, args [][]byte, kind shard.Kind, fl shard.Flags) (shard.Op, error) {
	fields, err := hashFields(args, 2, errHashNumFields)
	if err != nil {
		return shard.Op{}, c.hashArgErr(args[1], err)
	}
	return shard.Op{Kind: kind, Flags: fl, Key: args[1], Args: fields}, nil
}

func parseHTTL(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHTTL, 0)
}

func parseHPTTL(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHTTL, shard.Millis)
}

func parseHExpireTime(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHTTL, shard.Absolute)
}

func parseHPExpireTime(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHTTL, shard.Absolute|shard.Millis)
}

func parseHPersist(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHPersist, 0)
}

func parseHGetDel(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseHashFieldsCmd(c, args, shard.KindHGetDel, 0)
}

// parseHGetEx parses HGETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] FIELDS
// numfields field...: only the argument after the key may be an option.
func parseHGetEx(c *client, args [][]byte, now int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindHGetEx, Key: args[1]}
	fieldsAt := 2
	expiry, millis, absolute := true, false, false
	switch a := args[2]; {
	case eq(a, "ex"):
	case eq(a, "px"):
		millis = true
	case eq(a, "exat"):
		absolute = true
	case eq(a, "pxat"):
		millis, absolute = true, true
	case eq(a, "persist"):
		op.Flags |= shard.Persist
		expiry, fieldsAt = false, 3
	default:
		expiry = false
	}
	if expiry {
		base := now
		if absolute {
			base = 0
		}
		at, err := hashExpireTime(args[3], millis, base, "hgetex")
		if err != nil {
			return shard.Op{}, c.hashArgErr(args[1], err)
		}
		op.At = at
		op.Flags |= shard.SetExpiry
		fieldsAt = 4
	}
	fields, err := hashFields(args, fieldsAt, errHashNumFields)
	if err != nil {
		return shard.Op{}, c.hashArgErr(args[1], err)
	}
	op.Args = fields
	return op, nil
}

// parseHSetEx parses HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|
// KEEPTTL] FIELDS numfields field value...: options in any order before
// FIELDS. Redis checks the arguments before the key's type.
func parseHSetEx(c *client, args [][]byte, now int64) (shard.Op, error) {
	op := withHashLimits(c, shard.Op{Kind: shard.KindHSetEx, Key: args[1]})
	const expiryFlags = shard.SetExpiry | shard.KeepTTL
	for i := 2; i < len(args); i++ {
		a := args[i]
		var millis, absolute bool
		switch {
		case eq(a, "fields"):
			if i >= len(args)-3 {
				return shard.Op{}, errWrongArgs("hsetex")
			}
			n, ok := shard.ParseInt(args[i+1])
			if !ok || n < 1 || n > math.MaxInt32 {
				return shard.Op{}, errHashSetExNumFields
			}
			rest := len(args) - i - 2
			if rest%2 != 0 || n != int64(rest/2) {
				return shard.Op{}, errWrongArgs("hsetex")
			}
			op.Args = args[i+2:]
			return op, nil
		case eq(a, "keepttl"):
			if op.Flags&expiryFlags != 0 {
				return shard.Op{}, errHashOneExpiry
			}
			op.Flags |= shard.KeepTTL
			continue
		case eq(a, "fxx"), eq(a, "fnx"):
			if op.Flags&(shard.FXX|shard.FNX) != 0 {
				return shard.Op{}, errHashOneCondition
			}
			if eq(a, "fxx") {
				op.Flags |= shard.FXX
			} else {
				op.Flags |= shard.FNX
			}
			continue
		case eq(a, "ex"):
		case eq(a, "px"):
			millis = true
		case eq(a, "exat"):
			absolute = true
		case eq(a, "pxat"):
			millis, absolute = true, true
		default:
			return shard.Op{}, errors.New("ERR unknown argument: " + string(a))
		}
		// EX, PX, EXAT or PXAT.
		if op.Flags&expiryFlags != 0 {
			return shard.Op{}, errHashOneExpiry
		}
		if i >= len(args)-1 {
			return shard.Op{}, errHashMissingExpire
		}
		i++
		base := now
		if absolute {
			base = 0
		}
		at, err := hashExpireTime(args[i], millis, base, "hsetex")
		if err != nil {
			return shard.Op{}, err
		}
		op.At = at
		op.Flags |= shard.SetExpiry
	}
	return shard.Op{}, errWrongArgs("hsetex")
}
