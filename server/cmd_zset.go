package server

import (
	"errors"

	"sessiond/shard"
)

// Sorted set commands, Redis 7.0 (ZRANK/ZREVRANK take no WITHSCORE, as
// in 7.0). Every argument is checked here, before the key is looked up,
// in Redis's order, so that syntax errors come before WRONGTYPE; the
// store parses the same texts again.

// Sorted set command errors, in Redis's words.
var (
	errZAddIncrPair     = errors.New("ERR INCR option supports a single increment-element pair")
	errZAddNXXX         = errors.New("ERR XX and NX options at the same time are not compatible")
	errZAddGTLTNX       = errors.New("ERR GT, LT, and/or NX options at the same time are not compatible")
	errZScoreRange      = errors.New("ERR min or max is not a float")
	errZLexRange        = errors.New("ERR min or max not valid string range item")
	errZLimitRank       = errors.New("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	errZWithScoresByLex = errors.New("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	errZPopCount        = errors.New("ERR value is out of range, must be positive")
)

// zsetCommands returns the zset commands for the command table.
func zsetCommands() []*command {
	data := dataCmd
	return []*command{
		data(def("zadd", -4, wrFast, oneKey, "@write @sortedset @fast"), parseZAdd, nil),
		data(def("zincrby", 4, wrFast, oneKey, "@write @sortedset @fast"), parseZIncrBy, nil),
		data(def("zrem", -3, flagWrite|flagFast, oneKey, "@write @sortedset @fast"), parseZRem, nil),
		data(def("zscore", 3, rdFast, oneKey, "@read @sortedset @fast"), parseZScore, nil),
		data(def("zmscore", -3, rdFast, oneKey, "@read @sortedset @fast"), parseZMScore, nil),
		data(def("zcard", 2, rdFast, oneKey, "@read @sortedset @fast"), parseZCard, nil),
		data(def("zcount", 4, rdFast, oneKey, "@read @sortedset @fast"), parseZCount, nil),
		data(def("zlexcount", 4, rdFast, oneKey, "@read @sortedset @fast"), parseZLexCount, nil),
		data(def("zrank", 3, rdFast, oneKey, "@read @sortedset @fast"), parseZRank, nil),
		data(def("zrevrank", 3, rdFast, oneKey, "@read @sortedset @fast"), parseZRevRank, nil),
		data(def("zrange", -4, rd, oneKey, "@read @sortedset @slow"), parseZRange, nil),
		data(def("zrangebyscore", -4, rd, oneKey, "@read @sortedset @slow"), parseZRangeByScore, nil),
		data(def("zrevrangebyscore", -4, rd, oneKey, "@read @sortedset @slow"), parseZRevRangeByScore, nil),
		data(def("zrangebylex", -4, rd, oneKey, "@read @sortedset @slow"), parseZRangeByLex, nil),
		data(def("zrevrangebylex", -4, rd, oneKey, "@read @sortedset @slow"), parseZRevRangeByLex, nil),
		data(def("zrevrange", -4, rd, oneKey, "@read @sortedset @slow"), parseZRevRange, nil),
		data(def("zremrangebyscore", 4, flagWrite, oneKey, "@write @sortedset @slow"), parseZRemRangeByScore, nil),
		data(def("zremrangebyrank", 4, flagWrite, oneKey, "@write @sortedset @slow"), parseZRemRangeByRank, nil),
		data(def("zremrangebylex", 4, flagWrite, oneKey, "@write @sortedset @slow"), parseZRemRangeByLex, nil),
		data(def("zpopmin", -2, flagWrite|flagFast, oneKey, "@write @sortedset @fast"), parseZPopMin, replyZPop),
		data(def("zpopmax", -2, flagWrite|flagFast, oneKey, "@write @sortedset @fast"), parseZPopMax, replyZPop),
		data(def("zmpop", -4, flagWrite, oneKey, "@write @sortedset @slow"), parseZMPop, nil).withKeyRange(2),
		data(def("bzmpop", -5, flagWrite|flagBlocking, oneKey, "@write @sortedset @slow @blocking"), parseBZMPop, nil).withKeyRange(3),
		data(bzKeys(def("bzpopmin", -3, flagWrite|flagNoScript|flagBlocking|flagFast, noKeys, "@write @sortedset @fast @blocking")), parseBZPopMin, nil),
		data(bzKeys(def("bzpopmax", -3, flagWrite|flagNoScript|flagBlocking|flagFast, noKeys, "@write @sortedset @fast @blocking")), parseBZPopMax, nil),
		data(def("zscan", -3, rd, oneKey, "@read @sortedset @slow"), parseZScan, nil),
	}
}

// zsetDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var zsetDocLines = []string{
	"zadd|sorted-set|1.2.0|Add one or more members to a sorted set, or update its score if it already exists",
	"zincrby|sorted-set|1.2.0|Increment the score of a member in a sorted set",
	"zrem|sorted-set|1.2.0|Remove one or more members from a sorted set",
	"zscore|sorted-set|1.2.0|Get the score associated with the given member in a sorted set",
	"zmscore|sorted-set|6.2.0|Get the score associated with the given members in a sorted set",
	"zcard|sorted-set|1.2.0|Get the number of members in a sorted set",
	"zcount|sorted-set|2.0.0|Count the members in a sorted set with scores within the given values",
	"zlexcount|sorted-set|2.8.9|Count the number of members in a sorted set between a given lexicographical range",
	"zrank|sorted-set|2.0.0|Determine the index of a member in a sorted set",
	"zrevrank|sorted-set|2.0.0|Determine the index of a member in a sorted set, with scores ordered from high to low",
	"zrange|sorted-set|1.2.0|Return a range of members in a sorted set",
	"zrangebyscore|sorted-set|1.0.5|Return a range of members in a sorted set, by score",
	"zrevrangebyscore|sorted-set|2.2.0|Return a range of members in a sorted set, by score, with scores ordered from high to low",
	"zrangebylex|sorted-set|2.8.9|Return a range of members in a sorted set, by lexicographical range",
	"zrevrangebylex|sorted-set|2.8.9|Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
	"zrevrange|sorted-set|1.2.0|Return a range of members in a sorted set, by index, with scores ordered from high to low",
	"zremrangebyscore|sorted-set|1.2.0|Remove all members in a sorted set within the given scores",
	"zremrangebyrank|sorted-set|2.0.0|Remove all members in a sorted set within the given indexes",
	"zremrangebylex|sorted-set|2.8.9|Remove all members in a sorted set between the given lexicographical range",
	"zpopmin|sorted-set|5.0.0|Remove and return members with the lowest scores in a sorted set",
	"zpopmax|sorted-set|5.0.0|Remove and return members with the highest scores in a sorted set",
	"zscan|sorted-set|2.8.0|Incrementally iterate sorted sets elements and associated scores",
}

// parseZAdd parses ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member
// [score member ...].
func parseZAdd(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindZAdd, Key: args[1]}
	i := 2
options:
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case eq(a, "nx"):
			op.Flags |= shard.NX
		case eq(a, "xx"):
			op.Flags |= shard.XX
		case eq(a, "gt"):
			op.Flags |= shard.GT
		case eq(a, "lt"):
			op.Flags |= shard.LT
		case eq(a, "ch"):
			op.N |= shard.ZAddCH
		case eq(a, "incr"):
			op.N |= shard.ZAddIncr
		default:
			break options
		}
	}
	elements := len(args) - i
	if elements == 0 || elements%2 != 0 {
		return shard.Op{}, errSyntax
	}
	nx, xx, gt, lt := op.Has(shard.NX), op.Has(shard.XX), op.Has(shard.GT), op.Has(shard.LT)
	switch {
	case nx && xx:
		return shard.Op{}, errZAddNXXX
	case (gt && nx) || (lt && nx) || (gt && lt):
		return shard.Op{}, errZAddGTLTNX
	case op.N&shard.ZAddIncr != 0 && elements > 2:
		return shard.Op{}, errZAddIncrPair
	}
	for j := i; j < len(args); j += 2 {
		if _, ok := shard.ParseScore(args[j]); !ok {
			return shard.Op{}, errNotFloat
		}
	}
	op.Args = args[i:]
	return op, nil
}

// parseZIncrBy parses ZINCRBY key increment member: a ZADD INCR.
func parseZIncrBy(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if _, ok := shard.ParseScore(args[2]); !ok {
		return shard.Op{}, errNotFloat
	}
	return shard.Op{Kind: shard.KindZAdd, Key: args[1], N: shard.ZAddIncr, Args: args[2:4]}, nil
}

func parseZRem(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZRem, Key: args[1], Args: args[2:]}, nil
}

func parseZScore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZScore, Key: args[1], Args: args[2:3]}, nil
}

func parseZMScore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZMScore, Key: args[1], Args: args[2:]}, nil
}

func parseZCard(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindZCard, args), nil
}

// checkScoreRange checks the two ends of a score range.
func checkScoreRange(lo, hi []byte) error {
	_, _, ok1 := shard.ParseScoreBound(lo)
	_, _, ok2 := shard.ParseScoreBound(hi)
	if !ok1 || !ok2 {
		return errZScoreRange
	}
	return nil
}

// checkLexRange checks the two ends of a lexicographic range.
func checkLexRange(lo, hi []byte) error {
	if !shard.ParseLexBound(lo) || !shard.ParseLexBound(hi) {
		return errZLexRange
	}
	return nil
}

func parseZCount(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := checkScoreRange(args[2], args[3]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindZCount, Key: args[1], Args: args[2:4]}, nil
}

func parseZLexCount(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := checkLexRange(args[2], args[3]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindZLexCount, Key: args[1], Args: args[2:4]}, nil
}

func parseZRank(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZRank, Key: args[1], Args: args[2:3]}, nil
}

func parseZRevRank(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindZRank, Key: args[1], Args: args[2:3], N: 1}, nil
}

// zrangeAuto marks a range type or direction that ZRANGE's options may
// still choose.
const zrangeAuto = -1

// parseZRangeGeneric parses the ZRANGE family as Redis's
// zrangeGenericCommand: key min max, then options; rangeType is 0 (rank),
// shard.ZRangeByScore, shard.ZRangeByLex or zrangeAuto, rev 0, 1 or
// zrangeAuto.
func parseZRangeGeneric(args [][]byte, rangeType, rev int64) (shard.Op, error) {
	return parseZRangeOpts(args, rangeType, rev, false)
}

// parseZRangeOpts is parseZRangeGeneric; store (ZRANGESTORE, args from
// its source key on) refuses WITHSCORES where it stands, as Redis.
func parseZRangeOpts(args [][]byte, rangeType, rev int64, store bool) (shard.Op, error) {
	var withScores bool
	offset, limit := []byte("0"), []byte("-1")
	limitVal := int64(-1)
	for j := 4; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case !store && eq(a, "withscores"):
			withScores = true
		case eq(a, "limit") && left >= 2:
			if _, err := argInt(args[j+1]); err != nil {
				return shard.Op{}, err
			}
			n, err := argInt(args[j+2])
			if err != nil {
				return shard.Op{}, err
			}
			offset, limit, limitVal = args[j+1], args[j+2], n
			j += 2
		case rev == zrangeAuto && eq(a, "rev"):
			rev = 1
		case rangeType == zrangeAuto && eq(a, "bylex"):
			rangeType = shard.ZRangeByLex
		case rangeType == zrangeAuto && eq(a, "byscore"):
			rangeType = shard.ZRangeByScore
		default:
			return shard.Op{}, errSyntax
		}
	}
	if rev == zrangeAuto {
		rev = 0
	}
	if rangeType == zrangeAuto {
		rangeType = 0
	}
	if limitVal != -1 && rangeType == 0 {
		return shard.Op{}, errZLimitRank
	}
	if withScores && rangeType == shard.ZRangeByLex {
		return shard.Op{}, errZWithScoresByLex
	}
	lo, hi := args[2], args[3]
	if rev == 1 && rangeType != 0 {
		lo, hi = hi, lo
	}
	switch rangeType {
	case 0:
		if _, err := argInt(lo); err != nil {
			return shard.Op{}, err
		}
		if _, err := argInt(hi); err != nil {
			return shard.Op{}, err
		}
	case shard.ZRangeByScore:
		if err := checkScoreRange(lo, hi); err != nil {
			return shard.Op{}, err
		}
	case shard.ZRangeByLex:
		if err := checkLexRange(lo, hi); err != nil {
			return shard.Op{}, err
		}
	}
	op := shard.Op{Kind: shard.KindZRange, Key: args[1], N: rangeType,
		Args: [][]byte{lo, hi, offset, limit}}
	if rev == 1 {
		op.N |= shard.ZRangeRev
	}
	if withScores {
		op.N |= shard.ZRangeWithScores
	}
	return op, nil
}

func parseZRange(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, zrangeAuto, zrangeAuto)
}

func parseZRangeByScore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, shard.ZRangeByScore, 0)
}

func parseZRevRangeByScore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, shard.ZRangeByScore, 1)
}

func parseZRangeByLex(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, shard.ZRangeByLex, 0)
}

func parseZRevRangeByLex(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, shard.ZRangeByLex, 1)
}

func parseZRevRange(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZRangeGeneric(args, 0, 1)
}

func parseZRemRangeByRank(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	for _, a := range args[2:4] {
		if _, err := argInt(a); err != nil {
			return shard.Op{}, err
		}
	}
	return shard.Op{Kind: shard.KindZRemRange, Key: args[1], Args: args[2:4], N: shard.ZRemByRank}, nil
}

func parseZRemRangeByScore(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := checkScoreRange(args[2], args[3]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindZRemRange, Key: args[1], Args: args[2:4], N: shard.ZRemByScore}, nil
}

func parseZRemRangeByLex(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := checkLexRange(args[2], args[3]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindZRemRange, Key: args[1], Args: args[2:4], N: shard.ZRemByLex}, nil
}

// parseZPop parses ZPOPMIN/ZPOPMAX key [count]; max selects ZPOPMAX.
func parseZPop(args [][]byte, max bool) (shard.Op, error) {
	if len(args) > 3 {
		return shard.Op{}, errSyntax
	}
	op := shard.Op{Kind: shard.KindZPop, Key: args[1], N: -1}
	if max {
		op.At = 1
	}
	if len(args) == 3 {
		n, err := argInt(args[2])
		if err != nil || n < 0 {
			return shard.Op{}, errZPopCount
		}
		op.N = n
	}
	return op, nil
}

func parseZPopMin(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZPop(args, false)
}

func parseZPopMax(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseZPop(args, true)
}

// replyZPop writes ZPOPMIN/ZPOPMAX's reply: without a count, RESP3 gets
// one flat [member, score] array (shard marks it with Int = 1), as Redis
// does; with a count, an array of pairs.
func replyZPop(w *replyWriter, r shard.Result) {
	if r.Kind != shard.RScored || r.Int != 1 || !w.resp3 {
		w.result(r)
		return
	}
	w.array(len(r.Vals))
	for i := 0; i+1 < len(r.Vals); i += 2 {
		w.val(r.Vals[i])
		w.doubleText(r.Vals[i+1].S)
	}
}

// bzKeys sets BZPOPMIN/BZPOPMAX's key positions: every argument but the
// timeout.
func bzKeys(c *command) *command { c.first, c.last, c.step = 1, -2, 1; return c }

// parseZMPop parses ZMPOP numkeys key... MIN|MAX [COUNT count].
func parseZMPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseMPopEnds(shard.KindZMPop, args, 1, "min", "max")
}

// parseBZMPop parses BZMPOP timeout numkeys key... MIN|MAX [COUNT count].
func parseBZMPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := parseListTimeout(args[1]); err != nil {
		return shard.Op{}, err
	}
	return parseMPopEnds(shard.KindBZMPop, args, 2, "min", "max")
}

// parseBZPop parses BZPOPMIN/BZPOPMAX key... timeout; end 1 is MAX.
func parseBZPop(args [][]byte, end int64) (shard.Op, error) {
	if err := parseListTimeout(args[len(args)-1]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindBZPop, Args: args[1 : len(args)-1], N: end, At: 1}, nil
}

func parseBZPopMin(_ *client, args [][]byte, _ int64) (shard.Op, error) { return parseBZPop(args, 0) }

func parseBZPopMax(_ *client, args [][]byte, _ int64) (shard.Op, error) { return parseBZPop(args, 1) }

// parseZScan parses ZSCAN key cursor [MATCH pattern] [COUNT count] (see
// parseCollectionScan).
func parseZScan(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseCollectionScan(c, args, shard.KindZScan, shard.KindZCard, false)
}
