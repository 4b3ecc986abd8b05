package names

import (
	"bytes"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// QueryEvent is one line of dnsmasq's query log that matters for names.
type QueryEvent struct {
	Kind EventKind
	// Serial and Port are set with log-queries=extra, which numbers each
	// query and puts its client on every line of it.
	Serial uint32
	Client netip.Addr // the asking client (queries; every line with extra)
	QType  string     // "A", "AAAA", ... (queries)
	Name   string     // the name asked (queries) or answered (answers)
	Addr   netip.Addr // the address answered (EventAddr)
}

// EventKind tells query and answer lines apart.
type EventKind uint8

// Kinds of QueryEvent.
const (
	EventNone  EventKind = iota
	EventQuery           // query[A] name from client
	EventAddr            // reply/cached/config/hosts-file name is ADDRESS
	EventCNAME           // ... name is <CNAME>: the next answer lines are for the name asked
	EventOther           // another answer (NXDOMAIN, NODATA, <HTTPS>, a PTR's name): ends a chain
)

// ParseQueryLine reads one line of a dnsmasq log (log-facility=FILE, or
// syslog and logread lines, which carry the same "dnsmasq[PID]: " tag):
//
//	Dec  1 21:00:06 dnsmasq[20955]: query[A] video.lab.test from 10.0.3.106
//	Dec  1 21:00:06 dnsmasq[20955]: config video.lab.test is 203.0.113.81
//	Dec  1 21:00:06 dnsmasq[20955]: 7 10.0.3.106/41234 reply www.lab.test is <CNAME>
//
// The line may end in its newline (LF or CRLF). ok is false for lines of
// no interest (dnsmasq-dhcp, forwarded, start-up messages) and for
// malformed ones.
func ParseQueryLine(line []byte) (ev QueryEvent, ok bool) {
	line = bytes.TrimRight(line, "\r\n")
	i := bytes.Index(line, []byte("dnsmasq["))
	if i < 0 {
		return ev, false
	}
	j := bytes.Index(line[i:], []byte("]: "))
	if j < 0 {
		return ev, false
	}
	msg := line[i+j+3:]
	var f [8][]byte
	fs := splitN(f[:0], msg, 8)
	if len(fs) >= 2 && isDigitsB(fs[0]) {
		// log-queries=extra: "SERIAL CLIENT/PORT ...".
		n, err := strconv.ParseUint(string(fs[0]), 10, 32)
		c, _, _ := bytes.Cut(fs[1], []byte("/"))
		a, aerr := netip.ParseAddr(string(c))
		if err != nil || aerr != nil {
			return ev, false
		}
		ev.Serial, ev.Client = uint32(n), a.Unmap()
		fs = fs[2:]
	}
	if len(fs) < 2 {
		return ev, false
	}
	if qt, ok := bytes.CutPrefix(fs[0], []byte("query[")); ok {
		// query[A] NAME from CLIENT
		if len(qt) < 2 || qt[len(qt)-1] != ']' || len(fs) != 4 || string(fs[2]) != "from" {
			return ev, false
		}
		a, err := netip.ParseAddr(string(fs[3]))
		if err != nil {
			return ev, false
		}
		ev.Kind, ev.QType, ev.Name, ev.Client = EventQuery, string(qt[:len(qt)-1]), string(fs[1]), a.Unmap()
		return ev, true
	}
	// SOURCE NAME is ANSWER, SOURCE being reply, cached, cached-stale,
	// config, DHCP or a hosts file's path.
	if len(fs) != 4 || string(fs[2]) != "is" {
		return ev, false
	}
	switch src := string(fs[0]); {
	case src == "reply", src == "cached", src == "cached-stale", src == "config", src == "DHCP", src[0] == '/':
	default:
		return ev, false
	}
	ev.Name = string(fs[1])
	ans := fs[3]
	if string(ans) == "<CNAME>" {
		ev.Kind = EventCNAME
		return ev, true
	}
	if a, err := netip.ParseAddr(string(ans)); err == nil && a.Zone() == "" {
		ev.Kind, ev.Addr = EventAddr, a.Unmap()
		return ev, true
	}
	ev.Kind = EventOther
	return ev, true
}

// splitN splits at spaces, at most n fields (the last holds the rest).
func splitN(dst [][]byte, s []byte, n int) [][]byte {
	for len(s) > 0 && len(dst) < n {
		s = bytes.TrimLeft(s, " ")
		if len(s) == 0 {
			break
		}
		k := bytes.IndexByte(s, ' ')
		if k < 0 || len(dst) == n-1 {
			dst = append(dst, bytes.TrimRight(s, " "))
			break
		}
		dst = append(dst, s[:k])
		s = s[k:]
	}
	return dst
}

func isDigitsB(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// DNSLog remembers, per client and address, the name the client looked
// up, from dnsmasq's query log lines fed to it in order. dnsmasq does not
// log TTLs, so a pairing expires TTL after it was logged. Memory is
// bounded: at most MaxEntries pairings (past it, expired ones go first,
// then arbitrary ones), and at most maxPending queries awaiting their
// answer. Safe for concurrent use: one goroutine feeds, any looks up.
type DNSLog struct {
	// TTL is how long a pairing is kept (default DefaultDNSTTL).
	TTL time.Duration
	// MaxEntries caps the pairings (default DefaultDNSEntries).
	MaxEntries int

	mu      sync.RWMutex
	pairs   map[pairKey]pairVal
	latest  map[netip.Addr]pairVal // by address, whoever asked last
	pending map[string]pendingQuery
	serials map[uint32]pendingQuery
	chain   string // the name asked, while a CNAME chain's lines come
	chainBy []netip.Addr
	inChain bool
}

// Defaults of DNSLog's zero fields.
const (
	DefaultDNSTTL     = time.Hour
	DefaultDNSEntries = 50000
	maxPending        = 4096
	pendingTTL        = 30 * time.Second
	maxPendingClients = 8
)

type pairKey struct{ client, addr netip.Addr }

type pairVal struct {
	name    string
	expires int64 // Unix nanoseconds
}

type pendingQuery struct {
	name    string
	clients []netip.Addr
	at      int64
}

// NewDNSLog returns an empty log with the defaults.
func NewDNSLog() *DNSLog { return &DNSLog{} }

func (d *DNSLog) init() {
	if d.pairs == nil {
		d.pairs = make(map[pairKey]pairVal)
		d.latest = make(map[netip.Addr]pairVal)
		d.pending = make(map[string]pendingQuery)
		d.serials = make(map[uint32]pendingQuery)
	}
}

// Feed folds one log line in, read at time now. It returns whether the
// line was a query or an answer.
func (d *DNSLog) Feed(line []byte, now time.Time) bool {
	ev, ok := ParseQueryLine(line)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	if !ok {
		d.inChain = false
		return false
	}
	d.apply(ev, now.UnixNano())
	return true
}

func (d *DNSLog) apply(ev QueryEvent, now int64) {
	switch ev.Kind {
	case EventQuery:
		d.inChain = false
		if ev.Serial != 0 {
			if len(d.serials) >= maxPending {
				d.sweepPending(now)
			}
			d.serials[ev.Serial] = pendingQuery{name: ev.Name, clients: []netip.Addr{ev.Client}, at: now}
			return
		}
		p := d.pending[ev.Name]
		if now-p.at > int64(pendingTTL) {
			// Whoever asked long ago is not waiting for this answer.
			p.clients = nil
		}
		if p.name == "" && len(d.pending) >= maxPending {
			d.sweepPending(now)
		}
		if !containsAddr(p.clients, ev.Client) {
			if len(p.clients) >= maxPendingClients {
				p.clients = p.clients[1:]
			}
			p.clients = append(p.clients, ev.Client)
		}
		p.name, p.at = ev.Name, now
		d.pending[ev.Name] = p
	case EventAddr, EventCNAME, EventOther:
		var asked string
		var clients []netip.Addr
		if ev.Serial != 0 {
			p, ok := d.serials[ev.Serial]
			if !ok {
				return
			}
			asked, clients = p.name, p.clients
		} else if p, ok := d.pending[ev.Name]; ok {
			asked, clients = p.name, p.clients
		} else if d.inChain {
			asked, clients = d.chain, d.chainBy
		} else {
			return
		}
		switch ev.Kind {
		case EventCNAME:
			d.chain, d.chainBy, d.inChain = asked, clients, true
		case EventOther:
			d.inChain = false
		case EventAddr:
			d.chain, d.chainBy, d.inChain = asked, clients, true
			for _, c := range clients {
				d.remember(c, ev.Addr, asked, now)
			}
		}
	}
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func (d *DNSLog) remember(client, addr netip.Addr, name string, now int64) {
	ttl := d.TTL
	if ttl <= 0 {
		ttl = DefaultDNSTTL
	}
	max := d.MaxEntries
	if max <= 0 {
		max = DefaultDNSEntries
	}
	k := pairKey{client, addr}
	if _, ok := d.pairs[k]; !ok && len(d.pairs) >= max {
		d.evict(now, max)
	}
	v := pairVal{name, now + int64(ttl)}
	d.pairs[k] = v
	d.latest[addr] = v
}

// evict drops expired pairings, then arbitrary ones (map order) down to
// seven eighths of max, so that a full cache costs one sweep per max/8
// insertions.
func (d *DNSLog) evict(now int64, max int) {
	for k, v := range d.pairs {
		if v.expires <= now {
			delete(d.pairs, k)
		}
	}
	for k, v := range d.latest {
		if v.expires <= now {
			delete(d.latest, k)
		}
	}
	target := max - max/8
	for k := range d.pairs {
		if len(d.pairs) <= target {
			break
		}
		delete(d.pairs, k)
	}
	for k := range d.latest {
		if len(d.latest) <= target {
			break
		}
		delete(d.latest, k)
	}
}

func (d *DNSLog) sweepPending(now int64) {
	for k, p := range d.pending {
		if now-p.at > int64(pendingTTL) || len(d.pending) >= maxPending {
			delete(d.pending, k)
		}
	}
	for k, p := range d.serials {
		if now-p.at > int64(pendingTTL) || len(d.serials) >= maxPending {
			delete(d.serials, k)
		}
	}
}

// Lookup returns the name client looked up that answered addr, if the
// pairing has not expired at now. It does not allocate.
func (d *DNSLog) Lookup(client, addr netip.Addr, now time.Time) (string, bool) {
	d.mu.RLock()
	v, ok := d.pairs[pairKey{client.Unmap(), addr.Unmap()}]
	d.mu.RUnlock()
	if !ok || v.expires <= now.UnixNano() {
		return "", false
	}
	return v.name, true
}

// LookupAddr returns the name any client last looked up that answered
// addr (for a flow whose client asked through another of its addresses).
// It does not allocate.
func (d *DNSLog) LookupAddr(addr netip.Addr, now time.Time) (string, bool) {
	d.mu.RLock()
	v, ok := d.latest[addr.Unmap()]
	d.mu.RUnlock()
	if !ok || v.expires <= now.UnixNano() {
		return "", false
	}
	return v.name, true
}

// Len is the number of pairings held (expired ones not yet swept
// included).
func (d *DNSLog) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.pairs)
}
