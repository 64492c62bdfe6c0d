package server

import (
	"errors"
	"math"

	"sessiond/shard"
)

// Keyspace command errors, in Redis's words.
var (
	errInvalidCursor = errors.New("ERR invalid cursor")
	errExpireNXMix   = errors.New("ERR NX and XX, GT or LT options at the same time are not compatible")
	errExpireGTLT    = errors.New("ERR GT and LT options at the same time are not compatible")
)

// parseDel parses DEL and UNLINK (UNLINK frees nothing later: values are
// reclaimed by the garbage collector either way).
func parseDel(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindDel, Args: args[1:]}, nil
}

func parseExists(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindExists, Args: args[1:]}, nil
}

func parseType(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindType, args), nil
}

func parseTouch(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindTouch, Args: args[1:]}, nil
}

func parseRename(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindRename, Key: args[1], Args: args[2:3]}, nil
}

func parseRenameNX(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindRename, Key: args[1], Args: args[2:3], Flags: shard.NX}, nil
}

func parseExpire(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return expireOp(args, expireUnit{}, now, "expire")
}

func parsePExpire(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return expireOp(args, expireUnit{millis: true}, now, "pexpire")
}

func parseExpireAt(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return expireOp(args, expireUnit{absolute: true}, now, "expireat")
}

func parsePExpireAt(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return expireOp(args, expireUnit{millis: true, absolute: true}, now, "pexpireat")
}

// expireOp parses the EXPIRE family (Redis's expireGenericCommand): the
// NX XX GT LT options first, then the time, which may be negative or zero
// (a deadline already passed deletes the key) but must not overflow once
// turned into absolute milliseconds.
func expireOp(args [][]byte, u expireUnit, now int64, cmd string) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindExpire, Key: args[1]}
	flags, err := expireFlags(args[3:])
	if err != nil {
		return op, err
	}
	op.Flags = flags
	v, err := argInt(args[2])
	if err != nil {
		return op, err
	}
	if !u.millis {
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return op, errInvalidExpire(cmd)
		}
		v *= 1000
	}
	if !u.absolute {
		if v > math.MaxInt64-now {
			return op, errInvalidExpire(cmd)
		}
		v += now
	}
	op.At = v
	return op, nil
}

// expireFlags parses EXPIRE's options (Redis's
// parseExtendedExpireArgumentsOrReply).
func expireFlags(opts [][]byte) (shard.Flags, error) {
	var f shard.Flags
	for _, o := range opts {
		switch {
		case eq(o, "nx"):
			f |= shard.NX
		case eq(o, "xx"):
			f |= shard.XX
		case eq(o, "gt"):
			f |= shard.GT
		case eq(o, "lt"):
			f |= shard.LT
		default:
			return 0, errors.New("ERR Unsupported option " + string(o))
		}
	}
	if f&shard.NX != 0 && f&(shard.XX|shard.GT|shard.LT) != 0 {
		return 0, errExpireNXMix
	}
	if f&shard.GT != 0 && f&shard.LT != 0 {
		return 0, errExpireGTLT
	}
	return f, nil
}

func parseTTL(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return ttlOp(args, 0), nil
}

func parsePTTL(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return ttlOp(args, shard.Millis), nil
}

func parseExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return ttlOp(args, shard.Absolute), nil
}

func parsePExpireTime(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return ttlOp(args, shard.Millis|shard.Absolute), nil
}

func ttlOp(args [][]byte, f shard.Flags) shard.Op {
	return shard.Op{Kind: shard.KindTTL, Key: args[1], Flags: f}
}

func parsePersist(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindPersist, args), nil
}

// parseScan parses SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
// into a KindScan op: N holds the cursor's bits, At the count (default
// 10), Args the pattern and the type name.
func parseScan(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		return shard.Op{}, errInvalidCursor
	}
	op := shard.Op{Kind: shard.KindScan, N: int64(cursor), At: 10, Args: make([][]byte, 2)}
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return shard.Op{}, errSyntax
		}
		switch v := args[i+1]; {
		case eq(args[i], "count"):
			n, err := argInt(v)
			if err != nil {
				return shard.Op{}, err
			}
			if n < 1 {
				return shard.Op{}, errSyntax
			}
			op.At = n
		case eq(args[i], "match"):
			op.Flags |= shard.Match
			op.Args[0] = v
		case eq(args[i], "type"):
			op.Flags |= shard.TypeFilter
			op.Args[1] = v
		default:
			return shard.Op{}, errSyntax
		}
	}
	return op, nil
}

// parseCursor parses a SCAN cursor as Redis does with strtoul: an
// optional sign ('-' negates modulo 2^64), decimal digits, nothing else;
// an empty string is cursor 0; more than 64 bits is an error.
func parseCursor(b []byte) (uint64, bool) {
	neg := false
	p := b
	if len(p) > 0 && (p[0] == '+' || p[0] == '-') {
		neg = p[0] == '-'
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

func parseKeys(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindKeys, Args: args[1:2]}, nil
}

// parseRandomKey stamps a random seed into N: the store picks the key
// from it, so that applying the op stays deterministic.
func parseRandomKey(c *client, _ [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindRandomKey, N: int64(c.rand())}, nil
}

func parseDBSize(_ *client, _ [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindDBSize}, nil
}

// parseFlush parses FLUSHDB and FLUSHALL [ASYNC|SYNC]. Both modes free
// the data the same way (the garbage collector reclaims it).
func parseFlush(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if len(args) > 2 || (len(args) == 2 && !eq(args[1], "async") && !eq(args[1], "sync")) {
		return shard.Op{}, errSyntax
	}
	return shard.Op{Kind: shard.KindFlush}, nil
}
