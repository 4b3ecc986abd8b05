package web_test

import (
	"context"
	"testing"
	"time"

	"net/netip"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
)

// outbound builds an outbound entry: proto is a name or a number, flags
// the status text, sport and dport the key's port positions (for ICMP the
// echo id and the type).
func outbound(proto, src string, sport uint16, dst string, dport uint16, state, flags string, upP, upB, downP, downB uint64) conntrack.Entry {
	p, err := conntrack.ParseProto(proto)
	if err != nil {
		panic(err)
	}
	e := conntrack.Entry{
		Proto: p, State: state, Status: conntrack.ParseStatus(flags),
		Orig:  conntrack.Tuple{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Packets: upP, Bytes: upB},
		Reply: conntrack.Tuple{Src: netip.MustParseAddr(dst), Dst: netip.MustParseAddr(src), Packets: downP, Bytes: downB},
	}
	if p.IsICMP() {
		e.Orig.ICMPID, e.Orig.ICMPType = sport, uint8(dport)
	} else {
		e.Orig.SrcPort, e.Orig.DstPort = sport, dport
	}
	return e
}

// fill reconciles es into db as one cycle at now.
func fill(tb testing.TB, db *store.Live, now time.Time, es []conntrack.Entry) {
	tb.Helper()
	ctx := context.Background()
	if _, _, err := db.Reconcile(ctx, now, source.Slice(es).List(ctx, nil), 0); err != nil {
		tb.Fatalf("reconcile: %v", err)
	}
}
