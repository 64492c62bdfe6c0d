package shard

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"sessiond/ttl"
)

// strT0 is the time, in Unix ms, of the string tests' ops.
const strT0 = int64(1_700_000_000_000)

func strStore() *Store {
	return New(Config{Clock: ttl.NewFakeClock(time.UnixMilli(strT0))})
}

func strOp(kind Kind, key string, args ...string) Op {
	op := Op{Kind: kind, Now: strT0, Key: []byte(key)}
	for _, a := range args {
		op.Args = append(op.Args, []byte(a))
	}
	return op
}

// strApply applies ops in order and returns the last result.
func strApply(s *Store, ops ...Op) Result {
	var r Result
	for i := range ops {
		r = s.Apply(&ops[i])
	}
	return r
}

func sameResult(a, b Result) bool {
	if a.Kind != b.Kind || a.Int != b.Int || a.Str != b.Str || !errors.Is(a.Err, b.Err) {
		return false
	}
	return true
}

// The expected values were read from redis-server 7.0 on x86-64.
func TestLongDoubleMatchesRedis(t *testing.T) {
	tests := []struct {
		cur, incr string
		want      string // "" means refused as not a float; "x..." means starts with x
	}{
		{"0.1", "0.2", "0.3"},
		{"10.50", "0.1", "10.6"},
		{"10.6", "-5", "5.6"},
		{"5.0e3", "2.0e2", "5200"},
		{"0", "1e-20", "0"},
		{"1", "0x.8", "1.5"},
		{"1", "0x1.", "2"},
		{"0", "0x1p-2", "0.25"},
		{"0", "0X1E", "30"},
		{"-0", "-0", "0"},
		{"0.1", "-0.1", "0"},
		{"3.14159265358979323846264338327950288", "0", "3.14159265358979324"},
		{"123456789.123456789", "0", "123456789.12345678899873747"},
		{"9223372036854775807", "1", "9223372036854775808"},
		{"1", "1e-17", "1.00000000000000001"},
		{"0.000000000000000015", "0", "0.00000000000000002"},
		{"0.000000000000000005", "0", "0"},
		{"1e308", "1e308", "199999999999999999993371759311691291321120199694831134415594095989843469737676..."},
		{"+.5", "1", "1.5"},
		{"-.5e1", "1", "-4"},
		{"1.e2", "1", "101"},
		{"1e0010", "0", "10000000000"},
		{"0e99999999999", "0", "0"},
		{"1.8e-4951", "0", ""},
		{"1.9e-4951", "0", "0"},
		{"0x1p-16446", "0", ""},
		{"1e-4960", "0", ""},
		{"1e4933", "0", ""},
		{"1e99999999999", "0", ""},
		{"0x1p99999999999", "0", ""},
		{"nan", "0", ""},
		{"1", "nan(123)", ""},
		{"0x", "1", ""},
		{"0x1p", "1", ""},
		{"1e", "1", ""},
		{"1e+", "1", ""},
		{".", "1", ""},
		{"1 ", "1", ""},
		{" 1", "1", ""},
		{"1_0", "1", ""},
		{"0b1", "1", ""},
		{"0o7", "1", ""},
		{"1\x00", "1", ""},
		{"\x001", "1", ""},
		{"", "1", ""},
		{strings.Repeat("1", 5120), "0", ""},
	}
	for _, tc := range tests {
		a, ok1 := ParseLongDouble(tc.cur)
		b, ok2 := ParseLongDouble(tc.incr)
		if !ok1 || !ok2 {
			if tc.want != "" {
				t.Errorf("%q + %q: not parsed, want %s", tc.cur, tc.incr, tc.want)
			}
			continue
		}
		sum, ok := a.Add(b)
		if !ok {
			t.Errorf("%q + %q: overflow", tc.cur, tc.incr)
			continue
		}
		got := sum.String()
		prefix, cut := strings.CutSuffix(tc.want, "...")
		if cut && !strings.HasPrefix(got, prefix) || !cut && got != tc.want {
			t.Errorf("%q + %q = %s, want %s", tc.cur, tc.incr, got, tc.want)
		}
	}
}

func TestLongDoubleInfinity(t *testing.T) {
	for _, s := range []string{"inf", "-inf", "INF", "infinity", "-Infinity"} {
		x, ok := ParseLongDouble(s)
		if !ok || !x.IsInf() {
			t.Errorf("ParseLongDouble(%q) = %v, %v; want an infinity", s, x, ok)
		}
		if _, ok := x.Add(LongDouble{}); ok {
			t.Errorf("%s + 0 succeeded; want NaN or Infinity refused", s)
		}
	}
	big, _ := ParseLongDouble("1.1e4932")
	if _, ok := big.Add(big); ok {
		t.Error("1.1e4932 + 1.1e4932 succeeded; want overflow refused")
	}
	if got := LongDoubleFromFloat64(math.Inf(-1)).String(); got != "-inf" {
		t.Errorf("String of -Inf = %q", got)
	}
	if _, ok := LongDoubleFromFloat64(math.NaN()).Add(LongDouble{}); ok {
		t.Error("NaN + 0 succeeded; want NaN or Infinity refused")
	}
	if got := LongDoubleFromFloat64(2.5).String(); got != "2.5" {
		t.Errorf("String of 2.5 = %q", got)
	}
}

func TestIncrByFloatOrderOfChecks(t *testing.T) {
	hash := Op{Kind: KindHSet, Now: strT0, Key: []byte("h"), Args: [][]byte{[]byte("f"), []byte("v")}}
	tests := []struct {
		name  string
		setup []Op
		op    Op
		want  Result
	}{
		{"missing key", nil, strOp(KindIncrByFloat, "k", "1.5"), Str("1.5")},
		{"bad increment", nil, strOp(KindIncrByFloat, "k", "abc"), Err(ErrNotFloat)},
		{"wrong type before bad increment", []Op{hash}, strOp(KindIncrByFloat, "h", "abc"), Err(ErrWrongType)},
		{"bad stored value", []Op{strOp(KindSet, "k", "x")}, strOp(KindIncrByFloat, "k", "1"), Err(ErrNotFloat)},
		{"stored infinity", []Op{strOp(KindSet, "k", "inf")}, strOp(KindIncrByFloat, "k", "1"), Err(ErrNaN)},
		{"infinite increment", nil, strOp(KindIncrByFloat, "k", "-inf"), Err(ErrNaN)},
		{"float64 operand", nil, Op{Kind: KindIncrByFloat, Now: strT0, Key: []byte("k"), F: 0.5}, Str("0.5")},
		{"long double sum", []Op{strOp(KindSet, "k", "0.1")}, strOp(KindIncrByFloat, "k", "0.2"), Str("0.3")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := strStore()
			strApply(s, tc.setup...)
			if got := strApply(s, tc.op); !sameResult(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestIncrByFloatKeepsTTL(t *testing.T) {
	s := strStore()
	set := strOp(KindSet, "k", "1")
	set.At = strT0 + 10_000
	strApply(s, set, strOp(KindIncrByFloat, "k", "0.5"))
	if got := strApply(s, Op{Kind: KindTTL, Now: strT0, Key: []byte("k"), Flags: Millis}); got.Int != 10_000 {
		t.Errorf("PTTL after INCRBYFLOAT = %+v, want 10000", got)
	}
}

func TestSetRangeLimits(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64 // Op.Limit: 0 is Redis's default, 512 MiB
		offset int64
		val    string
		want   Result
	}{
		{"within", 1 << 20, 3, "abc", Int(6)},
		{"at the limit", 1 << 20, 1<<20 - 3, "abc", Int(1 << 20)},
		{"past the limit", 1 << 20, 1<<20 - 2, "abc", Err(ErrStringTooLong)},
		{"offset overflows with the value", 1 << 20, math.MaxInt64, "abc", Err(ErrStringTooLong)},
		{"empty value at a huge offset", 1 << 20, math.MaxInt64, "", Int(0)},
		{"no limit: past 1 MiB is fine", 0, 1<<20 - 2, "abc", Int(1<<20 + 1)},
		{"no limit: past 512 MiB", 0, 512<<20 - 2, "abc", Err(ErrStringTooLong)},
		{"negative limit is the default", -1, 512<<20 - 2, "abc", Err(ErrStringTooLong)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := strStore()
			op := strOp(KindSetRange, "k", tc.val)
			op.N, op.Limit = tc.offset, tc.limit
			if got := strApply(s, op); !sameResult(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGetRange(t *testing.T) {
	tests := []struct {
		start, end int64
		want       string
	}{
		{0, 4, "Hello"},
		{-5, -1, "World"},
		{0, -1, "Hello World"},
		{5, 3, ""},
		{-1, -5, ""},
		{-100, 2, "Hel"},
		{100, 200, ""},
		{math.MinInt64, math.MaxInt64, "Hello World"},
		{math.MaxInt64, math.MinInt64, ""},
	}
	s := strStore()
	strApply(s, strOp(KindSet, "k", "Hello World"))
	for _, tc := range tests {
		op := strOp(KindGetRange, "k")
		op.N, op.At = tc.start, tc.end
		if got := s.Read(&op); got.Kind != RStr || got.Str != tc.want {
			t.Errorf("GETRANGE %d %d = %+v, want %q", tc.start, tc.end, got, tc.want)
		}
	}
}

// TestAppendLimit checks that APPEND is bounded by the op's Limit, not by
// anything the store was configured with, and fails with Redis's error.
func TestAppendLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		have  int // bytes already stored
		add   string
		want  Result
	}{
		{"within", 10, 5, "abcde", Int(10)},
		{"one past", 10, 5, "abcdef", Err(ErrStringTooLong)},
		{"new key past", 3, 0, "abcd", Err(ErrStringTooLong)},
		{"no limit is 512 MiB", 0, 1 << 20, "x", Int(1<<20 + 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := strStore()
			if tc.have > 0 {
				strApply(s, strOp(KindSet, "k", strings.Repeat("v", tc.have)))
			}
			op := strOp(KindAppend, "k", tc.add)
			op.Limit = tc.limit
			got := strApply(s, op)
			if !sameResult(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got.Kind == RErr && got.Err.Error() != "ERR string exceeds maximum allowed size (proto-max-bulk-len)" {
				t.Errorf("error %q is not Redis's", got.Err)
			}
			// A refused APPEND leaves the value as it was.
			if n := strApply(s, strOp(KindStrLen, "k")); got.Kind == RErr && n.Int != int64(tc.have) {
				t.Errorf("STRLEN after a refused APPEND = %+v, want %d", n, tc.have)
			}
		})
	}
}
