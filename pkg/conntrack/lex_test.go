package conntrack

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lexed is a token as the tests write it.
type lexed struct {
	Kind tokKind
	ID   keyID
	Key  string
	Val  string
	Col  int
}

// lexAll reads every token of line, reading pair values as plain text.
func lexAll(line string) []lexed {
	l := lexer{b: []byte(line)}
	var out []lexed
	var t token
	for l.next(&t); t.kind != tokEnd; l.next(&t) {
		x := lexed{Kind: t.kind, ID: t.id, Key: string(t.key), Val: string(t.val), Col: t.col}
		if t.kind == tokPair {
			x.Val = string(l.value())
		}
		out = append(out, x)
	}
	return out
}

func TestLexer(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []lexed
	}{
		{name: "empty", line: ""},
		{name: "blank", line: " \t "},
		{
			name: "header words and padding",
			line: "ipv4     2 tcp\t6",
			want: []lexed{
				{Kind: tokWord, Key: "ipv4", Col: 1}, {Kind: tokWord, Key: "2", Col: 10},
				{Kind: tokWord, Key: "tcp", Col: 12}, {Kind: tokWord, Key: "6", Col: 16},
			},
		},
		{
			name: "known and unknown keys",
			line: "src=10.0.0.5 sport=1 helper=ftp id=7 delta-time=3 zone-orig=1",
			want: []lexed{
				{Kind: tokPair, ID: keySrc, Key: "src", Val: "10.0.0.5", Col: 1},
				{Kind: tokPair, ID: keySport, Key: "sport", Val: "1", Col: 14},
				{Kind: tokPair, Key: "helper", Val: "ftp", Col: 22},
				{Kind: tokPair, ID: keyIdent, Key: "id", Val: "7", Col: 33},
				{Kind: tokPair, ID: keyDeltaTime, Key: "delta-time", Val: "3", Col: 38},
				{Kind: tokPair, Key: "zone-orig", Val: "1", Col: 51},
			},
		},
		{
			name: "brackets hold spaces",
			line: "[ASSURED] [start=Wed Nov 25 17:08:29 2026] use=1",
			want: []lexed{
				{Kind: tokBracket, Val: "ASSURED", Col: 1},
				{Kind: tokBracket, Val: "start=Wed Nov 25 17:08:29 2026", Col: 11},
				{Kind: tokPair, ID: keyUse, Key: "use", Val: "1", Col: 44},
			},
		},
		{
			name: "unclosed bracket swallows the rest",
			line: "mark=0 [ASSURED use=1",
			want: []lexed{
				{Kind: tokPair, ID: keyMark, Key: "mark", Val: "0", Col: 1},
				{Kind: tokBad, Val: "ASSURED use=1", Col: 8},
			},
		},
		{
			name: "value with an equals sign and an empty value",
			line: "secctx=a=b dport=",
			want: []lexed{
				{Kind: tokPair, Key: "secctx", Val: "a=b", Col: 1},
				{Kind: tokPair, ID: keyDport, Key: "dport", Val: "", Col: 12},
			},
		},
		{
			name: "lone equals is a pair with an empty key",
			line: "= x",
			want: []lexed{{Kind: tokPair, Key: "", Val: "", Col: 1}, {Kind: tokWord, Key: "x", Col: 3}},
		},
		{
			name: "prefix of a known key is not that key",
			line: "sr=1 srcx=2 src",
			want: []lexed{
				{Kind: tokPair, Key: "sr", Val: "1", Col: 1},
				{Kind: tokPair, Key: "srcx", Val: "2", Col: 6},
				{Kind: tokWord, Key: "src", Col: 13},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, lexAll(tc.line)); diff != "" {
				t.Errorf("tokens mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLexerSkipsUnreadValue: a pair whose value the parser did not read
// must not turn its value into tokens.
func TestLexerSkipsUnreadValue(t *testing.T) {
	l := lexer{b: []byte("helper=a=b src=1.2.3.4")}
	var t1, t2 token
	l.next(&t1)
	l.next(&t2)
	if t2.id != keySrc || t2.col != 12 {
		t.Errorf("second token = %+v, want src= at column 12", t2)
	}
}

func TestLexerDecimal(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		max     uint64
		want    uint64
		wantWhy string
		wantPos int
	}{
		{name: "zero", line: "x=0", max: 255, want: 0, wantPos: 3},
		{name: "max", line: "x=255 y", max: 255, want: 255, wantPos: 5},
		{name: "over max", line: "x=256 y", max: 255, wantWhy: reasonRange, wantPos: 5},
		{name: "uint64 max", line: "x=18446744073709551615", max: 1<<64 - 1, want: 1<<64 - 1, wantPos: 22},
		{name: "uint64 max plus one", line: "x=18446744073709551616", max: 1<<64 - 1, wantWhy: reasonRange, wantPos: 22},
		{name: "21 digits", line: "x=100000000000000000000", max: 1<<64 - 1, wantWhy: reasonRange, wantPos: 23},
		{name: "leading zeros", line: "x=0007", max: 255, want: 7, wantPos: 6},
		{name: "empty", line: "x= y", max: 255, wantWhy: reasonEmpty, wantPos: 2},
		{name: "junk after digits", line: "x=12ab y", max: 255, wantWhy: reasonNotNumber, wantPos: 6},
		{name: "sign", line: "x=+1", max: 255, wantWhy: reasonNotNumber, wantPos: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lexer{b: []byte(tc.line)}
			var tok token
			l.next(&tok)
			got, why := l.decimal(tc.max)
			if got != tc.want || why != tc.wantWhy || l.pos != tc.wantPos || l.pending {
				t.Errorf("decimal = %d, %q, pos %d, pending %v; want %d, %q, pos %d", got, why, l.pos, l.pending, tc.want, tc.wantWhy, tc.wantPos)
			}
		})
	}
}

func TestLexerAddr(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // "" for an error
	}{
		{name: "dotted quad", value: "203.0.113.80", want: "203.0.113.80"},
		{name: "zeros and 255", value: "0.0.0.255", want: "0.0.0.255"},
		{name: "compressed IPv6", value: "2001:db8::80", want: "2001:db8::80"},
		{name: "IPv6 starting with digits", value: "2001:0db8:0000:0000:0000:0000:0000:0080", want: "2001:db8::80"},
		{name: "mapped IPv4", value: "::ffff:10.0.0.5", want: "::ffff:10.0.0.5"},
		{name: "octet 256", value: "1.2.3.256"},
		{name: "four-digit octet", value: "1.2.3.4567"},
		{name: "leading zero", value: "1.2.03.4"},
		{name: "trailing dot", value: "1.2.3.4."},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line := "src=" + tc.value + " x"
			l := lexer{b: []byte(line)}
			var tok token
			l.next(&tok)
			got, ok := l.addr()
			if tc.want == "" {
				if ok {
					t.Errorf("addr(%q) = %v, want an error", tc.value, got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Errorf("addr(%q) = %v, %v; want %s", tc.value, got, ok, tc.want)
			}
			if l.pos != 4+len(tc.value) || l.pending {
				t.Errorf("after addr pos = %d pending %v, want %d", l.pos, l.pending, 4+len(tc.value))
			}
		})
	}
}
