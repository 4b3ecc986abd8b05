package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// The home profile of issue 14's flash budget: 50 LAN devices (a few of
// them with an IPv6 address too), about 9,000 active flows to remote
// hosts of which about 2,000 distinct ones appear in a day, 10% of the
// flows growing every second, 10 new flows a second and as many closing.
// A home keeps a table like that: a few streams and downloads carry most
// of the bytes, the rest are idle connections that now and then move a
// few packets (push, chat, keep-alives, page loads).
const (
	homeDevices = 50   // 10.0.0.10 to 10.0.0.59
	homeFlows   = 9000 // the table's size, kept by the closings
	homeNew     = 10   // flows opened every second
	homeChange  = 0.10 // share of the flows that grow every second
	homeHot     = 30   // streams and downloads: grow every second, much of the bytes
	// Remote hosts: homeCore everyday hosts (CDNs, clouds, the services
	// the devices use) with Zipf popularity, and one new host every
	// homeBirth, each drawing new flows for homeTransient: 1,500 + 500 a
	// day, about 2,000 distinct in a day.
	homeCore      = 1500
	homeBirth     = 172.8 // seconds: 500 a day
	homeTransient = 30 * 60
	homeToNew     = 0.05 // share of new flows that go to a transient host
)

// homeV6 are the devices (indexes) that also have an IPv6 address; half of
// their flows use it.
var homeV6 = []int{0, 2, 5, 9, 14, 20}

// homeLAN is the LAN of the profile, for --local-subnets.
var homeLAN = []string{"10.0.0.0/24", "2001:db8:0:1::/64"}

// wanAddr is the router's public address, the reply destination of
// NATed IPv4 flows.
var wanAddr = netip.MustParseAddr("203.0.113.1")

// homeService is a kind of flow: protocol and destination port, how the
// kind is shared among the active flows and among the new ones, and how
// long a short-lived kind lives (0: until it is closed at random).
type homeService struct {
	proto        conntrack.Proto // TCP, UDP or ICMP (ICMPv6 over IPv6)
	port         uint16
	active, open float64
	life         int64 // seconds
}

// homeServices is the mix. Long-lived flows are mostly TLS over TCP and
// QUIC; DNS to public resolvers, NTP and pings live 30 s.
var homeServices = []homeService{
	{conntrack.ProtoTCP, 443, 0.68, 0.60, 0},
	{conntrack.ProtoUDP, 443, 0.12, 0.15, 0},
	{conntrack.ProtoTCP, 80, 0.04, 0.04, 0},
	{conntrack.ProtoTCP, 5223, 0.03, 0.02, 0}, // push
	{conntrack.ProtoTCP, 993, 0.02, 0.01, 0},  // IMAP
	{conntrack.ProtoTCP, 8883, 0.02, 0.01, 0}, // MQTT (IoT)
	{conntrack.ProtoTCP, 22, 0.01, 0, 0},
	{conntrack.ProtoUDP, 3478, 0.02, 0.01, 0}, // STUN/TURN (calls)
	{conntrack.ProtoUDP, 4500, 0.02, 0, 0},    // IPsec NAT-T (VPN)
	{conntrack.ProtoUDP, 53, 0.01, 0.10, 30},  // DNS to a public resolver
	{conntrack.ProtoUDP, 123, 0.01, 0.03, 30}, // NTP
	{conntrack.ProtoICMP, 0, 0.02, 0.03, 30},  // ping
}

// homeFlow is one flow of the table.
type homeFlow struct {
	dev, remote int32
	svc         uint8
	v6, hot     bool
	port        uint16 // source port, or the ICMP echo id
	rate        uint32 // a hot flow's downlink bytes per second
	expires     int64  // second it closes at (0: closed at random)
	last        int64  // second it last grew
	c           conntrack.Counters
}

// homeKey identifies a flow (its conntrack key, in the profile's terms).
type homeKey struct {
	dev, remote int32
	svc         uint8
	v6          bool
	port        uint16
}

func (f *homeFlow) key() homeKey { return homeKey{f.dev, f.remote, f.svc, f.v6, f.port} }

// home is the table and its clock (whole seconds since the start). Step
// advances it by a second; Render prints it as conntrack -L -o extended
// does. Its methods are safe for concurrent use.
type home struct {
	mu    sync.Mutex
	rng   *rand.Rand
	now   int64
	flows []homeFlow
	keys  map[homeKey]bool
	born  int32 // transient hosts born so far
	// touched is, per remote host, the second it last opened or grew a
	// flow (-1: never); pairs the same per device and remote host.
	touched []int64
	pairs   map[[2]int32]int64
	// cumulative distributions: devices, everyday hosts, the kinds of
	// active and of new flows.
	devCDF, coreCDF, activeCDF, openCDF []float64
	st                                  homeStats
}

// homeStats counts what the profile did since its start.
type homeStats struct {
	Steps, Opened, Closed, Grown int64
	Bytes                        uint64 // bytes moved, both directions
}

// newHome builds the table at second 0, deterministically from seed.
func newHome(seed uint64) *home {
	h := &home{
		rng:       rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		keys:      make(map[homeKey]bool, homeFlows),
		pairs:     map[[2]int32]int64{},
		touched:   slices.Repeat([]int64{-1}, homeCore),
		devCDF:    zipfCDF(homeDevices, 0.8),
		coreCDF:   zipfCDF(homeCore, 1),
		activeCDF: cdf(homeServices, func(s homeService) float64 { return s.active }),
		openCDF:   cdf(homeServices, func(s homeService) float64 { return s.open }),
	}
	for len(h.flows) < homeFlows {
		h.open(h.activeCDF, true)
	}
	h.refillHot()
	return h
}

// zipfCDF is the cumulative distribution of ranks 1..n with weight 1/k^s.
func zipfCDF(n int, s float64) []float64 {
	w := make([]float64, n)
	for k := range w {
		w[k] = 1 / math.Pow(float64(k+1), s)
	}
	return cdf(w, func(x float64) float64 { return x })
}

// cdf is the normalized cumulative sum of weight over xs.
func cdf[T any](xs []T, weight func(T) float64) []float64 {
	out := make([]float64, len(xs))
	sum := 0.0
	for i, x := range xs {
		sum += weight(x)
		out[i] = sum
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// pick draws an index from a cumulative distribution.
func (h *home) pick(c []float64) int {
	i, _ := slices.BinarySearch(c, h.rng.Float64())
	return min(i, len(c)-1)
}

// v6Remote reports whether remote host r is an IPv6 host: one in ten of
// the everyday hosts and of the transient ones.
func v6Remote(r int32) bool {
	if r < homeCore {
		return r%10 == 3
	}
	return (r-homeCore)%10 == 3
}

// open adds one flow of a kind drawn from c; initial flows are older and
// have moved more.
func (h *home) open(c []float64, initial bool) {
	for {
		f := homeFlow{svc: uint8(h.pick(c)), dev: int32(h.pick(h.devCDF)), last: h.now}
		f.v6 = slices.Contains(homeV6, int(f.dev)) && h.rng.IntN(2) == 0
		f.remote = h.remote(f.v6)
		if s := homeServices[f.svc]; s.proto == conntrack.ProtoICMP {
			f.port = uint16(1 + h.rng.IntN(65535))
		} else {
			f.port = uint16(32768 + h.rng.IntN(61000-32768))
		}
		if h.keys[f.key()] {
			continue
		}
		s := homeServices[f.svc]
		if s.life > 0 {
			f.expires = h.now + s.life
			if initial {
				f.expires = h.now + 1 + h.rng.Int64N(s.life)
			}
		}
		// A query and its answer; or a handshake and the first data, much
		// more of it for a flow that was open before the start.
		up, upSize, down, downSize := 1+h.rng.IntN(2), 60, 1+h.rng.IntN(2), 100+h.rng.IntN(400)
		if s.life == 0 {
			up, upSize, down, downSize = 1+h.rng.IntN(20), 60+h.rng.IntN(800), 1+h.rng.IntN(30), 60+h.rng.IntN(1400)
			if initial {
				up, down = up*(1+h.rng.IntN(50)), down*(1+h.rng.IntN(50))
			}
		}
		f.grow(uint64(up), uint64(up*upSize), uint64(down), uint64(down*downSize))
		h.keys[f.key()] = true
		h.flows = append(h.flows, f)
		h.touch(&f)
		h.st.Opened++
		h.st.Bytes += f.c.TotalBytes()
		return
	}
}

// remote draws the remote host of a new flow: the newest transient host
// at its birth, then now and then a live transient host, else an everyday
// host by popularity; of the flow's family.
func (h *home) remote(v6 bool) int32 {
	for {
		var r int32
		if born := int32(float64(h.now) / homeBirth); born > h.born {
			h.born = born
			r = homeCore + born - 1
		} else if alive := h.alive(); len(alive) > 0 && h.rng.Float64() < homeToNew {
			r = alive[h.rng.IntN(len(alive))]
		} else {
			r = int32(h.pick(h.coreCDF))
		}
		if v6Remote(r) == v6 {
			return r
		}
	}
}

// alive are the transient hosts still drawing new flows.
func (h *home) alive() []int32 {
	var out []int32
	for b := h.born; b > 0 && float64(h.now)-float64(b)*homeBirth < homeTransient; b-- {
		out = append(out, homeCore+b-1)
	}
	return out
}

// touch records that f's remote host and its pair with f's device moved
// something now.
func (h *home) touch(f *homeFlow) {
	for int(f.remote) >= len(h.touched) {
		h.touched = append(h.touched, -1)
	}
	h.touched[f.remote] = h.now
	h.pairs[[2]int32{f.dev, f.remote}] = h.now
}

// refillHot makes long-lived flows to port 443 hot until homeHot are, the
// newest first: a stream that closed is replaced by a new one.
func (h *home) refillHot() {
	hot := 0
	for i := range h.flows {
		if h.flows[i].hot {
			hot++
		}
	}
	for i := len(h.flows) - 1; hot < homeHot && i >= 0; i-- {
		if f := &h.flows[i]; !f.hot && f.expires == 0 && homeServices[f.svc].port == 443 {
			h.makeHot(f)
			hot++
		}
	}
}

// makeHot turns f into a stream or a download: 4 to 128 KB/s downlink,
// log-uniform.
func (h *home) makeHot(f *homeFlow) {
	f.hot = true
	f.rate = uint32(4000 * math.Pow(32, h.rng.Float64()))
}

// grow adds packets and bytes to f's counters.
func (f *homeFlow) grow(upPkts, upBytes, downPkts, downBytes uint64) {
	f.c.UplinkPackets += upPkts
	f.c.UplinkBytes += upBytes
	f.c.DownlinkPackets += downPkts
	f.c.DownlinkBytes += downBytes
}

// Step advances the table by one second: short-lived flows whose time is
// up and random others close (as many as open, so the table keeps its
// size), homeNew flows open, every hot flow and random others grow, 10% of
// the table in all.
func (h *home) Step() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now++
	h.st.Steps++
	closing := len(h.flows) + homeNew - homeFlows
	for i := 0; i < len(h.flows); {
		if f := h.flows[i]; f.expires > 0 && f.expires <= h.now {
			h.close(i)
			closing--
			continue
		}
		i++
	}
	for ; closing > 0; closing-- {
		h.close(h.rng.IntN(len(h.flows)))
	}
	for range homeNew {
		h.open(h.openCDF, false)
	}
	h.refillHot()
	changes := int(homeChange * float64(len(h.flows)))
	for i := range h.flows {
		if f := &h.flows[i]; f.hot && f.last < h.now {
			h.growHot(f)
			changes--
		}
	}
	for tries := 0; changes > 0 && tries < 10*len(h.flows); tries++ {
		f := &h.flows[h.rng.IntN(len(h.flows))]
		if f.last == h.now {
			continue // grown or opened this second already
		}
		p1, p2 := uint64(1+h.rng.IntN(3)), uint64(1+h.rng.IntN(3))
		b1, b2 := p1*uint64(60+h.rng.IntN(600)), p2*uint64(60+h.rng.IntN(1000))
		h.grown(f, p1, b1, p2, b2)
		changes--
	}
}

// growHot moves a second of a stream: its rate, give or take half, in
// full-size packets down and an ack for every two up.
func (h *home) growHot(f *homeFlow) {
	down := uint64(float64(f.rate) * (0.5 + h.rng.Float64()))
	pkts := down/1400 + 1
	h.grown(f, pkts/2+1, 52*(pkts/2+1), pkts, down)
}

func (h *home) grown(f *homeFlow, upPkts, upBytes, downPkts, downBytes uint64) {
	f.grow(upPkts, upBytes, downPkts, downBytes)
	f.last = h.now
	h.touch(f)
	h.st.Grown++
	h.st.Bytes += upBytes + downBytes
}

// close removes flow i (the last flow takes its place).
func (h *home) close(i int) {
	delete(h.keys, h.flows[i].key())
	h.flows[i] = h.flows[len(h.flows)-1]
	h.flows = h.flows[:len(h.flows)-1]
	h.st.Closed++
}

// Stats returns the counts so far, the second it is and how many remote
// hosts moved something since the second since (opened or grew a flow).
func (h *home) Stats(since int64) (st homeStats, now int64, remotes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.touched {
		if t >= since {
			remotes++
		}
	}
	return h.st, h.now, remotes
}

// devAddr is the address of device d in family v6.
func devAddr(d int32, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 14: byte((10 + d) >> 8), 15: byte(10 + d)})
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + d)})
}

// remoteAddr is remote host r's address: 198.18.0.0/15 (the benchmarking
// range of RFC 2544) or 2001:db8:f000::/64.
func remoteAddr(r int32) netip.Addr {
	n := uint32(r) + 1
	if v6Remote(r) {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf0, 0, 12: byte(n >> 24), 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)})
	}
	a := 198<<24 | 18<<16 + n
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

// Render appends the table to b as conntrack -L -o extended prints it:
// IPv4 flows NATed to wanAddr, IPv6 flows not; TCP established and
// assured, UDP assured but for the short-lived ones, the timeout counting
// down since the flow last moved.
func (h *home) Render(b []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.flows {
		b = h.line(b, &h.flows[i])
	}
	return b
}

// RenderDay is Render plus, for every pair of device and remote host that
// moved traffic since the second since but has no flow now, a TCP flow
// with a little traffic: the table as if the day's flows were all still
// listed. Read once, it gives the record a day's devices, remote hosts
// and pairs, as the record holds them late in a day. Its source ports
// (1024-32767) never meet those of Render's flows.
func (h *home) RenderDay(b []byte, since int64) []byte {
	b = h.Render(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := map[[2]int32]bool{}
	for _, f := range h.flows {
		now[[2]int32{f.dev, f.remote}] = true
	}
	var old [][2]int32
	for p, t := range h.pairs {
		if t >= since && !now[p] {
			old = append(old, p)
		}
	}
	slices.SortFunc(old, func(x, y [2]int32) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) })
	for i, p := range old {
		f := homeFlow{dev: p[0], remote: p[1], v6: v6Remote(p[1]), port: uint16(1024 + i%31744), last: h.now}
		f.grow(12, 2400, 16, 18000)
		b = h.line(b, &f)
	}
	return b
}

func (h *home) line(b []byte, f *homeFlow) []byte {
	s := homeServices[f.svc]
	src, dst := devAddr(f.dev, f.v6), remoteAddr(f.remote)
	replyDst := wanAddr
	proto, family, l3 := s.proto, "ipv4     2 ", "icmp     "
	if f.v6 {
		replyDst, family, l3 = src, "ipv6     10 ", "icmpv6   "
		if proto == conntrack.ProtoICMP {
			proto = conntrack.ProtoICMPv6
		}
	}
	idle := h.now - f.last
	b = append(b, family...)
	var timeout int64
	switch proto {
	case conntrack.ProtoTCP:
		b, timeout = append(b, "tcp      6 "...), 432000
	case conntrack.ProtoUDP:
		b, timeout = append(b, "udp      17 "...), 120
		if s.life > 0 {
			timeout = 30
		}
	default:
		b, timeout = strconv.AppendInt(append(b, l3...), int64(proto), 10), 30
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, max(timeout-idle, 1), 10)
	if proto == conntrack.ProtoTCP {
		b = append(b, " ESTABLISHED"...)
	}
	tuple := func(b []byte, src, dst netip.Addr, sport, dport uint16, pkts, bytes uint64, echo bool) []byte {
		b = append(b, " src="...)
		b = src.AppendTo(b)
		b = append(b, " dst="...)
		b = dst.AppendTo(b)
		if proto.HasPorts() {
			b = append(b, " sport="...)
			b = strconv.AppendUint(b, uint64(sport), 10)
			b = append(b, " dport="...)
			b = strconv.AppendUint(b, uint64(dport), 10)
		} else {
			b = append(append(append(b, " type="...), icmpType(f.v6, echo)...), " code=0 id="...)
			b = strconv.AppendUint(b, uint64(f.port), 10)
		}
		b = append(b, " packets="...)
		b = strconv.AppendUint(b, pkts, 10)
		b = append(b, " bytes="...)
		return strconv.AppendUint(b, bytes, 10)
	}
	b = tuple(b, src, dst, f.port, s.port, f.c.UplinkPackets, f.c.UplinkBytes, false)
	b = tuple(b, dst, replyDst, s.port, f.port, f.c.DownlinkPackets, f.c.DownlinkBytes, true)
	if proto == conntrack.ProtoTCP || (proto == conntrack.ProtoUDP && s.life == 0) {
		b = append(b, " [ASSURED]"...)
	}
	return append(b, " mark=0 use=1\n"...)
}

// icmpType is the ICMP type of an echo request or reply, over IPv4 or IPv6.
func icmpType(v6, reply bool) string {
	switch {
	case v6 && reply:
		return "129"
	case v6:
		return "128"
	case reply:
		return "0"
	}
	return "8"
}

// writeHome writes the table to path through a temporary file in the
// same directory and a rename, so that a reader sees one whole table.
func writeHome(h *home, path string, buf []byte) ([]byte, error) {
	buf = h.Render(buf[:0])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		return buf, fmt.Errorf("write home table: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return buf, fmt.Errorf("write home table: %w", err)
	}
	return buf, nil
}

// runHome steps the table and rewrites path once a second until ctx ends,
// and returns the first error.
func runHome(ctx context.Context, h *home, path string) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h.Step()
		var err error
		if buf, err = writeHome(h, path, buf); err != nil {
			return err
		}
	}
}
