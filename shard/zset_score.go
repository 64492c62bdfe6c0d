package shard

import (
	"math"
	"strconv"
	"strings"
)

// Score parsing and formatting, as Redis 7.0 does them.

// ParseScore parses a score the way Redis's string2d does (ZADD,
// ZINCRBY, WEIGHTS): the whole argument must be a C strtod number (decimal
// or hexadecimal, "inf" or "infinity" in any case, an optional sign), with
// no leading space; NaN, and values that overflow to infinity or
// underflow to zero, are refused.
func ParseScore[T ~string | ~[]byte](b T) (float64, bool) {
	if f, ok := smallIntScore(b); ok {
		return f, true
	}
	s := string(b)
	if len(s) == 0 || isSpace(s[0]) {
		return 0, false
	}
	f, ok, erange := strtod(s)
	if !ok || erange {
		return 0, false
	}
	return f, true
}

// smallIntScore parses the common score, an integer such as a Unix time
// in milliseconds, without strtod: an optional '-' and 1 to 15 decimal
// digits. Every such integer is a float64 exactly, which is what strtod
// returns for it ("-0" gives -0 as strtod does). ok is false for any other
// text, which ParseScore then hands to strtod.
func smallIntScore[T ~string | ~[]byte](b T) (float64, bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	if n := len(b) - i; n < 1 || n > 15 {
		return 0, false
	}
	var v int64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	f := float64(v)
	if neg {
		f = -f
	}
	return f, true
}

// scoreBound is one end of a score range (ZRANGEBYSCORE, ZCOUNT...).
type scoreBound struct {
	v  float64
	ex bool // exclusive: "(" prefix
}

// ParseScoreBound parses one end of a score range as Redis's
// zslParseRange does: an optional "(" for an exclusive bound, then a
// strtod number that may have leading space, may overflow to infinity and
// may be empty (zero), but must not be NaN or have trailing characters.
func ParseScoreBound[T ~string | ~[]byte](b T) (v float64, exclusive, ok bool) {
	s := string(b)
	if len(s) > 0 && s[0] == '(' {
		s, exclusive = s[1:], true
	}
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	if s == "" {
		return 0, exclusive, true
	}
	f, ok, _ := strtod(s)
	if !ok {
		return 0, false, false
	}
	return f, exclusive, true
}

// lexBound is one end of a lexicographic range (ZRANGEBYLEX...).
type lexBound struct {
	inf int8 // -1: "-" (below everything), 1: "+" (above everything), 0: s
	s   string
	ex  bool
}

// ParseLexBound reports whether b is a valid end of a lexicographic
// range, as Redis's zslParseLexRangeItem: "-", "+", or "(" or "["
// followed by a string.
func ParseLexBound[T ~string | ~[]byte](b T) bool {
	_, ok := parseLexBound(string(b))
	return ok
}

func parseLexBound(s string) (lexBound, bool) {
	if s == "" {
		return lexBound{}, false
	}
	switch s[0] {
	case '+':
		return lexBound{inf: 1, ex: true}, len(s) == 1
	case '-':
		return lexBound{inf: -1, ex: true}, len(s) == 1
	case '(':
		return lexBound{s: s[1:], ex: true}, true
	case '[':
		return lexBound{s: s[1:]}, true
	}
	return lexBound{}, false
}

// cmpLex compares member m with bound b (Redis's sdscmplex).
func cmpLex(m string, b lexBound) int {
	switch b.inf {
	case -1:
		return 1
	case 1:
		return -1
	}
	return strings.Compare(m, b.s)
}

// strtod parses s (no leading space) as C's strtod would, requiring it to
// consume all of s. erange reports an overflow to infinity or an
// underflow to zero of a non-zero number.
func strtod(s string) (f float64, ok, erange bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	body := s[i:]
	lower := strings.ToLower(body)
	switch lower {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true, false
		}
		return math.Inf(1), true, false
	}
	if strings.HasPrefix(lower, "nan") {
		return 0, false, false
	}
	hex := strings.HasPrefix(lower, "0x")
	j := 0
	if hex {
		j = 2
	}
	isDigit := func(c byte) bool {
		if hex {
			return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
		}
		return c >= '0' && c <= '9'
	}
	digits, nonzero := 0, false
	for j < len(lower) && isDigit(lower[j]) {
		digits++
		nonzero = nonzero || lower[j] != '0'
		j++
	}
	if j < len(lower) && lower[j] == '.' {
		j++
		for j < len(lower) && isDigit(lower[j]) {
			digits++
			nonzero = nonzero || lower[j] != '0'
			j++
		}
	}
	if digits == 0 {
		return 0, false, false
	}
	expChar := byte('e')
	if hex {
		expChar = 'p'
	}
	hasExp := false
	if j < len(lower) && lower[j] == expChar {
		k := j + 1
		if k < len(lower) && (lower[k] == '+' || lower[k] == '-') {
			k++
		}
		start := k
		for k < len(lower) && lower[k] >= '0' && lower[k] <= '9' {
			k++
		}
		if k > start {
			j, hasExp = k, true
		}
	}
	if j != len(lower) {
		return 0, false, false
	}
	num := lower
	if hex && !hasExp {
		num += "p0"
	}
	if hex && strings.HasPrefix(num[2:], ".") {
		num = "0x0" + num[2:]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		ne, isNum := err.(*strconv.NumError)
		if !isNum || ne.Err != strconv.ErrRange {
			return 0, false, false
		}
		erange = true
	}
	if v == 0 && nonzero {
		erange = true
	}
	if neg {
		v = -v
	}
	return v, true, erange
}

// FormatScore formats a score as Redis 7.0 replies with it
// (addReplyDouble): "inf", "-inf", otherwise printf's %.17g.
func FormatScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// formatListpackScore formats a score as a listpack-encoded sorted set
// stores it (Redis 7.0's d2string), which is what ZSCAN returns for one:
// integers within ±2^62 in plain digits, otherwise as FormatScore.
func formatListpackScore(f float64) string {
	if math.Abs(f) <= 1<<62 && f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return FormatScore(f)
}
