package source

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

func TestSlice(t *testing.T) {
	in := Slice{
		{Proto: conntrack.ProtoTCP, Orig: conntrack.Tuple{Src: netip.MustParseAddr("10.0.0.5"), Bytes: 1}},
		{Proto: conntrack.ProtoUDP, Orig: conntrack.Tuple{Src: netip.MustParseAddr("10.0.0.6"), Bytes: 2}},
	}
	var (
		st  conntrack.Stats
		got []conntrack.Entry
	)
	for e, err := range in.List(context.Background(), &st) {
		if err != nil {
			t.Fatal(err)
		}
		e.Orig.Bytes += 100 // the consumer's copy, not the slice
		got = append(got, *e)
	}
	if got[0].Orig.Bytes != 101 || in[0].Orig.Bytes != 1 || len(got) != 2 {
		t.Errorf("got %+v; the slice now %+v", got, in)
	}
	if diff := cmp.Diff(conntrack.Stats{Lines: 2, Entries: 2, Reported: -1}, st, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}
