package conntrack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// MaxLineBytes bounds one input line. Parse skips and counts a longer line
// without buffering it whole; real lines are 150-400 bytes.
const MaxLineBytes = 64 << 10

// Reasons shared by several errors. They are constants so that building
// an error for a known field costs no formatting.
const (
	reasonEmpty     = "empty value"
	reasonNotNumber = "not a decimal number"
	reasonNotHex    = "not a 0x hexadecimal number"
	reasonRange     = "number out of range"
	reasonAddr      = "not an IP address"
	reasonRepeated  = "repeated in one tuple"
)

// Bits of the fields a tuple has seen, to require the ones its protocol
// needs and to refuse a field given twice.
const (
	seenSrc uint16 = 1 << iota
	seenDst
	seenSport
	seenDport
	seenType
	seenCode
	seenID
	seenSrcKey
	seenDstKey
	seenPackets
	seenBytes
)

// ParseLine parses one line of `conntrack -L` (with or without
// `-o extended`), `conntrack -E` or /proc/net/nf_conntrack output. The line
// needs no trailing newline; a trailing "\r" or "\n" is ignored. A line that
// yields no entry gives a *ParseError (wrapping ErrMalformed) with Line 0.
// ParseLine is pure and never panics.
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	if perr := parseLine(line, &e); perr != nil {
		return Entry{}, perr
	}
	return e, nil
}

// parseLine fills e (reset first) from line. It returns a *ParseError, not
// an error, so that the caller can keep it without an interface conversion.
func parseLine(line []byte, e *Entry) *ParseError { return parseLineWith(line, e, true) }

// parseLineWith is parseLine with the fast path for the tuples (see
// fastTuples) on or off; tests turn it off to check that both agree.
func parseLineWith(line []byte, e *Entry, fast bool) *ParseError {
	*e = Entry{}
	line = trimEOL(line)
	l := lexer{b: line}
	var tok token
	perr := parseHeader(&l, &tok, e)
	if perr != nil {
		return perr
	}
	var (
		cur     *Tuple  // the tuple key=value fields belong to, nil between and after tuples
		curSeen *uint16 // its seen bits
		seen    [2]uint16
		addrCol [4]int // columns of orig src, orig dst, reply src, reply dst
		nsrc    int
	)
	if fast && tok.kind == tokPair && tok.id == keySrc && e.Proto.HasPorts() &&
		fastTuples(&l, e, &seen, &addrCol) {
		// Carry on after the reply tuple, inside it, as the loop would.
		cur, curSeen, nsrc = &e.Reply, &seen[1], 2
		l.next(&tok)
	}
	for ; tok.kind != tokEnd; l.next(&tok) {
		switch tok.kind {
		case tokBad:
			return perrAt(tok.col, "", "'[' without ']'")
		case tokBracket:
			// Flags end a tuple: [UNREPLIED] sits between the tuples and
			// [ASSURED] after the reply tuple.
			cur = nil
			switch string(tok.val) {
			case "ASSURED":
				e.Status |= StatusAssured
			case "UNREPLIED":
				e.Status |= StatusUnreplied
			case "OFFLOAD":
				e.Status |= StatusOffload
			case "HW_OFFLOAD":
				e.Status |= StatusHWOffload
			}
		case tokPair:
			if tok.id >= keyDst && tok.id <= keyBytes && cur == nil {
				if tok.id == keyIdent {
					if why := readID(&l, e); why != "" {
						return perrAt(tok.valCol(), "id", why)
					}
				}
				continue // another tuple field outside the tuples is skipped
			}
			var bit uint16
			var why string
			switch tok.id {
			case keySrc:
				// The second src= starts the reply tuple.
				if nsrc == 2 {
					return perrAt(tok.col, "src", "a third tuple (more than two src=)")
				}
				cur, curSeen = &e.Orig, &seen[0]
				if nsrc == 1 {
					cur, curSeen = &e.Reply, &seen[1]
				}
				addrCol[2*nsrc] = tok.valCol()
				nsrc++
				a, ok := l.addr()
				if !ok {
					why = reasonAddr
				}
				cur.Src, bit = a, seenSrc
			case keyDst:
				addrCol[2*nsrc-1] = tok.valCol()
				a, ok := l.addr()
				if !ok {
					why = reasonAddr
				}
				cur.Dst, bit = a, seenDst
			case keySport:
				cur.SrcPort, why = readU16(&l)
				bit = seenSport
			case keyDport:
				cur.DstPort, why = readU16(&l)
				bit = seenDport
			case keySrcKey:
				cur.SrcPort, why = parseHex16(l.value())
				bit = seenSrcKey
			case keyDstKey:
				cur.DstPort, why = parseHex16(l.value())
				bit = seenDstKey
			case keyType:
				cur.ICMPType, why = readU8(&l)
				bit = seenType
			case keyCode:
				cur.ICMPCode, why = readU8(&l)
				bit = seenCode
			case keyIdent:
				// Inside an ICMP tuple id= is the echo id. Anywhere else
				// it is the conntrack id that -o id prints: after use= on
				// a listing line, and right after the reply tuple (or its
				// flags) on an event line, which has no use=.
				if !e.Proto.IsICMP() || *curSeen&seenID != 0 {
					why = readID(&l, e)
					cur = nil
					break
				}
				cur.ICMPID, why = readU16(&l)
				bit = seenID
			case keyPackets:
				cur.Packets, why = l.decimal(1<<64 - 1)
				bit = seenPackets
			case keyBytes:
				cur.Bytes, why = l.decimal(1<<64 - 1)
				bit = seenBytes
			case keyMark:
				var v uint64
				v, why = l.decimal(1<<32 - 1)
				e.Mark, e.HasMark, cur = uint32(v), true, nil
			case keyUse:
				var v uint64
				v, why = l.decimal(1<<32 - 1)
				e.Use, cur = uint32(v), nil
			case keyZone, keyDeltaTime:
				cur = nil // printed after the tuples; the value is skipped
			}
			if why != "" {
				return perrAt(tok.valCol(), string(tok.key), why)
			}
			if bit != 0 {
				if *curSeen&bit != 0 {
					return perrAt(tok.col, string(tok.key), reasonRepeated)
				}
				*curSeen |= bit
			}
		}
	}
	return finish(e, seen, addrCol, len(line)+1)
}

// parseHeader reads everything before the first key=value field: an
// optional receive timestamp and event kind (`conntrack -E`), the optional
// family column, the protocol name and number, the timeout (absent for
// offloaded flows) and the state word (absent for stateless protocols). It
// leaves the first token after them in tok.
func parseHeader(l *lexer, tok *token, e *Entry) *ParseError {
	if fixedColumns(l, e) {
		l.next(tok)
		return parseTimeoutState(l, tok, e)
	}
	l.next(tok)
	if tok.kind == tokEnd {
		return perrAt(tok.col, "", "empty line")
	}
	if tok.kind == tokBracket && isTimestamp(tok.val) {
		l.next(tok)
	}
	if tok.kind == tokBracket {
		switch string(tok.val) {
		case "NEW":
			e.Event = EventNew
		case "UPDATE":
			e.Event = EventUpdate
		case "DESTROY":
			e.Event = EventDestroy
		default:
			return perrAt(tok.col, "event", "not NEW, UPDATE or DESTROY")
		}
		l.next(tok)
	}
	if tok.kind == tokWord {
		var fam uint64
		switch string(tok.key) {
		case "ipv4":
			fam = 2
		case "ipv6":
			fam = 10
		}
		if fam != 0 {
			var num token
			l.next(&num)
			if num.kind != tokWord {
				return perrAt(num.col, "family", "missing family number")
			}
			if v, why := parseDec(num.key, 255); why != "" || v != fam {
				return perrAt(num.col, "family", "family number does not match "+string(tok.key))
			}
			e.Family = uint8(fam)
			l.next(tok)
		}
	}
	if tok.kind != tokWord {
		return perrAt(tok.col, "proto", "missing protocol name")
	}
	name := tok.key
	nameCol := tok.col
	var num token
	l.next(&num)
	if num.kind != tokWord {
		return perrAt(num.col, "proto", "missing protocol number")
	}
	p, why := parseDec(num.key, 255)
	if why != "" {
		return perrAt(num.col, "proto", why)
	}
	if Proto(p).trackerName() != string(name) {
		return perrAt(nameCol, "proto", "protocol name does not match number "+strconv.FormatUint(p, 10))
	}
	e.Proto = Proto(p)
	l.next(tok)
	return parseTimeoutState(l, tok, e)
}

// parseTimeoutState reads the timeout and the state word after the
// protocol columns, either of which may be missing.
func parseTimeoutState(l *lexer, tok *token, e *Entry) *ParseError {
	if tok.kind == tokWord && len(tok.key) > 0 && tok.key[0] >= '0' && tok.key[0] <= '9' {
		v, why := parseDec(tok.key, 1<<32-1)
		if why != "" {
			return perrAt(tok.col, "timeout", why)
		}
		e.Timeout, e.HasTimeout = uint32(v), true
		l.next(tok)
	}
	if tok.kind == tokWord {
		s, ok := internState(tok.key)
		if !ok {
			return perrAt(tok.col, "state", "not a state word")
		}
		e.State = s
		l.next(tok)
	}
	return nil
}

// fixedFamilies and fixedProtos are the family and protocol columns
// exactly as `conntrack -L -o extended` prints them ("%-8s %u "), the most
// common first.
var (
	fixedFamilies = [...]struct {
		text   string
		family uint8
	}{{"ipv4     2 ", 2}, {"ipv6     10 ", 10}}
	fixedProtos = [...]struct {
		text  string
		proto Proto
	}{
		{"udp      17 ", ProtoUDP}, {"tcp      6 ", ProtoTCP}, {"icmp     1 ", ProtoICMP},
		{"icmpv6   58 ", ProtoICMPv6}, {"gre      47 ", ProtoGRE}, {"sctp     132 ", ProtoSCTP},
		{"dccp     33 ", ProtoDCCP}, {"udplite  136 ", ProtoUDPLite},
	}
)

// fixedColumns is parseHeader's fast path: it reads the family and
// protocol columns of a -o extended line in a few comparisons instead of
// four tokens. Any other start (events, plain -L, odd spacing) is left to
// the general path, which accepts the same text.
func fixedColumns(l *lexer, e *Entry) bool {
	rest := l.b[l.pos:]
	for _, f := range fixedFamilies {
		if !hasPrefix(rest, f.text) {
			continue
		}
		rest = rest[len(f.text):]
		for _, p := range fixedProtos {
			if hasPrefix(rest, p.text) {
				e.Family, e.Proto = f.family, p.proto
				l.pos += len(f.text) + len(p.text)
				return true
			}
		}
		return false
	}
	return false
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// finish checks that the entry is whole: both tuples with their addresses
// and the fields their protocol always prints, and addresses of one family.
func finish(e *Entry, seen [2]uint16, addrCol [4]int, endCol int) *ParseError {
	need := seenSrc | seenDst
	switch {
	case e.Proto.HasPorts():
		need |= seenSport | seenDport
	case e.Proto.IsICMP():
		need |= seenType | seenCode | seenID
	case e.Proto == ProtoGRE:
		need |= seenSrcKey | seenDstKey
	}
	for i, dir := range [2]string{"orig", "reply"} {
		if miss := need &^ seen[i]; miss != 0 {
			name := fieldName(miss)
			return perrAt(endCol, name, dir+" tuple has no "+name+"= (truncated line?)")
		}
	}
	if e.Family == 0 {
		e.Family = 10
		if e.Orig.Src.Is4() {
			e.Family = 2
		}
	}
	want4 := e.Family == 2
	for i, a := range [4]netip.Addr{e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst} {
		if a.Is4() != want4 {
			reason := "IPv6 address on an ipv4 line"
			if !want4 {
				reason = "IPv4 address on an ipv6 line"
			}
			return perrAt(addrCol[i], [2]string{"src", "dst"}[i%2], reason)
		}
	}
	return nil
}

// fieldName names the lowest missing field bit.
func fieldName(miss uint16) string {
	names := [...]string{"src", "dst", "sport", "dport", "type", "code", "id", "srckey", "dstkey", "packets", "bytes"}
	for i, n := range names {
		if miss&(1<<i) != 0 {
			return n
		}
	}
	return ""
}

func perrAt(col int, field, reason string) *ParseError {
	return &ParseError{Column: col, Field: field, Reason: reason}
}

// isTimestamp reports whether b is a receive timestamp as `conntrack -E -o
// timestamp` prints before the event ("1795626528.040814").
func isTimestamp(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	dot := false
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// internState returns the state word as a string constant for the states
// conntrack knows (TCP, SCTP, DCCP), so that a parse allocates nothing, and
// a fresh string for an unknown word of capitals, digits and '_'.
func internState(b []byte) (string, bool) {
	switch string(b) {
	case "NONE":
		return "NONE", true
	case "SYN_SENT":
		return "SYN_SENT", true
	case "SYN_RECV":
		return "SYN_RECV", true
	case "ESTABLISHED":
		return "ESTABLISHED", true
	case "FIN_WAIT":
		return "FIN_WAIT", true
	case "CLOSE_WAIT":
		return "CLOSE_WAIT", true
	case "LAST_ACK":
		return "LAST_ACK", true
	case "TIME_WAIT":
		return "TIME_WAIT", true
	case "CLOSE":
		return "CLOSE", true
	case "LISTEN":
		return "LISTEN", true
	case "SYN_SENT2":
		return "SYN_SENT2", true
	case "IGNORE":
		return "IGNORE", true
	case "CLOSED":
		return "CLOSED", true
	case "COOKIE_WAIT":
		return "COOKIE_WAIT", true
	case "COOKIE_ECHOED":
		return "COOKIE_ECHOED", true
	case "SHUTDOWN_SENT":
		return "SHUTDOWN_SENT", true
	case "SHUTDOWN_RECD":
		return "SHUTDOWN_RECD", true
	case "SHUTDOWN_ACK_SENT":
		return "SHUTDOWN_ACK_SENT", true
	case "HEARTBEAT_SENT":
		return "HEARTBEAT_SENT", true
	case "HEARTBEAT_ACKED":
		return "HEARTBEAT_ACKED", true
	case "REQUEST":
		return "REQUEST", true
	case "RESPOND":
		return "RESPOND", true
	case "PARTOPEN":
		return "PARTOPEN", true
	case "OPEN":
		return "OPEN", true
	case "CLOSEREQ":
		return "CLOSEREQ", true
	case "CLOSING":
		return "CLOSING", true
	case "TIMEWAIT":
		return "TIMEWAIT", true
	case "INVALID":
		return "INVALID", true
	}
	if len(b) > 32 {
		return "", false
	}
	for _, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return "", false
		}
	}
	return string(b), true
}

// parseDec parses an unsigned decimal number no greater than max. The
// reason is "" on success.
func parseDec(b []byte, max uint64) (uint64, string) {
	if len(b) == 0 {
		return 0, reasonEmpty
	}
	var v uint64
	over := false
	for i, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, reasonNotNumber
		}
		// 19 digits always fit in a uint64; check only beyond.
		if i >= 19 && (i >= 20 || v > (1<<64-1-uint64(d))/10) {
			over = true
			continue
		}
		v = v*10 + uint64(d)
	}
	if over || v > max {
		return 0, reasonRange
	}
	return v, ""
}

// readID reads the pending value as the conntrack id.
func readID(l *lexer, e *Entry) string {
	v, why := l.decimal(1<<32 - 1)
	e.ID = uint32(v)
	return why
}

func readU16(l *lexer) (uint16, string) {
	v, why := l.decimal(1<<16 - 1)
	return uint16(v), why
}

func readU8(l *lexer) (uint8, string) {
	v, why := l.decimal(1<<8 - 1)
	return uint8(v), why
}

// parseHex16 parses a GRE key as conntrack prints it ("0x0", "0x1a2b").
func parseHex16(b []byte) (uint16, string) {
	if len(b) < 3 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') {
		return 0, reasonNotHex
	}
	var v uint32
	for _, c := range b[2:] {
		d := hexDigit(c)
		if d < 0 {
			return 0, reasonNotHex
		}
		v = v<<4 | uint32(d)
		if v > 1<<16-1 {
			return 0, reasonRange
		}
	}
	return uint16(v), ""
}

// Parse reads a whole conntrack listing from r and calls yield for each
// entry, streaming: memory stays bounded whatever the input. The *Entry
// passed to yield is reused for the next line, so yield must copy what it
// keeps. When yield returns false Parse stops at once and returns what it
// counted so far; yield has the type of an iter.Seq's, so
// `func(y func(*Entry) bool) { Parse(r, y) }` is a sequence of entries.
//
// Blank lines are skipped and not counted. The conntrack trailer ("...: N
// flow entries have been shown.") sets Stats.Reported and is no flow. It
// is recognised anywhere, even glued to the middle of a line: with stderr
// merged into stdout (conntrack -L 2>&1) the unbuffered trailer lands
// where stdout's buffer was last flushed, and the rest of that line
// follows it. Malformed lines, and lines longer than MaxLineBytes, are
// skipped and counted in Stats.Skipped, the first MaxKeptErrors of them
// kept with their 1-based line numbers. The error is only ever a read
// error of r; then the stats cover what was read.
func Parse(r io.Reader, yield func(*Entry) bool) (Stats, error) {
	p := streamParser{st: Stats{Reported: -1}, yield: yield}
	br := bufio.NewReaderSize(r, MaxLineBytes)
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lineNo++
			p.carry = nil
			p.st.Lines++
			p.st.skip(&ParseError{Line: lineNo, Column: MaxLineBytes + 1,
				Reason: "line longer than " + strconv.Itoa(MaxLineBytes) + " bytes"})
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		} else if len(line) > 0 {
			lineNo++
			p.line(line, lineNo)
		}
		if p.stopped {
			return p.st, nil
		}
		if err != nil {
			if len(p.carry) > 0 { // a line cut by the trailer and never continued
				p.line(nil, lineNo)
			}
			if errors.Is(err, io.EOF) {
				return p.st, nil
			}
			return p.st, fmt.Errorf("read conntrack output: %w", err)
		}
	}
}

// trailerEnd is how every trailer ends; no flow line does.
var trailerEnd = []byte("have been shown.")

// streamParser is Parse's state between lines.
type streamParser struct {
	st      Stats
	yield   func(*Entry) bool
	stopped bool // yield returned false
	e       Entry
	carry   []byte // the start of a line the trailer cut in two, rare
}

// line handles one line of Parse's input.
func (p *streamParser) line(line []byte, lineNo int) {
	if len(p.carry) > 0 {
		line = append(p.carry, line...)
		p.carry = nil
	}
	body := trimEOL(line)
	if bytes.HasSuffix(body, trailerEnd) {
		if i := bytes.LastIndex(body, []byte("conntrack v")); i >= 0 {
			if n, ok := ParseTrailer(body[i:]); ok {
				p.st.Reported = n
				if !isBlank(body[:i]) {
					p.carry = append([]byte(nil), body[:i]...)
				}
				return
			}
		}
	}
	if isBlank(body) {
		return
	}
	p.st.Lines++
	if perr := parseLine(body, &p.e); perr != nil {
		perr.Line = lineNo
		p.st.skip(perr)
		return
	}
	p.st.Entries++
	p.stopped = !p.yield(&p.e)
}

// skip counts a malformed line and keeps its error while there is room.
func (st *Stats) skip(perr *ParseError) {
	st.Skipped++
	if len(st.Errors) < MaxKeptErrors {
		st.Errors = append(st.Errors, perr)
	}
}

// trimEOL drops the line's trailing "\n" and "\r" (bytes.TrimRight with a
// cutset costs more than the rest of Parse's per-line work).
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// ParseTrailer recognises the summary line conntrack prints on stderr,
// "conntrack v1.4.7 (conntrack-tools): 29 flow entries have been shown."
// (or "flow events" for `conntrack -E`), and returns its count.
func ParseTrailer(b []byte) (n int, ok bool) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte("conntrack v")) {
		return 0, false
	}
	_, rest, found := bytes.Cut(b, []byte("(conntrack-tools): "))
	if !found {
		return 0, false
	}
	num, rest, found := bytes.Cut(rest, []byte(" "))
	if !found {
		return 0, false
	}
	switch string(rest) {
	case "flow entries have been shown.", "flow events have been shown.":
	default:
		return 0, false
	}
	v, why := parseDec(num, 1<<31-1)
	if why != "" {
		return 0, false
	}
	return int(v), true
}
