package names

import (
	"bufio"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseQueryLine(t *testing.T) {
	tests := []struct {
		line string
		want QueryEvent
		ok   bool
	}{
		{"Dec  1 21:06:35 dnsmasq[28845]: query[A] video.lab.test from 10.0.3.114",
			QueryEvent{Kind: EventQuery, QType: "A", Name: "video.lab.test", Client: ip("10.0.3.114")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: query[AAAA] video.lab.test from fd00:3::112",
			QueryEvent{Kind: EventQuery, QType: "AAAA", Name: "video.lab.test", Client: ip("fd00:3::112")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: config video.lab.test is 203.0.113.81",
			QueryEvent{Kind: EventAddr, Name: "video.lab.test", Addr: ip("203.0.113.81")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: reply example.com is 2001:db8::1",
			QueryEvent{Kind: EventAddr, Name: "example.com", Addr: ip("2001:db8::1")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: cached example.com is ::ffff:192.0.2.1",
			QueryEvent{Kind: EventAddr, Name: "example.com", Addr: ip("192.0.2.1")}, true},
		{"Dec  1 21:06:35 dnsmasq[1]: /etc/hosts router.lan is 10.0.0.1",
			QueryEvent{Kind: EventAddr, Name: "router.lan", Addr: ip("10.0.0.1")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: config www.lab.test is <CNAME>",
			QueryEvent{Kind: EventCNAME, Name: "www.lab.test"}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: config ads.lab.test is NXDOMAIN",
			QueryEvent{Kind: EventOther, Name: "ads.lab.test"}, true},
		{"Dec  1 21:06:35 dnsmasq[28953]: 3 10.0.3.114/41583 config www.lab.test is <CNAME>",
			QueryEvent{Kind: EventCNAME, Serial: 3, Client: ip("10.0.3.114"), Name: "www.lab.test"}, true},
		{"Dec  1 21:06:35 dnsmasq[28953]: 5 fd00:3::112/35390 query[A] www.lab.test from fd00:3::112",
			QueryEvent{Kind: EventQuery, Serial: 5, Client: ip("fd00:3::112"), QType: "A", Name: "www.lab.test"}, true},
		// As bytes.Lines and bufio.Reader.ReadLine's callers hand it over.
		{"Dec  1 21:06:35 dnsmasq[28845]: query[A] video.lab.test from 10.0.3.114\n",
			QueryEvent{Kind: EventQuery, QType: "A", Name: "video.lab.test", Client: ip("10.0.3.114")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: reply example.com is 2001:db8::1\r\n",
			QueryEvent{Kind: EventAddr, Name: "example.com", Addr: ip("2001:db8::1")}, true},
		// OpenWrt logread.
		{"Mon Dec  1 21:06:35 2025 daemon.info dnsmasq[1234]: query[A] example.org from 192.168.1.20",
			QueryEvent{Kind: EventQuery, QType: "A", Name: "example.org", Client: ip("192.168.1.20")}, true},
		{"Dec  1 21:06:35 dnsmasq[28845]: forwarded example.com to 192.0.2.53", QueryEvent{}, false},
		{"Dec  1 21:06:35 dnsmasq-dhcp[28845]: DHCPACK(rb3) 10.0.3.114 ba:48:48:04:35:67 lab-laptop", QueryEvent{}, false},
		{"Dec  1 21:06:28 dnsmasq[28845]: started, version 2.90 cachesize 150", QueryEvent{}, false},
		{"Dec  1 21:06:35 dnsmasq[28845]: query[A] video.lab.test from nowhere", QueryEvent{}, false},
		{"Dec  1 21:06:35 dnsmasq[28845]: query[A video.lab.test from 10.0.0.1", QueryEvent{}, false},
		{"Dec  1 21:06:35 dnsmasq[28845]: 7 nothere/1 query[A] x from 10.0.0.1", QueryEvent{}, false},
		{"no tag at all", QueryEvent{}, false},
		{"dnsmasq[1 without the end", QueryEvent{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseQueryLine([]byte(tc.line))
		if ok != tc.ok {
			t.Errorf("ParseQueryLine(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmpAddr); ok && diff != "" {
			t.Errorf("ParseQueryLine(%q) (-want +got):\n%s", tc.line, diff)
		}
	}
}

// feedFile feeds a fixture to a new DNSLog at now.
func feedFile(t *testing.T, name string, now time.Time) *DNSLog {
	t.Helper()
	d := NewDNSLog()
	sc := bufio.NewScanner(fixture(t, name))
	for sc.Scan() {
		d.Feed(sc.Bytes(), now)
	}
	return d
}

func TestDNSLogLabCaptures(t *testing.T) {
	now := time.Date(2026, 12, 1, 21, 7, 0, 0, time.UTC)
	// The clients of fixtures/names/lab-clients.txt; both files are real.
	laptop4, phone6 := ip("10.0.3.114"), ip("fd00:3::112")
	tests := []struct {
		file         string
		client, addr netip.Addr
		want         string
	}{
		{"dnsmasq-lab.log", laptop4, ip("203.0.113.81"), "video.lab.test"},
		{"dnsmasq-lab.log", laptop4, ip("2001:db8::81"), "video.lab.test"},
		{"dnsmasq-lab.log", laptop4, ip("203.0.113.82"), "www.lab.test"}, // the name asked, not the CNAME target
		{"dnsmasq-lab.log", laptop4, ip("2001:db8::82"), "www.lab.test"},
		{"dnsmasq-lab.log", laptop4, ip("203.0.113.83"), "ads.lab.test"},
		{"dnsmasq-lab.log", phone6, ip("203.0.113.82"), "www.lab.test"},
		{"dnsmasq-lab.log", phone6, ip("2001:db8::81"), "video.lab.test"},
		{"dnsmasq-lab-extra.log", laptop4, ip("203.0.113.82"), "www.lab.test"},
		{"dnsmasq-lab-extra.log", laptop4, ip("2001:db8::81"), "video.lab.test"},
		{"dnsmasq-lab-extra.log", phone6, ip("2001:db8::82"), "www.lab.test"},
	}
	logs := map[string]*DNSLog{}
	for _, tc := range tests {
		d := logs[tc.file]
		if d == nil {
			d = feedFile(t, tc.file, now)
			logs[tc.file] = d
		}
		got, ok := d.Lookup(tc.client, tc.addr, now)
		if !ok || got != tc.want {
			t.Errorf("%s: Lookup(%v, %v) = %q, %v; want %q", tc.file, tc.client, tc.addr, got, ok, tc.want)
		}
	}
	// Nobody asked for the phone's IPv4 in the extra log; no pairing for
	// an address no one looked up; ads.lab.test has no IPv6.
	d := logs["dnsmasq-lab.log"]
	for _, q := range [][2]netip.Addr{{ip("10.0.3.134"), ip("203.0.113.81")}, {laptop4, ip("203.0.113.99")}, {laptop4, ip("2001:db8::83")}} {
		if got, ok := d.Lookup(q[0], q[1], now); ok {
			t.Errorf("Lookup(%v, %v) = %q, want none", q[0], q[1], got)
		}
	}
	if got, ok := d.LookupAddr(ip("203.0.113.82"), now); !ok || got != "www.lab.test" {
		t.Errorf("LookupAddr = %q, %v", got, ok)
	}
	if got, want := d.Len(), 10; got != want {
		t.Errorf("Len = %d, want %d pairings", got, want)
	}
}

func TestDNSLogExpiryAndBound(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d := &DNSLog{TTL: time.Minute, MaxEntries: 64}
	client := ip("10.0.0.5")
	for i := range 200 {
		d.Feed(fmt.Appendf(nil, "dnsmasq[1]: query[A] h%d.example from 10.0.0.5", i), now)
		d.Feed(fmt.Appendf(nil, "dnsmasq[1]: reply h%d.example is 192.0.2.%d", i, i), now)
	}
	if n := d.Len(); n > 64 {
		t.Errorf("Len = %d, want at most MaxEntries 64", n)
	}
	if got, ok := d.Lookup(client, ip("192.0.2.199"), now); !ok || got != "h199.example" {
		t.Errorf("newest pairing = %q, %v", got, ok)
	}
	if _, ok := d.Lookup(client, ip("192.0.2.199"), now.Add(time.Minute)); ok {
		t.Error("a pairing outlived its TTL")
	}
}

func TestDNSLogPairing(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	lines := []string{
		// Interleaved queries: each answer goes to who asked that name.
		"dnsmasq[1]: query[A] a.example from 10.0.0.5",
		"dnsmasq[1]: query[A] b.example from 10.0.0.6",
		"dnsmasq[1]: forwarded a.example to 192.0.2.53",
		"dnsmasq[1]: reply b.example is 192.0.2.2",
		"dnsmasq[1]: reply a.example is 192.0.2.1",
		"dnsmasq[1]: reply a.example is 192.0.2.11",
		// A chain of CNAMEs, then an answer nobody's pending name explains.
		"dnsmasq[1]: query[A] www.c.example from 10.0.0.7",
		"dnsmasq[1]: reply www.c.example is <CNAME>",
		"dnsmasq[1]: reply edge.cdn.example is <CNAME>",
		"dnsmasq[1]: reply e1.cdn.example is 192.0.2.3",
		"dnsmasq[1]: forwarded x to y",
		"dnsmasq[1]: reply stray.example is 192.0.2.4",
		// Two clients asking one name.
		"dnsmasq[1]: query[A] shared.example from 10.0.0.5",
		"dnsmasq[1]: query[A] shared.example from 10.0.0.6",
		"dnsmasq[1]: cached shared.example is 192.0.2.5",
	}
	d := NewDNSLog()
	for _, l := range lines {
		d.Feed([]byte(l), now)
	}
	want := map[[2]string]string{
		{"10.0.0.5", "192.0.2.1"}:  "a.example",
		{"10.0.0.5", "192.0.2.11"}: "a.example",
		{"10.0.0.6", "192.0.2.2"}:  "b.example",
		{"10.0.0.7", "192.0.2.3"}:  "www.c.example",
		{"10.0.0.5", "192.0.2.5"}:  "shared.example",
		{"10.0.0.6", "192.0.2.5"}:  "shared.example",
	}
	for k, w := range want {
		if got, ok := d.Lookup(ip(k[0]), ip(k[1]), now); !ok || got != w {
			t.Errorf("Lookup(%s, %s) = %q, %v; want %q", k[0], k[1], got, ok, w)
		}
	}
	for _, k := range [][2]string{{"10.0.0.6", "192.0.2.1"}, {"10.0.0.5", "192.0.2.2"}, {"10.0.0.7", "192.0.2.4"}} {
		if got, ok := d.Lookup(ip(k[0]), ip(k[1]), now); ok {
			t.Errorf("Lookup(%s, %s) = %q, want none", k[0], k[1], got)
		}
	}
	if d.Len() != len(want) {
		t.Errorf("Len = %d, want %d", d.Len(), len(want))
	}
}

func TestDNSLogLookupNoAlloc(t *testing.T) {
	now := time.Now()
	d, clients, addrs := benchDNSLog(1000, now)
	if n := testing.AllocsPerRun(1000, func() { d.Lookup(clients[3], addrs[3], now) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { d.LookupAddr(addrs[3], now) }); n != 0 {
		t.Errorf("LookupAddr allocates %v times", n)
	}
}

// benchDNSLog holds n pairings: 50 clients, n remote addresses.
func benchDNSLog(n int, now time.Time) (*DNSLog, []netip.Addr, []netip.Addr) {
	d := NewDNSLog()
	var clients, addrs []netip.Addr
	var b strings.Builder
	for i := range n {
		c := netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 50)})
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		b.Reset()
		fmt.Fprintf(&b, "Dec  1 21:06:35 dnsmasq[1]: query[A] host-%d.cdn.example from %v", i, c)
		d.Feed([]byte(b.String()), now)
		b.Reset()
		fmt.Fprintf(&b, "Dec  1 21:06:35 dnsmasq[1]: reply host-%d.cdn.example is %v", i, a)
		d.Feed([]byte(b.String()), now)
		clients, addrs = append(clients, c), append(addrs, a)
	}
	return d, clients, addrs
}

// BenchmarkDNSLogLookup is the per-row cost of naming a remote host at
// 10,000 remembered names.
func BenchmarkDNSLogLookup(b *testing.B) {
	now := time.Now()
	d, clients, addrs := benchDNSLog(10000, now)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Lookup(clients[i%len(clients)], addrs[i%len(addrs)], now)
		i++
	}
}

// BenchmarkDNSLogFeed is the cost of one log line (off the ingest path).
func BenchmarkDNSLogFeed(b *testing.B) {
	now := time.Now()
	d := NewDNSLog()
	q := []byte("Dec  1 21:06:35 dnsmasq[28845]: query[A] video.lab.test from 10.0.3.114")
	r := []byte("Dec  1 21:06:35 dnsmasq[28845]: config video.lab.test is 203.0.113.81")
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(q, now)
		d.Feed(r, now)
	}
}

// BenchmarkDNSLogMemory reports the heap 10,000 pairings hold.
func BenchmarkDNSLogMemory(b *testing.B) {
	now := time.Now()
	for b.Loop() {
		before := heapInUse()
		d, _, _ := benchDNSLog(10000, now)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/10000, "B/name")
		_ = d.Len()
	}
}

func FuzzParseQueryLine(f *testing.F) {
	for _, name := range []string{"dnsmasq-lab.log", "dnsmasq-lab-extra.log"} {
		sc := bufio.NewScanner(fixture(f, name))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	d := NewDNSLog()
	d.MaxEntries = 100
	now := time.Now()
	f.Fuzz(func(t *testing.T, line string) {
		ev, ok := ParseQueryLine([]byte(line))
		if !ok {
			if ev.Kind != EventNone && ev.Kind != EventQuery && ev.Kind != EventAddr {
				t.Fatalf("not ok but kind %v", ev.Kind)
			}
		} else {
			switch ev.Kind {
			case EventQuery:
				if !ev.Client.IsValid() || ev.Name == "" || ev.QType == "" {
					t.Fatalf("query without client, name or type: %+v", ev)
				}
			case EventAddr:
				if !ev.Addr.IsValid() || ev.Addr.Is4In6() {
					t.Fatalf("answer address %v", ev.Addr)
				}
			case EventCNAME, EventOther:
			default:
				t.Fatalf("ok with kind %v", ev.Kind)
			}
		}
		// Any line keeps the log bounded and usable.
		d.Feed([]byte(line), now)
		if d.Len() > 100 {
			t.Fatalf("Len %d over MaxEntries", d.Len())
		}
	})
}
