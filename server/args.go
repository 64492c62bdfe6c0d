package server

import (
	"errors"
	"math"

	"sessiond/shard"
)

// Argument errors, in Redis's words.
var (
	errSyntax   = errors.New("ERR syntax error")
	errNotInt   = shard.ErrNotInteger
	errNotFloat = shard.ErrNotFloat

	errDecrementOverflow = errors.New("ERR decrement would overflow")
)

// errIfFound is returned by a parser, with a read op that looks the key
// up, for an argument error Redis reports only after finding the key with
// the right type (GETEX's expiry value). A null or error result is the
// reply; any other result is replaced by err.
type errIfFound struct{ err error }

func (e *errIfFound) Error() string { return e.err.Error() }
func (e *errIfFound) Unwrap() error { return e.err }

// errWrongArgs is the arity error for a command (or subcommand) name.
func errWrongArgs(name string) error {
	return errors.New("ERR wrong number of arguments for '" + name + "' command")
}

// errInvalidExpire is Redis's error for a bad expiry time in cmd.
func errInvalidExpire(cmd string) error {
	return errors.New("ERR invalid expire time in '" + cmd + "' command")
}

// eq reports whether arg equals the lower-case word s, ignoring case.
func eq(arg []byte, s string) bool {
	if len(arg) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := arg[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// argInt parses an integer argument as Redis does.
func argInt(b []byte) (int64, error) {
	v, ok := shard.ParseInt(b)
	if !ok {
		return 0, errNotInt
	}
	return v, nil
}

// argFloat parses a float argument as Redis does.
func argFloat(b []byte) (float64, error) {
	v, ok := shard.ParseFloat(b)
	if !ok {
		return 0, errNotFloat
	}
	return v, nil
}

// expireUnit says how an expiry argument is to be read.
type expireUnit struct {
	millis   bool // PX, PEXPIRE...: milliseconds, else seconds
	absolute bool // EXAT, PXAT, EXPIREAT: a Unix time, else relative to now
}

// deadline turns an expiry argument into an absolute Unix ms deadline,
// with Redis's checks for SET/SETEX/GETEX: the value must be > 0 and the
// result must not overflow. cmd names the command in the error.
func deadline(arg []byte, u expireUnit, now int64, cmd string) (int64, error) {
	v, err := argInt(arg)
	if err != nil {
		return 0, err
	}
	if v <= 0 || (!u.millis && v > math.MaxInt64/1000) {
		return 0, errInvalidExpire(cmd)
	}
	if !u.millis {
		v *= 1000
	}
	if !u.absolute {
		if v > math.MaxInt64-now {
			return 0, errInvalidExpire(cmd)
		}
		v += now
	}
	return v, nil
}
