package server

import "sessiond/shard"

func key1(kind shard.Kind, args [][]byte) shard.Op { return shard.Op{Kind: kind, Key: args[1]} }

func parseGet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindGet, args), nil
}

func parseGetDel(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindGetDel, args), nil
}

func parseStrLen(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return key1(shard.KindStrLen, args), nil
}

// expiryArg is an expiry option as written: its value is checked by the
// caller, because SET checks it before looking at the key and GETEX after.
type expiryArg struct {
	val  []byte // nil when no expiry option was given
	unit expireUnit
}

// setOptions parses SET's and GETEX's options (Redis's
// parseExtendedStringArgumentsOrReply) and returns the expiry option, if
// any, unchecked. forSet selects SET's option set (NX XX GET KEEPTTL) over
// GETEX's (PERSIST). Only syntax errors are reported here.
func setOptions(op *shard.Op, opts [][]byte, forSet bool) (expiryArg, error) {
	var exp expiryArg
	const (
		ex = 1 << iota
		px
		exat
		pxat
	)
	var which int
	for j := 0; j < len(opts); j++ {
		o := opts[j]
		hasNext := j+1 < len(opts)
		switch {
		case forSet && eq(o, "nx") && !op.Has(shard.XX):
			op.Flags |= shard.NX
		case forSet && eq(o, "xx") && !op.Has(shard.NX):
			op.Flags |= shard.XX
		case forSet && eq(o, "get"):
			op.Flags |= shard.Get
		case forSet && eq(o, "keepttl") && which == 0:
			op.Flags |= shard.KeepTTL // repeating KEEPTTL is allowed
		case !forSet && eq(o, "persist") && which == 0:
			op.Flags |= shard.Persist // and so is repeating PERSIST
		case eq(o, "ex") && hasNext && which&^ex == 0 && !op.Has(shard.KeepTTL) && !op.Has(shard.Persist):
			which, exp = ex, expiryArg{opts[j+1], expireUnit{}}
			j++
		case eq(o, "px") && hasNext && which&^px == 0 && !op.Has(shard.KeepTTL) && !op.Has(shard.Persist):
			which, exp = px, expiryArg{opts[j+1], expireUnit{millis: true}}
			j++
		case eq(o, "exat") && hasNext && which&^exat == 0 && !op.Has(shard.KeepTTL) && !op.Has(shard.Persist):
			which, exp = exat, expiryArg{opts[j+1], expireUnit{absolute: true}}
			j++
		case eq(o, "pxat") && hasNext && which&^pxat == 0 && !op.Has(shard.KeepTTL) && !op.Has(shard.Persist):
			which, exp = pxat, expiryArg{opts[j+1], expireUnit{millis: true, absolute: true}}
			j++
		default:
			return exp, errSyntax
		}
	}
	return exp, nil
}

// setExpiry checks exp's value and stores its deadline in op.
func setExpiry(op *shard.Op, exp expiryArg, now int64, cmd string) error {
	if exp.val == nil {
		return nil
	}
	at, err := deadline(exp.val, exp.unit, now, cmd)
	if err != nil {
		return err
	}
	op.At = at
	op.Flags |= shard.SetExpiry
	return nil
}

func parseSet(_ *client, args [][]byte, now int64) (shard.Op, error) {
	op := shard.Op{Kind: shard.KindSet, Key: args[1], Args: args[2:3]}
	exp, err := setOptions(&op, args[3:], true)
	if err != nil {
		return op, err
	}
	return op, setExpiry(&op, exp, now, "set")
}

func parseSetEx(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return setWithExpiry(args, now, expireUnit{}, "setex")
}

func parsePSetEx(_ *client, args [][]byte, now int64) (shard.Op, error) {
	return setWithExpiry(args, now, expireUnit{millis: true}, "psetex")
}

func setWithExpiry(args [][]byte, now int64, u expireUnit, cmd string) (shard.Op, error) {
	at, err := deadline(args[2], u, now, cmd)
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindSet, Key: args[1], Args: args[3:4], At: at, Flags: shard.SetExpiry}, nil
}

func parseSetNX(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSet, Key: args[1], Args: args[2:3], Flags: shard.NX}, nil
}

func parseGetSet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindSet, Key: args[1], Args: args[2:3], Flags: shard.Get}, nil
}

func parseGetEx(_ *client, args [][]byte, now int64) (shard.Op, error) {
	op := key1(shard.KindGetEx, args)
	exp, err := setOptions(&op, args[2:], false)
	if err != nil {
		return op, err
	}
	if err := setExpiry(&op, exp, now, "getex"); err != nil {
		// Redis checks the expiry only once it has found a string: a
		// missing key still answers nil and a hash WRONGTYPE.
		return key1(shard.KindGet, args), &errIfFound{err}
	}
	return op, nil
}

func parseMGet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindMGet, Args: args[1:]}, nil
}

func parseMSet(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if len(args)%2 == 0 {
		return shard.Op{}, errWrongArgs("mset")
	}
	return shard.Op{Kind: shard.KindMSet, Args: args[1:]}, nil
}

func parseMSetNX(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	if len(args)%2 == 0 {
		return shard.Op{}, errWrongArgs("msetnx")
	}
	return shard.Op{Kind: shard.KindMSetNX, Args: args[1:]}, nil
}

func parseIncr(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindIncrBy, Key: args[1], N: 1}, nil
}

func parseDecr(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindIncrBy, Key: args[1], N: -1}, nil
}

func parseIncrBy(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := argInt(args[2])
	return shard.Op{Kind: shard.KindIncrBy, Key: args[1], N: n}, err
}

func parseDecrBy(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	n, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	if n == -1<<63 {
		return shard.Op{}, errDecrementOverflow
	}
	return shard.Op{Kind: shard.KindIncrBy, Key: args[1], N: -n}, nil
}

// parseIncrByFloat passes the increment as text: the store parses it as
// a long double, after checking the key's type and value, as Redis does.
func parseIncrByFloat(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindIncrByFloat, Key: args[1], Args: args[2:3]}, nil
}

// parseAppend stamps proto-max-bulk-len into the op: the leader's
// setting bounds the string on every replica.
func parseAppend(c *client, args [][]byte, _ int64) (shard.Op, error) {
	return shard.Op{Kind: shard.KindAppend, Key: args[1], Args: args[2:3], Limit: c.s.config().ProtoMaxBulkLen}, nil
}

func parseGetRange(_ *client, args [][]byte, _ int64) (shard.Op, error) {
	start, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	end, err := argInt(args[3])
	if err != nil {
		return shard.Op{}, err
	}
	return shard.Op{Kind: shard.KindGetRange, Key: args[1], N: start, At: end}, nil
}

// parseSetRange stamps proto-max-bulk-len into the op, as parseAppend.
func parseSetRange(c *client, args [][]byte, _ int64) (shard.Op, error) {
	off, err := argInt(args[2])
	if err != nil {
		return shard.Op{}, err
	}
	if off < 0 {
		return shard.Op{}, shard.ErrOffsetRange
	}
	return shard.Op{Kind: shard.KindSetRange, Key: args[1], N: off, Args: args[3:4], Limit: c.s.config().ProtoMaxBulkLen}, nil
}
