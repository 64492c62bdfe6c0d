package shard

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"testing"
)

// codecSamples are ops covering every field, flag and nesting the codec
// knows, including values at the edges of their ranges.
func codecSamples() []Op {
	b := func(s string) []byte { return []byte(s) }
	return []Op{
		{Kind: KindGet, Key: b("k")},
		{Kind: KindSet, Flags: NX | Get | SetExpiry, Now: 1_700_000_000_000, At: 1_700_000_000_150, Key: b("sess:42"), Args: [][]byte{b("v")}},
		{Kind: KindSet, Key: b(""), Args: [][]byte{b("")}},
		{Kind: KindSet, Key: b("k"), Args: [][]byte{bytes.Repeat([]byte{0, 0xff, '\r', '\n'}, 100)}},
		{Kind: KindIncrBy, Now: -1, Key: b("n"), N: math.MinInt64},
		{Kind: KindIncrBy, Key: b("n"), N: math.MaxInt64},
		{Kind: KindIncrByFloat, Key: b("f"), F: math.Copysign(0, -1)},
		{Kind: KindIncrByFloat, Key: b("f"), F: math.Inf(1)},
		{Kind: KindIncrByFloat, Key: b("f"), F: 1e-300},
		{Kind: KindGetRange, Key: b("k"), N: -5, At: math.MaxInt64},
		{Kind: KindMSet, Args: [][]byte{b("a"), b("1"), b("b"), b("2")}},
		{Kind: KindDel, Args: [][]byte{b("a"), b("b"), b("c")}},
		{Kind: KindExpire, Flags: XX | GT, Now: 5, At: math.MinInt64, Key: b("k")},
		{Kind: KindScan, Flags: Match | TypeFilter, N: -1, At: 10, Args: [][]byte{b("sess:*"), b("hash")}},
		{Kind: KindHSetEx, Flags: FNX | KeepTTL | 1<<31, Key: b("h"), Args: [][]byte{b("f"), b("v")}},
		{Kind: KindReap, Now: 1_700_000_000_200, Args: [][]byte{b("k1"), b("k2")}},
		{Kind: KindDBSize},
		{Kind: KindMulti, Now: 9, Subs: []Op{
			{Kind: KindSet, Now: 9, Key: b("a"), Args: [][]byte{b("1")}},
			{Kind: KindIncrBy, Now: 9, Key: b("a"), N: 2},
			{Kind: KindFlush},
		}, Watch: []Watch{
			{Key: b("a"), Version: 7, Seq: 3},
			{Key: b("b"), Version: math.MaxUint64, Seq: 0, Expired: true},
		}},
		{Kind: KindMulti, Watch: []Watch{{Key: b("w")}}},
		{Kind: Kind(255), Flags: math.MaxUint32},
		// Limits (version 2 encodings).
		{Kind: KindAppend, Now: 3, Key: b("s"), Args: [][]byte{b("x")}, Limit: 1 << 20},
		{Kind: KindSetRange, Key: b("s"), N: 7, Args: [][]byte{b("x")}, Limit: math.MaxInt64},
		{Kind: KindAppend, Key: b("s"), Limit: math.MinInt64},
		{Kind: KindHSet, Flags: NX, Key: b("h"), Args: [][]byte{b("f"), b("v")}, HashEntries: 128, HashValue: 64},
		{Kind: KindHSetEx, Key: b("h"), HashEntries: math.MaxInt32, HashValue: math.MinInt32},
		{Kind: KindHIncrBy, Key: b("h"), HashValue: 1},
		{Kind: Kind(255), Flags: math.MaxUint32, Limit: -1, HashEntries: -1, HashValue: 1},
		// A MULTI whose only wide op is a sub: the whole tree is version 2.
		{Kind: KindMulti, Now: 9, Subs: []Op{
			{Kind: KindGet, Key: b("a")},
			{Kind: KindHSet, Now: 9, Key: b("h"), Args: [][]byte{b("f"), b("v")}, HashEntries: 2, HashValue: 16},
			{Kind: KindAppend, Now: 9, Key: b("s"), Args: [][]byte{b("x")}, Limit: 5},
		}, Watch: []Watch{{Key: b("a"), Version: 7, Seq: 3}}},
	}
}

// sameOp compares ops field by field; a nil and an empty list are the
// same, and floats compare by their bits.
func sameOp(a, b *Op) bool {
	if a.Kind != b.Kind || a.Flags != b.Flags || a.Now != b.Now || a.At != b.At || a.N != b.N ||
		a.Limit != b.Limit || a.HashEntries != b.HashEntries || a.HashValue != b.HashValue ||
		math.Float64bits(a.F) != math.Float64bits(b.F) || (a.Key == nil) != (b.Key == nil) || !bytes.Equal(a.Key, b.Key) ||
		len(a.Args) != len(b.Args) || len(a.Subs) != len(b.Subs) || len(a.Watch) != len(b.Watch) {
		return false
	}
	for i := range a.Args {
		if !bytes.Equal(a.Args[i], b.Args[i]) {
			return false
		}
	}
	for i := range a.Subs {
		if !sameOp(&a.Subs[i], &b.Subs[i]) {
			return false
		}
	}
	for i := range a.Watch {
		x, y := a.Watch[i], b.Watch[i]
		if !bytes.Equal(x.Key, y.Key) || x.Version != y.Version || x.Seq != y.Seq || x.Expired != y.Expired {
			return false
		}
	}
	return true
}

func TestCodecRoundTrip(t *testing.T) {
	for i, op := range codecSamples() {
		enc := AppendEncode([]byte("prefix"), &op)
		if string(enc[:6]) != "prefix" {
			t.Fatalf("sample %d: AppendEncode overwrote dst", i)
		}
		got, err := Decode(enc[6:])
		if err != nil {
			t.Fatalf("sample %d (%+v): %v", i, op, err)
		}
		if !sameOp(&op, &got) {
			t.Fatalf("sample %d: round trip\n got %+v\nwant %+v", i, got, op)
		}
	}
}

// TestCodecGolden freezes the encoding: ops in the replication log and in
// snapshots written today must decode the same way forever.
func TestCodecGolden(t *testing.T) {
	tests := []struct {
		op  Op
		hex string
	}{
		// version, kind, presence (Now At Key Args), flags (NX Get
		// SetExpiry), Now, At (zigzag varints), key, 1 arg.
		{codecSamples()[1], "01" + "02" + "33" + "a18004" + "80a0abfef962" + "aca2abfef962" + "07" + "736573733a3432" + "01" + "0176"},
		{Op{Kind: KindGet, Key: []byte("k")}, "0101100001" + "6b"},
		// -0 is kept: presence F and Key, the float's bits little-endian.
		{codecSamples()[6], "01" + "09" + "18" + "00" + "0000000000000080" + "0166"},
		{Op{Kind: KindMulti, Subs: []Op{{Kind: KindGet, Key: []byte("a")}}, Watch: []Watch{{Key: []byte("a"), Version: 1, Expired: true}}},
			"0164c000" + "01" + "01100001" + "61" + "01" + "0161010001"},
		// Version 2: presence is a uvarint. APPEND: presence Key Args
		// Limit (0x130 = b0 02), key, 1 arg, Limit 1 MiB (zigzag).
		{Op{Kind: KindAppend, Key: []byte("s"), Args: [][]byte{[]byte("x")}, Limit: 1 << 20},
			"02" + "0a" + "b002" + "00" + "0173" + "01" + "0178" + "80808001"},
		// HSET NX: presence Key Args HashLimits (0x230 = b0 04), flags
		// NX, key, 2 args, entries 128 (8002) and value 64 (8001).
		{Op{Kind: KindHSet, Flags: NX, Key: []byte("h"), Args: [][]byte{[]byte("f"), []byte("v")}, HashEntries: 128, HashValue: 64},
			"02" + "32" + "b004" + "01" + "0168" + "02" + "0166" + "0176" + "8002" + "8001"},
		// A wide sub makes the MULTI version 2: its own presence (Subs)
		// is then a uvarint too (40), as is the plain GET's (10).
		{Op{Kind: KindMulti, Subs: []Op{{Kind: KindGet, Key: []byte("a")}, {Kind: KindAppend, Limit: 1}}},
			"02" + "64" + "40" + "00" + "02" + "01100001" + "61" + "0a800200" + "02"},
	}
	for i, tc := range tests {
		enc := AppendEncode(nil, &tc.op)
		if got := hex.EncodeToString(enc); got != tc.hex {
			t.Errorf("golden %d: encoding is %s, frozen as %s", i, got, tc.hex)
		}
		want, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(want); err != nil || !sameOp(&got, &tc.op) {
			t.Errorf("golden %d: decodes to %+v, %v; want %+v", i, got, err, tc.op)
		}
	}
}

// TestCodecVersion1UnlessWide checks that an op without limits keeps the
// version 1 encoding (so ops written before limits existed encode as
// they did), one with limits, or with a sub that has them, is version 2,
// and one with FastSample (or a sub with it) version 3.
func TestCodecVersion1UnlessWide(t *testing.T) {
	for i, op := range codecSamples() {
		want := byte(codecVersion)
		switch {
		case anyFlag(&op, FastSample):
			want = codecVersionSample
		case wide(&op):
			want = codecVersionWide
		}
		hasLimits := op.Limit != 0 || op.HashEntries != 0 || op.HashValue != 0
		for _, s := range op.Subs {
			hasLimits = hasLimits || s.Limit != 0 || s.HashEntries != 0 || s.HashValue != 0
		}
		if wide(&op) != hasLimits {
			t.Errorf("sample %d: wide = %v, carries limits = %v", i, wide(&op), hasLimits)
		}
		if got := AppendEncode(nil, &op)[0]; got != want {
			t.Errorf("sample %d: version %d, want %d", i, got, want)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	valid := AppendEncode(nil, &codecSamples()[17]) // the MULTI: every list kind
	cases := map[string][]byte{
		"empty":                 {},
		"unknown version":       {4, 1, 0, 0},
		"version 255":           {255, 1, 0, 0},
		"v2 unknown presence":   {2, 1, 0x80, 0x08, 0},
		"v2 huge presence":      {2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0},
		"v2 limit missing":      {2, 10, 0x80, 0x02, 0},
		"v2 hash value missing": {2, 50, 0x80, 0x04, 0, 2},
		"v2 entries over int32": {2, 50, 0x80, 0x04, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0},
		"v2 value under int32":  {2, 50, 0x80, 0x04, 0, 0, 0x81, 0x80, 0x80, 0x80, 0x10},
		"version 0":             {0, 1, 0, 0},
		"trailing bytes":        append(AppendEncode(nil, &Op{Kind: KindGet}), 0),
		"flags over 32 bit":     {1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10},
		"bad uvarint":           {1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"short float":           {1, 9, hasF, 0, 1, 2, 3},
		"key too long":          {1, 1, hasKey, 0, 5, 'a'},
		"args count huge":       {1, 20, hasArgs, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"args count > left":     {1, 20, hasArgs, 0, 3, 0, 0},
		"subs count > left":     {1, 100, hasSubs, 0, 2, 1, 0, 0},
		"subs nested":           {1, 100, hasSubs, 0, 1, 100, hasSubs, 0, 1, 1, 0, 0},
		"watch count > left":    {1, 100, hasWatch, 0, 2, 1, 'a', 0, 0, 0},
		"watch flag 2":          {1, 100, hasWatch, 0, 1, 1, 'a', 0, 0, 2},
		"watch truncated":       {1, 100, hasWatch, 0, 1, 1, 'a', 0, 0},
	}
	for i := 1; i < len(valid); i++ {
		cases[fmt.Sprint("truncated to ", i, " bytes")] = valid[:i]
	}
	for name, b := range cases {
		if op, err := Decode(b); !errors.Is(err, ErrCorruptOp) {
			t.Errorf("%s (% x): got %+v, %v; want ErrCorruptOp", name, b, op, err)
		}
	}
}
