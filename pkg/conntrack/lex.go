package conntrack

import "net/netip"

// tokKind is the kind of a lexer token.
type tokKind uint8

const (
	tokEnd     tokKind = iota // end of line
	tokWord                   // a bare word: "ipv4", "6", "ESTABLISHED"
	tokPair                   // key=value: "src=10.0.0.5"
	tokBracket                // [...], which may hold spaces: "[ASSURED]", "[start=Wed Nov 25 17:08:29 2026]"
	tokBad                    // a '[' without its ']'
)

// token is one lexeme of a line. Its slices point into the line. A pair's
// value is not in the token: the parser reads it from the lexer with the
// reader its key calls for (value, decimal, addr), so that each byte of a
// value is looked at once.
type token struct {
	kind tokKind
	id   keyID  // which known key a tokPair has, keyOther for the rest
	key  []byte // the word (tokWord) or the key before '=' (tokPair)
	val  []byte // the text inside the brackets (tokBracket)
	col  int    // 1-based byte column of the token's first byte
}

// valCol is the 1-based column of a pair's value.
func (t *token) valCol() int { return t.col + len(t.key) + 1 }

// keyID names the keys the parser reads, so that it can dispatch on a
// small integer instead of comparing strings.
type keyID uint8

const (
	keyOther keyID = iota
	keySrc
	keyDst
	keySport
	keyDport
	keySrcKey
	keyDstKey
	keyType
	keyCode
	keyIdent
	keyPackets
	keyBytes
	keyMark
	keyUse
	keyZone
	keyDeltaTime
)

// knownKey recognises a known key with its '=' at the start of b and
// returns it with the key's length. It looks at the first byte and then
// compares the few candidates whole: cheaper than scanning for '=' and
// switching on the key's text. The comparisons are spelled out rather than
// looped over a table because constant strings compile to a few integer
// compares; a table lookup cost Parse 10% (measured).
func knownKey(b []byte) (keyID, int) {
	switch b[0] {
	case 's':
		switch {
		case hasPrefix(b, "src="):
			return keySrc, 3
		case hasPrefix(b, "sport="):
			return keySport, 5
		case hasPrefix(b, "srckey="):
			return keySrcKey, 6
		}
	case 'd':
		switch {
		case hasPrefix(b, "dst="):
			return keyDst, 3
		case hasPrefix(b, "dport="):
			return keyDport, 5
		case hasPrefix(b, "dstkey="):
			return keyDstKey, 6
		case hasPrefix(b, "delta-time="):
			return keyDeltaTime, 10
		}
	case 'p':
		if hasPrefix(b, "packets=") {
			return keyPackets, 7
		}
	case 'b':
		if hasPrefix(b, "bytes=") {
			return keyBytes, 5
		}
	case 'm':
		if hasPrefix(b, "mark=") {
			return keyMark, 4
		}
	case 'u':
		if hasPrefix(b, "use=") {
			return keyUse, 3
		}
	case 't':
		if hasPrefix(b, "type=") {
			return keyType, 4
		}
	case 'c':
		if hasPrefix(b, "code=") {
			return keyCode, 4
		}
	case 'i':
		if hasPrefix(b, "id=") {
			return keyIdent, 2
		}
	case 'z':
		if hasPrefix(b, "zone=") {
			return keyZone, 4
		}
	}
	return keyOther, 0
}

// Byte classes for the lexer's inner loops: one table load per byte
// instead of several comparisons.
const (
	clsOther byte = iota
	clsSpace      // ' ' and '\t' separate tokens
	clsEqual      // '=' ends a key
)

var byteClass = [256]byte{' ': clsSpace, '\t': clsSpace, '=': clsEqual}

// lexer splits a conntrack line into tokens separated by spaces and tabs.
// It never looks at a token's meaning: that is the parser's job, because
// the same key means different things in different places ("id=" is the
// ICMP id inside a tuple and the conntrack id after "use=").
type lexer struct {
	b       []byte
	pos     int
	pending bool // a pair's value starts at pos and has not been read
}

// next stores the next token in t, a tokEnd token at the end of the line.
// It fills a token in place rather than returning one because it runs
// twenty times a line.
func (l *lexer) next(t *token) {
	if l.pending {
		l.value()
	}
	b, i := l.b, l.pos
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	t.col = i + 1
	if i == len(b) {
		l.pos = i
		t.kind, t.key, t.val = tokEnd, nil, nil
		return
	}
	start := i
	if id, n := knownKey(b[i:]); id != keyOther {
		l.pos, l.pending = i+n+1, true
		t.kind, t.id, t.key, t.val = tokPair, id, b[i:i+n], nil
		return
	}
	t.id = keyOther
	if b[i] == '[' {
		for j := i + 1; j < len(b); j++ {
			if b[j] == ']' {
				l.pos = j + 1
				t.kind, t.key, t.val = tokBracket, nil, b[i+1:j]
				return
			}
		}
		l.pos = len(b)
		t.kind, t.key, t.val = tokBad, nil, b[i+1:]
		return
	}
	for i < len(b) && byteClass[b[i]] == clsOther {
		i++
	}
	if i == len(b) || b[i] != '=' {
		l.pos = i
		t.kind, t.key, t.val = tokWord, b[start:i], nil
		return
	}
	l.pos, l.pending = i+1, true
	t.kind, t.key, t.val = tokPair, b[start:i], nil
}

// value reads the pending pair value: everything up to the next space.
func (l *lexer) value() []byte {
	b, i := l.b, l.pos
	for i < len(b) && byteClass[b[i]] != clsSpace {
		i++
	}
	v := b[l.pos:i]
	l.pos, l.pending = i, false
	return v
}

// atEnd reports whether i is the end of a value.
func (l *lexer) atEnd(i int) bool { return i == len(l.b) || byteClass[l.b[i]] == clsSpace }

// decimal reads the pending value as an unsigned decimal number no greater
// than max. The reason is "" on success.
func (l *lexer) decimal(max uint64) (uint64, string) {
	b, i := l.b, l.pos
	var v uint64
	over := false
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		// 19 digits always fit in a uint64; check only beyond.
		if n := i - l.pos; n >= 19 && (n >= 20 || v > (1<<64-1-uint64(d))/10) {
			over = true
			continue
		}
		v = v*10 + uint64(d)
	}
	switch {
	case !l.atEnd(i):
		l.value()
		return 0, reasonNotNumber
	case i == l.pos:
		l.pending = false
		return 0, reasonEmpty
	}
	l.pos, l.pending = i, false
	if over || v > max {
		return 0, reasonRange
	}
	return v, ""
}

// addr reads the pending value as an IP address. A dotted quad, by far the
// most common, is parsed in the same pass that finds its end.
func (l *lexer) addr() (netip.Addr, bool) {
	b, i := l.b, l.pos
	var ip [4]byte
	k := 0
	for ; k < 4; k++ {
		if k > 0 {
			if i == len(b) || b[i] != '.' {
				break
			}
			i++
		}
		// One to three digits, no leading zero, at most 255: unrolled,
		// because this runs for every address of every line.
		if i == len(b) || b[i]-'0' > 9 {
			break
		}
		v := uint(b[i] - '0')
		i++
		if v != 0 && i < len(b) && b[i]-'0' <= 9 {
			v = v*10 + uint(b[i]-'0')
			i++
			if i < len(b) && b[i]-'0' <= 9 {
				v = v*10 + uint(b[i]-'0')
				i++
			}
		}
		if v > 255 {
			break
		}
		ip[k] = byte(v)
	}
	if k == 4 && l.atEnd(i) {
		l.pos, l.pending = i, false
		return netip.AddrFrom4(ip), true
	}
	return parseAddr(l.value())
}
