package server

import (
	"errors"
	"math"
	"math/big"

	"sessiond/shard"
)

// List commands (Redis 7.0). The blocking forms (BLPOP, BRPOP, BLMOVE,
// BRPOPLPUSH, BLMPOP) act as their non-blocking forms when there is an
// element to pop; when there is none, sessiond does not block: they
// answer shard.ErrListBlocking.

// List command errors, in Redis's words.
var (
	errListCountPositive = errors.New("ERR value is out of range, must be positive")
	errListRankZero      = errors.New("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
	errListCountNegative = errors.New("ERR COUNT can't be negative")
	errListMaxLenNeg     = errors.New("ERR MAXLEN can't be negative")
	errListNumKeys       = errors.New("ERR numkeys should be greater than 0")
	errListMPopCount     = errors.New("ERR count should be greater than 0")
	errTimeoutNotFloat   = errors.New("ERR timeout is not a float or out of range")
	errTimeoutNegative   = errors.New("ERR timeout is negative")
)

// listCommands returns the list commands for the command table.
func listCommands() []*command {
	data := dataCmd
	const blocking = flagWrite | flagNoScript | flagBlocking
	blockingKeys := func(c *command) *command { c.first, c.last, c.step = 1, -2, 1; return c }
	return []*command{
		data(def("lpush", -3, wrFast, oneKey, "@write @list @fast"), parseLPush, nil),
		data(def("rpush", -3, wrFast, oneKey, "@write @list @fast"), parseRPush, nil),
		data(def("lpushx", -3, wrFast, oneKey, "@write @list @fast"), parseLPushX, nil),
		data(def("rpushx", -3, wrFast, oneKey, "@write @list @fast"), parseRPushX, nil),
		data(def("lpop", -2, flagWrite|flagFast, oneKey, "@write @list @fast"), parseLPop, nil),
		data(def("rpop", -2, flagWrite|flagFast, oneKey, "@write @list @fast"), parseRPop, nil),
		data(def("lrange", 4, rd, oneKey, "@read @list @slow"), parseLRange, nil),
		data(def("llen", 2, rdFast, oneKey, "@read @list @fast"), parseLLen, nil),
		data(def("lindex", 3, rd, oneKey, "@read @list @slow"), parseLIndex, nil),
		data(def("lset", 4, wrOOM, oneKey, "@write @list @slow"), parseLSet, nil),
		data(def("lrem", 4, flagWrite, oneKey, "@write @list @slow"), parseLRem, nil),
		data(def("ltrim", 4, flagWrite, oneKey, "@write @list @slow"), parseLTrim, nil),
		data(def("linsert", 5, wrOOM, oneKey, "@write @list @slow"), parseLInsert, nil),
		data(def("lpos", -3, rd, oneKey, "@read @list @slow"), parseLPos, nil),
		data(def("lmove", 5, wrOOM, twoKeys, "@write @list @slow"), parseLMove, nil),
		data(def("rpoplpush", 3, wrOOM, twoKeys, "@write @list @slow"), parseRPopLPush, nil),
		data(def("lmpop", -4, flagWrite, oneKey, "@write @list @slow"), parseLMPop, nil).withKeyRange(2),
		data(blockingKeys(def("blpop", -3, blocking, noKeys, "@write @list @slow @blocking")), parseBLPop, nil),
		data(blockingKeys(def("brpop", -3, blocking, noKeys, "@write @list @slow @blocking")), parseBRPop, nil),
		data(def("blmove", 6, blocking|flagDenyOOM, twoKeys, "@write @list @slow @blocking"), parseBLMove, nil),
		data(def("brpoplpush", 4, blocking|flagDenyOOM, twoKeys, "@write @list @slow @blocking"), parseBRPopLPush, nil),
		data(def("blmpop", -5, flagWrite|flagBlocking, oneKey, "@write @list @slow @blocking"), parseBLMPop, nil).withKeyRange(3),
	}
}

// withKeyRange gives c, whose arguments are "numkeys key... ..." with
// numkeys at index at-1, its key positions (LMPOP, BLMPOP). Its static
// positions name the first key.
func (c *command) withKeyRange(at int) *command {
	c.first, c.last, c.step = at, at, 1
	c.keyRange = func(args [][]byte) (int, int) {
		if at-1 >= len(args) {
			return 0, 0
		}
		n, ok := shard.ParseInt(args[at-1])
		if !ok || n < 1 || n > int64(len(args)-at) {
			return 0, 0
		}
		return at, at + int(n) - 1
	}
	return c
}

// listDocLines are COMMAND DOCS lines for these commands, in
// commandDocLines's format.
var listDocLines = []string{
	"lpush|list|1.0.0|Prepends one or more elements to a list. Creates the key if it doesn't exist.",
	"rpush|list|1.0.0|Appends one or more elements to a list. Creates the key if it doesn't exist.",
	"lpushx|list|2.2.0|Prepends one or more elements to a list only when the list exists.",
	"rpushx|list|2.2.0|Appends an element to a list only when the list exists.",
	"lpop|list|1.0.0|Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
	"rpop|list|1.0.0|Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
	"lrange|list|1.0.0|Returns a range of elements from a list.",
	"llen|list|1.0.0|Returns the length of a list.",
	"lindex|list|1.0.0|Returns an element from a list by its index.",
	"lset|list|1.0.0|Sets the value of an element in a list by its index.",
	"lrem|list|1.0.0|Removes elements from a list. Deletes the list if the last element was removed.",
	"ltrim|list|1.0.0|Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
	"linsert|list|2.2.0|Inserts an element before or after another element in a list.",
	"lpos|list|6.0.6|Returns the index of matching elements in a list.",
	"lmove|list|6.2.0|Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
	"rpoplpush|list|1.2.0|Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
	"lmpop|list|7.0.0|Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
	"blpop|list|2.0.0|Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
	"brpop|list|2.0.0|Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
	"blmove|list|6.2.0|Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
	"brpoplpush|list|2.2.0|Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
	"blmpop|list|7.0.0|Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
}

func parseLPush(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindLPush, Key: args[1], Args: args[2:]}, nil
}

func parseRPush(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindRPush, Key: args[1], Args: args[2:]}, nil
}

func parseLPushX(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindLPush, Flags: shard.XX, Key: args[1], Args: args[2:]}, nil
}

func parseRPushX(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindRPush, Flags: shard.XX, Key: args[1], Args: args[2:]}, nil
}

// parsePop parses [LR]POP key [count]. With a count the reply is a list
// (a null array for a missing key), without one a bulk string.
func parsePop(args [][]byte, kind shard.Kind, name string) (shard.Op, error) {
	if len(args) > 3 {
		return shard.Op{}, errWrongArgs(name)
	}
	op := shard.Op{Kind: kind, Key: args[1]}
	if len(args) == 3 {
		n, ok := shard.ParseInt(args[2])
		if !ok || n < 0 {
			return shard.Op{}, errListCountPositive
		}
		op.Flags |= shard.HasCount
		op.N = n
	}
	return op, nil
}

func parseLPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parsePop(args, shard.KindLPop, "lpop")
}

func parseRPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parsePop(args, shard.KindRPop, "rpop")
}

// parseStartStop parses the start and stop of LRANGE and LTRIM, which
// Redis reads before it looks the key up.
func parseStartStop(kind shard.Kind, args [][]byte) (shard.Op, error) {
	start, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	stop, err := argInt(args[3])
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: kind, Key: args[1], N: start, At: stop}, nil
}

func parseLRange(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseStartStop(shard.KindLRange, args)
}

func parseLTrim(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseStartStop(shard.KindLTrim, args)
}

func parseLLen(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindLLen, args), nil
}

// parseLIndex parses LINDEX key index. Redis reads the index only once
// it has found the list: a missing key answers nil whatever it says.
func parseLIndex(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op := key1(shard.KindLIndex, args)
	i, err := argInt(args[2])
	if err != nil {
		return op, &errIfFound{err}
	}
	op.N = i
	return op, nil
}

// parseLSet parses LSET key index element. Redis reads the index only
// once it has found the list: a missing key answers "no such key", a key
// of another type WRONGTYPE (an LINDEX with XX answers both).
func parseLSet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	i, err := argInt(args[2])
	if err != nil {
		return shard.Op{Kind: shard.KindLIndex, Flags: shard.XX, Key: args[1]}, &errIfFound{err}
	}
	return shard.Op{Kind: shard.KindLSet, Key: args[1], N: i, Args: args[3:4]}, nil
}

func parseLRem(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindLRem, Key: args[1], N: n, Args: args[3:4]}, nil
}

func parseLInsert(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindLInsert, Key: args[1], Args: args[3:5]}
	switch {
	case eq(args[2], "after"):
		op.N = 1
	case eq(args[2], "before"):
	default:
		return shard.Op{}, errSyntax
	}
	return op, nil
}

// parseLPos parses LPOS key element [RANK rank] [COUNT num-matches]
// [MAXLEN len]; options may repeat (the last one counts), and are
// checked before the key is looked up.
func parseLPos(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindLPos, Key: args[1], Args: args[2:3], N: 1}
	for i := 3; i < len(args); i++ {
		more := i < len(args)-1
		switch {
		case eq(args[i], "rank") && more:
			i++
			n, err := argInt(args[i])
			if err != nil {
				return shard.Op{}, err
			}
			if n == 0 {
				return shard.Op{}, errListRankZero
			}
			op.N = n
		case eq(args[i], "count") && more:
			i++
			n, ok := shard.ParseInt(args[i])
			if !ok || n < 0 {
				return shard.Op{}, errListCountNegative
			}
			op.Flags |= shard.HasCount
			op.At = n
		case eq(args[i], "maxlen") && more:
			i++
			n, ok := shard.ParseInt(args[i])
			if !ok || n < 0 {
				return shard.Op{}, errListMaxLenNeg
			}
			op.Limit = n
		default:
			return shard.Op{}, errSyntax
		}
	}
	return op, nil
}

// parseListEnd parses LEFT or RIGHT.
func parseListEnd(arg []byte) (int64, error) {
	switch {
	case eq(arg, "left"):
		return 0, nil
	case eq(arg, "right"):
		return 1, nil
	}
	return 0, errSyntax
}

// parseMove builds an LMOVE-like op: source args[1], destination
// args[2], ends args[3] and args[4].
func parseMove(kind shard.Kind, args [][]byte) (shard.Op, error) {
	from, err := parseListEnd(args[3])
	if err != nil {
		return shard.Op{}, err
	}
	to, err := parseListEnd(args[4])
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: kind, Key: args[1], Args: args[2:3], N: from, At: to}, nil
}

func parseLMove(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseMove(shard.KindLMove, args)
}

func parseRPopLPush(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindLMove, Key: args[1], Args: args[2:3], N: 1, At: 0}, nil
}

// parseListTimeout validates a blocking command's timeout in seconds as
// Redis 7.0 does (a long double; milliseconds rounded up must not be
// negative). sessiond never waits, so the value itself is not used.
func parseListTimeout(arg []byte) error {
	if _, ok := shard.ParseLongDouble(arg); !ok {
		return errTimeoutNotFloat
	}
	f, _, err := big.ParseFloat(string(arg), 0, 64, big.ToNearestEven)
	if err != nil {
		return errTimeoutNotFloat
	}
	ms, _ := f.Float64()
	ms = math.Ceil(ms * 1000)
	if ms < 0 || ms >= math.MaxInt64 || math.IsInf(ms, 0) {
		return errTimeoutNegative
	}
	return nil
}

// parseBPop parses B[LR]POP key... timeout.
func parseBPop(args [][]byte, end int64) (shard.Op, error) {
	if err := parseListTimeout(args[len(args)-1]); err != nil {
		return shard.Op{}, err
	}
	keys := args[1 : len(args)-1]
	return shard.Op{Kind: shard.KindBPop, Args: keys, N: end}, nil
}

func parseBLPop(_ *client, args [][]byte, _ int64) (shard.Op, error) { return parseBPop(args, 0) }

func parseBRPop(_ *client, args [][]byte, _ int64) (shard.Op, error) { return parseBPop(args, 1) }

func parseBLMove(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	op, err := parseMove(shard.KindBLMove, args)
	if err != nil {
		return shard.Op{}, err
	}
	if err := parseListTimeout(args[5]); err != nil {
		return shard.Op{}, err
	}
	return op, nil
}

func parseBRPopLPush(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := parseListTimeout(args[3]); err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindBLMove, Key: args[1], Args: args[2:3], N: 1, At: 0}, nil
}

// parseMPop parses "numkeys key... LEFT|RIGHT [COUNT count]" starting at
// args[at] (LMPOP, BLMPOP).
func parseMPop(kind shard.Kind, args [][]byte, at int) (shard.Op, error) {
	return parseMPopEnds(kind, args, at, "left", "right")
}

// parseMPopEnds is parseMPop with the names of the two ends (LEFT and
// RIGHT; ZMPOP's MIN and MAX), which become N = 0 and 1.
func parseMPopEnds(kind shard.Kind, args [][]byte, at int, lo, hi string) (shard.Op, error) {
	n, ok := shard.ParseInt(args[at])
	if !ok || n < 1 {
		return shard.Op{}, errListNumKeys
	}
	if n >= int64(len(args)-at-1) {
		return shard.Op{}, errSyntax
	}
	keys := args[at+1 : at+1+int(n)]
	where := at + 1 + int(n)
	var end int64
	switch {
	case eq(args[where], lo):
	case eq(args[where], hi):
		end = 1
	default:
		return shard.Op{}, errSyntax
	}
	op := shard.Op{Kind: kind, Args: keys, N: end, At: -1}
	for i := where + 1; i < len(args); i++ {
		if op.At == -1 && eq(args[i], "count") && i < len(args)-1 {
			i++
			c, ok := shard.ParseInt(args[i])
			if !ok || c < 1 {
				return shard.Op{}, errListMPopCount
			}
			op.At = c
			continue
		}
		return shard.Op{}, errSyntax
	}
	if op.At == -1 {
		op.At = 1
	}
	return op, nil
}

func parseLMPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return parseMPop(shard.KindLMPop, args, 1)
}

func parseBLMPop(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if err := parseListTimeout(args[1]); err != nil {
		return shard.Op{}, err
	}
	return parseMPop(shard.KindBLMPop, args, 2)
}
