package conntrack

// The fast path reads the two tuples of a port protocol's line in the
// order conntrack always prints them,
//
//	src=A dst=B sport=N dport=N [packets=N bytes=N] [[UNREPLIED]] src=A dst=B sport=N dport=N [packets=N bytes=N]
//
// with single spaces, by comparing each expected key as a constant
// instead of lexing a token, looking its key up and dispatching on it.
// Those steps were two thirds of Parse's profile. At the first surprise
// (another key, a tab, two spaces, a bad value) it gives up and the line
// is parsed again from its first tuple by the general loop, which is the
// one that says what is wrong. So the fast path never decides an error
// and accepts nothing the general loop would read differently.

// lit consumes s if the unread input starts with it.
func (l *lexer) lit(s string) bool {
	if hasPrefix(l.b[l.pos:], s) {
		l.pos += len(s)
		return true
	}
	return false
}

// fastTuple reads one tuple whose "src=" has just been consumed. It
// returns the tuple's seen bits, and the 1-based columns of its two
// addresses in cols. ok is false at the first surprise.
func (l *lexer) fastTuple(t *Tuple, cols []int) (seen uint16, ok bool) {
	cols[0] = l.pos + 1
	if t.Src, ok = l.addr(); !ok || !l.lit(" dst=") {
		return 0, false
	}
	cols[1] = l.pos + 1
	if t.Dst, ok = l.addr(); !ok || !l.lit(" sport=") {
		return 0, false
	}
	v, why := l.decimal(1<<16 - 1)
	if why != "" || !l.lit(" dport=") {
		return 0, false
	}
	t.SrcPort = uint16(v)
	if v, why = l.decimal(1<<16 - 1); why != "" {
		return 0, false
	}
	t.DstPort = uint16(v)
	seen = seenSrc | seenDst | seenSport | seenDport
	if !l.lit(" packets=") {
		return seen, true
	}
	if t.Packets, why = l.decimal(1<<64 - 1); why != "" || !l.lit(" bytes=") {
		return 0, false
	}
	if t.Bytes, why = l.decimal(1<<64 - 1); why != "" {
		return 0, false
	}
	return seen | seenPackets | seenBytes, true
}

// fastTuples reads both tuples of a line whose first "src=" the lexer has
// just read as a key, and leaves the lexer after the reply tuple's last
// value. On a surprise it returns false with the lexer, e.Orig, e.Reply
// and e.Status as they were, and seen and addrCol untouched.
func fastTuples(l *lexer, e *Entry, seen *[2]uint16, addrCol *[4]int) bool {
	saved, status := *l, e.Status
	var cols [4]int
	s0, ok := l.fastTuple(&e.Orig, cols[:2])
	if ok {
		if l.lit(" [UNREPLIED]") {
			e.Status |= StatusUnreplied
		}
		ok = l.lit(" src=")
	}
	var s1 uint16
	if ok {
		s1, ok = l.fastTuple(&e.Reply, cols[2:])
	}
	if !ok {
		*l = saved
		e.Orig, e.Reply, e.Status = Tuple{}, Tuple{}, status
		return false
	}
	l.pending = false
	seen[0], seen[1], *addrCol = s0, s1, cols
	return true
}
