package server

import (
	"errors"

	"sessiond/shard"
)

// Sorted-set algebra (ZUNION, ZINTER, ZDIFF, their STORE forms,
// ZINTERCARD), ZRANGESTORE and ZRANDMEMBER, Redis 7.0. Redis reads the
// source keys (WRONGTYPE) before it parses the options after them, so an
// option error is answered through errIfFound with a read of the keys.

var (
	errZWeightFloat = errors.New("ERR weight value is not a float")
	errZLimitNeg    = errors.New("ERR LIMIT can't be negative")
)

// zsetAlgebraCommands returns these commands for the command table.
func zsetAlgebraCommands() []*command {
	data := dataCmd
	store := func(name string) *command {
		c := def(name, -4, wrOOM, noKeys, "@write @sortedset @slow").withKeyRange(3)
		c.destKey = 1
		return c
	}
	return []*command{
		data(store("zunionstore"), parseZAlgebra(shard.KindZUnionStore), nil),
		data(store("zinterstore"), parseZAlgebra(shard.KindZInterStore), nil),
		data(store("zdiffstore"), parseZAlgebra(shard.KindZDiffStore), nil),
		data(def("zunion", -3, rd, noKeys, "@read @sortedset @slow").withKeyRange(2), parseZAlgebra(shard.KindZUnion), nil),
		data(def("zinter", -3, rd, noKeys, "@read @sortedset @slow").withKeyRange(2), parseZAlgebra(shard.KindZInter), nil),
		data(def("zdiff", -3, rd, noKeys, "@read @sortedset @slow").withKeyRange(2), parseZAlgebra(shard.KindZDiff), nil),
		data(def("zintercard", -3, rd, noKeys, "@read @sortedset @slow").withKeyRange(2), parseZInterCard, nil),
		data(def("zrangestore", -5, wrOOM, twoKeys, "@write @sortedset @slow"), parseZRangeStore, nil),
		data(def("zrandmember", -2, rd, oneKey, "@read @sortedset @slow"), parseZRandMember, nil),
	}
}

// zsetAlgebraDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var zsetAlgebraDocLines = []string{
	"zunionstore|sorted-set|2.0.0|Add multiple sorted sets and store the resulting sorted set in a new key",
	"zinterstore|sorted-set|2.0.0|Intersect multiple sorted sets and store the resulting sorted set in a new key",
	"zdiffstore|sorted-set|6.2.0|Subtract multiple sorted sets and store the resulting sorted set in a new key",
	"zunion|sorted-set|6.2.0|Add multiple sorted sets",
	"zinter|sorted-set|6.2.0|Intersect multiple sorted sets",
	"zdiff|sorted-set|6.2.0|Subtract multiple sorted sets",
	"zintercard|sorted-set|7.0.0|Intersect multiple sorted sets and return the cardinality of the result",
	"zrangestore|sorted-set|6.2.0|Store a range of members from sorted set into another key",
	"zrandmember|sorted-set|6.2.0|Get one or multiple random elements from a sorted set",
}

// zsetNumKeys reads the numkeys argument at args[at] of command name:
// an integer from 1 to the number of arguments after it.
func zsetNumKeys(args [][]byte, at int, name string) (int, error) {
	n, err := argInt(args[at])
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, errors.New("ERR at least 1 input key is needed for '" + name + "' command")
	}
	if n > int64(len(args)-at-1) {
		return 0, errSyntax
	}
	return int(n), nil
}

// zsetKeysCheck is the op that answers an option error after the source
// keys were read: WRONGTYPE if one is of another type, else late.
func zsetKeysCheck(keys [][]byte, late error) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZUnion, Key: keys[0], Args: keys, At: int64(len(keys))}, &errIfFound{late}
}

// parseZAlgebra parses ZUNION, ZINTER, ZDIFF numkeys key... and their
// STORE forms (destination first), with WEIGHTS and AGGREGATE (not for
// ZDIFF) and WITHSCORES (not for the STORE forms), as Redis's
// zunionInterDiffGenericCommand.
func parseZAlgebra(kind shard.Kind) parseFunc {
	store := kind == shard.KindZUnionStore || kind == shard.KindZInterStore || kind == shard.KindZDiffStore
	diff := kind == shard.KindZDiff || kind == shard.KindZDiffStore
	name := map[shard.Kind]string{
		shard.KindZUnionStore: "zunionstore", shard.KindZInterStore: "zinterstore", shard.KindZDiffStore: "zdiffstore",
		shard.KindZUnion: "zunion", shard.KindZInter: "zinter", shard.KindZDiff: "zdiff",
	}[kind]
	return func(_ *client, args [][]byte, _ int64) (shard.Op, error) {
		at := 1
		if store {
			at = 2
		}
		n, err := zsetNumKeys(args, at, name)
		if err != nil {
			return shard.Op{}, err
		}
		keys := args[at+1 : at+1+n]
		var weights [][]byte
		agg := int64(shard.ZAggSum)
		withScores := false
		for j := at + 1 + n; j < len(args); {
			left := len(args) - j
			a := args[j]
			switch {
			case !diff && left >= n+1 && eq(a, "weights"):
				weights = args[j+1 : j+1+n]
				for _, w := range weights {
					if _, ok := shard.ParseScore(w); !ok {
						return zsetKeysCheck(keys, errZWeightFloat)
					}
				}
				j += 1 + n
			case !diff && left >= 2 && eq(a, "aggregate"):
				switch b := args[j+1]; {
				case eq(b, "sum"):
					agg = shard.ZAggSum
				case eq(b, "min"):
					agg = shard.ZAggMin
				case eq(b, "max"):
					agg = shard.ZAggMax
				default:
					return zsetKeysCheck(keys, errSyntax)
				}
				j += 2
			case !store && eq(a, "withscores"):
				withScores = true
				j++
			default:
				return zsetKeysCheck(keys, errSyntax)
			}
		}
		op := shard.Op{Kind: kind, At: int64(n), N: agg}
		op.Args = make([][]byte, 0, n+len(weights))
		op.Args = append(append(op.Args, keys...), weights...)
		if store {
			op.Key = args[1]
		} else {
			op.Key = keys[0]
		}
		if withScores {
			op.N |= shard.ZAlgWithScores
		}
		return op, nil
	}
}

// parseZInterCard parses ZINTERCARD numkeys key... [LIMIT limit].
func parseZInterCard(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := zsetNumKeys(args, 1, "zintercard")
	if err != nil {
		return shard.Op{}, err
	}
	keys := args[2 : 2+n]
	op := shard.Op{Kind: shard.KindZInterCard, Key: keys[0], Args: keys}
	for j := 2 + n; j < len(args); j += 2 {
		if len(args)-j < 2 || !eq(args[j], "limit") {
			return zsetKeysCheck(keys, errSyntax)
		}
		l, ok := shard.ParseInt(args[j+1])
		if !ok || l < 0 {
			return zsetKeysCheck(keys, errZLimitNeg)
		}
		op.N = l
	}
	return op, nil
}

// parseZRangeStore parses ZRANGESTORE dst src min max [BYSCORE|BYLEX]
// [REV] [LIMIT offset count]: ZRANGE's arguments after dst, without
// WITHSCORES.
func parseZRangeStore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	rop, err := parseZRangeOpts(args[1:], zrangeAuto, zrangeAuto, true)
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindZRangeStore, Key: args[1], N: rop.N,
		Args: append([][]byte{args[2]}, rop.Args...)}, nil
}

// parseZRandMember parses ZRANDMEMBER key [count [WITHSCORES]] as
// HRANDFIELD's arguments.
func parseZRandMember(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseRandCount(c, shard.KindZRandMember, args, "withscores")
}
