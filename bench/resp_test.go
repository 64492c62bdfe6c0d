package bench

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestAppendCommand(t *testing.T) {
	got := string(appendCommand(nil, "HSET", "sess:1", "", "é"))
	want := "*4\r\n$4\r\nHSET\r\n$6\r\nsess:1\r\n$0\r\n\r\n$2\r\né\r\n"
	if got != want {
		t.Fatalf("appendCommand = %q, want %q", got, want)
	}
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Reply
		wantErr error
	}{
		{"simple", "+OK\r\n", Reply{Kind: '+', Str: "OK"}, nil},
		{"error", "-ERR nope\r\n", Reply{Kind: '-', Str: "ERR nope"}, nil},
		{"integer", ":-42\r\n", Reply{Kind: ':', Int: -42}, nil},
		{"bulk with CRLF inside", "$4\r\na\r\nb\r\n", Reply{Kind: '$', Str: "a\r\nb"}, nil},
		{"null bulk", "$-1\r\n", Reply{Kind: '$', Null: true}, nil},
		{"null array", "*-1\r\n", Reply{Kind: '*', Null: true}, nil},
		{"nested", "*2\r\n$1\r\nf\r\n*1\r\n:1\r\n", Reply{Kind: '*', Elems: []Reply{{Kind: '$', Str: "f"}, {Kind: '*', Elems: []Reply{{Kind: ':', Int: 1}}}}}, nil},
		{"bad type", "!3\r\nabc\r\n", Reply{}, errProtocol},
		{"bad length", "$x\r\n", Reply{}, errProtocol},
		{"no CR", "+OK\n", Reply{}, errProtocol},
		{"truncated", "$10\r\nabc", Reply{}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readReply(bufio.NewReader(strings.NewReader(tt.in)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSkipReply(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLen  int64
		wantErr  string // the ReplyError text, if any
		wantNext string // the reply that must follow, proving the stream stays in sync
	}{
		{"simple", "+OK\r\n", 0, "", "+NEXT"},
		{"bulk", "$5\r\nhello\r\n", 5, "", "+NEXT"},
		{"null", "$-1\r\n", -1, "", "+NEXT"},
		{"empty array (a miss)", "*0\r\n", 0, "", "+NEXT"},
		{"hash", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", 4, "", "+NEXT"},
		{"error", "-ERR unknown command 'hgetall'\r\n", 0, "ERR unknown command 'hgetall'", "+NEXT"},
		{"error inside an array", "*3\r\n:1\r\n-WRONGTYPE bad\r\n-ERR second\r\n", 3, "WRONGTYPE bad", "+NEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tt.in + tt.wantNext + "\r\n"))
			n, err := skipReply(r)
			var re *ReplyError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (!errors.As(err, &re) || re.Msg != tt.wantErr):
				t.Fatalf("err = %v, want ReplyError %q", err, tt.wantErr)
			}
			if n != tt.wantLen {
				t.Fatalf("length = %d, want %d", n, tt.wantLen)
			}
			next, err := readReply(r)
			if err != nil || "+"+next.Str != tt.wantNext {
				t.Fatalf("next reply = %+v, %v; want %s", next, err, tt.wantNext)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "17": 17, "-1": -1, "9223372036854775": 9223372036854775} {
		if got, err := parseInt([]byte(in)); err != nil || got != want {
			t.Errorf("parseInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "1x", "+1", "99999999999999999999"} {
		if _, err := parseInt([]byte(in)); !errors.Is(err, errProtocol) {
			t.Errorf("parseInt(%q) err = %v, want a protocol error", in, err)
		}
	}
}
