package shard

import "testing"

// BenchmarkDecodeHSet decodes a session HSET (one key, ten field/value
// pairs) the way a log entry's ops are decoded: each with its own Args
// slice (Decode) or from an arena reused entry after entry (DecodeArena).
func BenchmarkDecodeHSet(b *testing.B) {
	op := Op{Kind: KindHSet, Now: 1_700_000_000_000, Key: []byte("sess:000000012345")}
	for _, s := range []string{"user_id", "1234567", "created", "1700000000", "last_seen", "1700000123",
		"ip", "203.0.113.42", "ua", "Mozilla/5.0", "csrf", "9f8e7d6c5b4a", "role", "member",
		"locale", "en-US", "theme", "dark", "cart", "3"} {
		op.Args = append(op.Args, []byte(s))
	}
	enc := AppendEncode(nil, &op)
	const perEntry = 330
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeArena", func(b *testing.B) {
		b.ReportAllocs()
		arena := make([][]byte, 0, 256)
		for i := range b.N {
			if i%perEntry == 0 {
				clear(arena)
				arena = arena[:0]
			}
			var err error
			if _, arena, err = DecodeArena(enc, arena); err != nil {
				b.Fatal(err)
			}
		}
	})
}
