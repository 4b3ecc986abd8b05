package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"iter"
	"os"
	"path/filepath"
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Compile-time checks: both sources have the same List.
var (
	_ lister = (*Conntrack)(nil)
	_ lister = (*File)(nil)
)

type lister interface {
	List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error]
}

// readAll ranges over one listing, calling fn for each entry, and returns
// its counts and its error.
func readAll(ctx context.Context, l lister, fn func(*conntrack.Entry)) (conntrack.Stats, error) {
	var st conntrack.Stats
	for e, err := range l.List(ctx, &st) {
		if err != nil {
			return st, err
		}
		fn(e)
	}
	return st, nil
}

// fixtureDir is where the conntrack captures live, relative to this package.
const fixtureDir = "../../fixtures/conntrack"

// fixturePath returns the path of the capture called name.
func fixturePath(name string) string { return filepath.Join(fixtureDir, name) }

// readFixture returns the content of a capture, decompressed when its name
// ends in .gz.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	if filepath.Ext(name) != ".gz" {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("gunzip fixture %s: %v", name, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip fixture %s: %v", name, err)
	}
	return out
}

// TestListStopsEarly: a loop that breaks out of the sequence stops the
// read (conntrack is killed, not waited out) and gets no error after.
func TestListStopsEarly(t *testing.T) {
	table := string(readFixture(t, "small_mixed.txt"))
	slow := &fakeRunner{run: func(ctx context.Context, _ string, _, _ []string, o, _ io.Writer) error {
		io.WriteString(o, table)
		<-ctx.Done() // like a huge table still being printed
		return ctx.Err()
	}}
	for name, l := range map[string]lister{
		"conntrack": &Conntrack{Runner: slow},
		"file":      &File{Path: fixturePath("small_mixed.txt")},
	} {
		t.Run(name, func(t *testing.T) {
			var st conntrack.Stats
			n := 0
			for e, err := range l.List(context.Background(), &st) {
				if err != nil {
					t.Fatalf("error after the loop stopped: %v", err)
				}
				if e == nil {
					t.Fatal("nil entry without an error")
				}
				if n++; n == 3 {
					break
				}
			}
			if n != 3 || st.Entries != 3 {
				t.Errorf("read %d entries, stats %d; want 3 and 3", n, st.Entries)
			}
		})
	}
}

// Two real lines of `conntrack -L -o extended` (small_mixed.txt).
const (
	tcpLine  = "ipv4     2 tcp      6 431997 ESTABLISHED src=10.0.0.6 dst=203.0.113.80 sport=33857 dport=443 packets=6 bytes=330 src=203.0.113.80 dst=203.0.113.1 sport=443 dport=33857 packets=5 bytes=20268 [ASSURED] mark=0 use=1"
	icmpLine = "ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=4660 packets=3 bytes=252 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=4660 packets=3 bytes=252 mark=0 use=1"
	udpLine  = "ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.80 sport=41467 dport=53 packets=1 bytes=68 src=203.0.113.80 dst=203.0.113.1 sport=53 dport=41467 packets=1 bytes=148 mark=0 use=1"
)
