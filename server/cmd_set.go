package server

import (
	"errors"
	"math"

	"sessiond/shard"
)

// Set commands (Redis 7.0 replies; encodings follow Redis 7.2, see
// shard/set_value.go).

// Set command errors, in Redis's words.
var (
	errSetPositive      = errors.New("ERR value is out of range, must be positive")
	errSetNumKeys       = errors.New("ERR numkeys should be greater than 0")
	errSetTooManyKeys   = errors.New("ERR Number of keys can't be greater than number of args")
	errSetLimitNegative = errors.New("ERR LIMIT can't be negative")
)

// srandMaxCount bounds SRANDMEMBER's negative count (members that may
// repeat). Redis has no bound and builds the reply until it runs out of
// memory; sessiond answers "value is out of range" instead.
const srandMaxCount = 1 << 23

// setCommands returns the set commands for the command table.
func setCommands() []*command {
	data := dataCmd
	sintercard := def("sintercard", -3, rd, noKeys, "@read @set @slow")
	sintercard.first, sintercard.last, sintercard.step = 1, 1, 1
	sintercard.keyRange = sinterCardKeys
	return []*command{
		data(def("sadd", -3, wrFast, oneKey, "@write @set @fast"), parseSAdd, nil),
		data(def("srem", -3, flagWrite|flagFast, oneKey, "@write @set @fast"), parseSRem, nil),
		data(def("smembers", 2, rd, oneKey, "@read @set @slow"), parseSMembers, nil),
		data(def("sismember", 3, rdFast, oneKey, "@read @set @fast"), parseSIsMember, nil),
		data(def("smismember", -3, rdFast, oneKey, "@read @set @fast"), parseSMIsMember, nil),
		data(def("scard", 2, rdFast, oneKey, "@read @set @fast"), parseSCard, nil),
		data(def("spop", -2, flagWrite|flagFast, oneKey, "@write @set @fast"), parseSPop, nil),
		data(def("srandmember", -2, rd, oneKey, "@read @set @slow"), parseSRandMember, nil),
		data(def("sscan", -3, rd, oneKey, "@read @set @slow"), parseSScan, nil),
		data(def("sinter", -2, rd, allKeys, "@read @set @slow"), parseSetAlgebra(shard.KindSInter), nil),
		data(def("sunion", -2, rd, allKeys, "@read @set @slow"), parseSetAlgebra(shard.KindSUnion), nil),
		data(def("sdiff", -2, rd, allKeys, "@read @set @slow"), parseSetAlgebra(shard.KindSDiff), nil),
		data(def("sinterstore", -3, wrOOM, allKeys, "@write @set @slow"), parseSetStore(shard.KindSInterStore), nil),
		data(def("sunionstore", -3, wrOOM, allKeys, "@write @set @slow"), parseSetStore(shard.KindSUnionStore), nil),
		data(def("sdiffstore", -3, wrOOM, allKeys, "@write @set @slow"), parseSetStore(shard.KindSDiffStore), nil),
		data(sintercard, parseSInterCard, nil),
		data(def("smove", 4, flagWrite|flagFast, twoKeys, "@write @set @fast"), parseSMove, nil),
	}
}

// setDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var setDocLines = []string{
	"sadd|set|1.0.0|Add one or more members to a set",
	"srem|set|1.0.0|Remove one or more members from a set",
	"smembers|set|1.0.0|Get all the members in a set",
	"sismember|set|1.0.0|Determine if a given value is a member of a set",
	"smismember|set|6.2.0|Returns the membership associated with the given elements for a set",
	"scard|set|1.0.0|Get the number of members in a set",
	"spop|set|1.0.0|Remove and return one or multiple random members from a set",
	"srandmember|set|1.0.0|Get one or multiple random members from a set",
	"sscan|set|2.8.0|Incrementally iterate Set elements",
	"sinter|set|1.0.0|Intersect multiple sets",
	"sunion|set|1.0.0|Add multiple sets",
	"sdiff|set|1.0.0|Subtract multiple sets",
	"sinterstore|set|1.0.0|Intersect multiple sets and store the resulting set in a key",
	"sunionstore|set|1.0.0|Add multiple sets and store the resulting set in a key",
	"sdiffstore|set|1.0.0|Subtract multiple sets and store the resulting set in a key",
	"sintercard|set|7.0.0|Intersect multiple sets and return the cardinality of the result",
	"smove|set|1.0.0|Move a member from one set to another",
}

func parseSAdd(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSAdd, Key: args[1], Args: args[2:]}, nil
}

func parseSRem(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSRem, Key: args[1], Args: args[2:]}, nil
}

func parseSMembers(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindSMembers, args), nil
}

func parseSIsMember(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSIsMember, Key: args[1], Args: args[2:3]}, nil
}

func parseSMIsMember(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSMIsMember, Key: args[1], Args: args[2:]}, nil
}

func parseSCard(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindSCard, args), nil
}

// parseSPop parses SPOP key [count] and stamps a random seed into At, so
// that every replica pops the same members. Redis checks the count before
// the key: any count that is not an integer >= 0 is "out of range".
func parseSPop(c *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindSPop, Key: args[1], At: int64(c.rand() | 1)}
	switch len(args) {
	case 2:
		return op, nil
	case 3:
	default:
		return shard.Op{}, errSyntax
	}
	n, ok := shard.ParseInt(args[2])
	if !ok || n < 0 {
		return shard.Op{}, errSetPositive
	}
	op.Flags |= shard.HasCount
	if c.rng == nil {
		// Not in a script: a script's ops are made again on every
		// replica and on replay, by whatever version runs it, so it
		// keeps the sampling every version has.
		op.Flags |= shard.FastSample
	}
	op.N = n
	return op, nil
}

// parseSRandMember parses SRANDMEMBER key [count] and stamps a random
// seed into At.
func parseSRandMember(c *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindSRandMember, Key: args[1], At: int64(c.rand() | 1)}
	switch len(args) {
	case 2:
		return op, nil
	case 3:
	default:
		return shard.Op{}, errSyntax
	}
	n, err := argInt(args[2])
	switch {
	case err != nil:
		return shard.Op{}, err
	case n == math.MinInt64:
		return shard.Op{}, errHashCountRange
	case n < -srandMaxCount:
		return shard.Op{}, errHashOutOfRange
	}
	op.Flags |= shard.HasCount
	op.N = n
	return op, nil
}

// parseSScan parses SSCAN key cursor [MATCH pattern] [COUNT count] (see
// parseCollectionScan).
func parseSScan(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseCollectionScan(c, args, shard.KindSScan, shard.KindSCard, false)
}

// parseSetAlgebra parses SINTER, SUNION and SDIFF key [key ...].
func parseSetAlgebra(kind shard.Kind) parseFunc {
	return func(_ *client, args [][]byte, _ int64) (shard.Op, error) {
		return shard.Op{Kind: kind, Key: args[1], Args: args[1:]}, nil
	}
}

// parseSetStore parses SINTERSTORE, SUNIONSTORE and SDIFFSTORE
// destination key [key ...].
func parseSetStore(kind shard.Kind) parseFunc {
	return func(_ *client, args [][]byte, _ int64) (shard.Op, error) {
		return shard.Op{Kind: kind, Key: args[1], Args: args[2:]}, nil
	}
}

// sinterCardNumKeys reads SINTERCARD's numkeys: an integer from 1 to the
// number of arguments after it.
func sinterCardNumKeys(args [][]byte) (int, error) {
	n, ok := shard.ParseInt(args[1])
	if !ok || n < 1 {
		return 0, errSetNumKeys
	}
	if n > int64(len(args)-2) {
		return 0, errSetTooManyKeys
	}
	return int(n), nil
}

// sinterCardKeys gives SINTERCARD's key positions (after numkeys), or
// none when numkeys is invalid.
func sinterCardKeys(args [][]byte) (first, last int) {
	if len(args) < 3 {
		return 0, 0
	}
	n, err := sinterCardNumKeys(args)
	if err != nil {
		return 0, 0
	}
	return 2, 1 + n
}

// parseSInterCard parses SINTERCARD numkeys key [key ...] [LIMIT limit].
func parseSInterCard(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := sinterCardNumKeys(args)
	if err != nil {
		return shard.Op{}, err
	}
	keys := args[2 : 2+n]
	op := shard.Op{Kind: shard.KindSInterCard, Key: keys[0], Args: keys}
	for i := 2 + n; i < len(args); i += 2 {
		if !eq(args[i], "limit") || i+1 >= len(args) {
			return shard.Op{}, errSyntax
		}
		l, ok := shard.ParseInt(args[i+1])
		if !ok || l < 0 {
			return shard.Op{}, errSetLimitNegative
		}
		op.N = l
	}
	return op, nil
}

// parseSMove parses SMOVE source destination member.
func parseSMove(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSMove, Key: args[1], Args: args[2:4]}, nil
}
