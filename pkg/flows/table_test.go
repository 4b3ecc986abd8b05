package flows

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// TestRowSize: the layout the table's memory figures assume.
func TestRowSize(t *testing.T) {
	if n := unsafe.Sizeof(row{}); n != 128 {
		t.Errorf("a row is %d bytes, want 128", n)
	}
}

// testKey is a distinct tuple for each n: IPv4 and IPv6 addresses, ports
// that repeat, so keys differ in every field over a run.
func testKey(n int) conntrack.PackedKey {
	src := netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
	dst := netip.MustParseAddr("2001:db8::1")
	if n%3 == 0 {
		dst = netip.AddrFrom4([4]byte{203, 0, 113, byte(n)})
	}
	return (conntrack.FlowKey{Proto: conntrack.Proto(n % 2), Src: src, Dst: dst, SrcPort: uint16(n * 7), DstPort: uint16(n % 5)}).Pack()
}

// TestTableIndex drives the open-addressing index with random
// inserts and removes against a Go map, crossing resizes both ways and
// chunk boundaries, and checks after every step batch that every cached
// key is found at its row, no removed key is, and the table holds exactly
// one slot per row.
func TestTableIndex(t *testing.T) {
	type phase struct {
		ops     int
		pRemove float64 // chance an op removes instead of inserting
	}
	tests := []struct {
		name   string
		phases []phase
	}{
		{"grow", []phase{{20_000, 0.1}}},
		{"churn", []phase{{5_000, 0}, {20_000, 0.5}}},
		{"grow then shrink", []phase{{30_000, 0.1}, {30_000, 0.9}}},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(ti)))
			c := New()
			want := map[conntrack.PackedKey]int64{} // key -> id stored in its row
			var keys []conntrack.PackedKey          // the keys in want, for random removal
			next := 0
			check := func(step int) {
				t.Helper()
				if c.rows.n != len(want) {
					t.Fatalf("step %d: %d rows, want %d", step, c.rows.n, len(want))
				}
				used := 0
				for _, s := range c.slots {
					if s != 0 {
						used++
					}
				}
				if used != c.rows.n || c.rows.n*4 > len(c.slots)*3 {
					t.Fatalf("step %d: %d slots used of %d for %d rows", step, used, len(c.slots), c.rows.n)
				}
				for k, id := range want {
					i := c.lookup(k)
					if i < 0 || c.rows.at(i).ref != id {
						t.Fatalf("step %d: key of id %d not found (row %d)", step, id, i)
					}
				}
			}
			// Removed keys must stay gone: probe a few of them.
			var gone []conntrack.PackedKey
			step := 0
			for _, ph := range tt.phases {
				for range ph.ops {
					step++
					if len(keys) > 0 && rng.Float64() < ph.pRemove {
						j := rng.IntN(len(keys))
						k := keys[j]
						keys[j] = keys[len(keys)-1]
						keys = keys[:len(keys)-1]
						c.remove(c.lookup(k))
						delete(want, k)
						gone = append(gone, k)
					} else {
						k := testKey(next)
						next++
						if c.lookup(k) >= 0 {
							t.Fatalf("step %d: new key found before insert", step)
						}
						i := c.insert(k)
						c.rows.at(i).ref = int64(next)
						want[k] = int64(next)
						keys = append(keys, k)
					}
					if step%997 == 0 {
						check(step)
					}
				}
			}
			check(step)
			for _, k := range gone {
				if i := c.lookup(k); i >= 0 {
					t.Fatalf("removed key found at row %d", i)
				}
			}
		})
	}
}

// TestTableShrinks: after every row is removed the index and the
// arena give their memory back (but for one spare chunk).
func TestTableShrinks(t *testing.T) {
	c := New()
	for n := range 50_000 {
		c.insert(testKey(n))
	}
	big := len(c.slots)
	for i := c.rows.n - 1; i >= 0; i-- {
		c.remove(i)
	}
	if len(c.slots) != minSlots || len(c.rows.chunks) > 1 {
		t.Errorf("empty cache keeps %d slots (had %d) and %d chunks; want %d and at most 1",
			len(c.slots), big, len(c.rows.chunks), minSlots)
	}
}

func TestArenaTruncate(t *testing.T) {
	const chunk = 1 << chunkShift
	tests := []struct {
		fill, keep int
		wantChunks int
	}{
		{0, 0, 0},
		{1, 0, 1},         // the spare chunk stays
		{3 * chunk, 0, 1}, // all but one spare go
		{3 * chunk, chunk, 2},
		{3 * chunk, chunk + 1, 3},
		{3 * chunk, 3 * chunk, 3},
	}
	for _, tt := range tests {
		var a arena
		for range tt.fill {
			a.at(a.push()).ref = 7
		}
		a.truncate(tt.keep)
		if a.n != tt.keep || len(a.chunks) != tt.wantChunks {
			t.Errorf("fill %d, truncate(%d): n %d, %d chunks; want %d, %d", tt.fill, tt.keep, a.n, len(a.chunks), tt.keep, tt.wantChunks)
		}
		if a.n < len(a.chunks)<<chunkShift {
			if i := a.push(); a.at(i).ref != 0 {
				t.Errorf("fill %d, truncate(%d): pushed row not zero: %+v", tt.fill, tt.keep, *a.at(i))
			}
		}
	}
}

func TestWordsLimit(t *testing.T) {
	var w words
	for i := range MaxStates {
		if id, ok := w.id(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i)); !ok || int(id) != i {
			t.Fatalf("word %d: id %d, %v", i, id, ok)
		}
	}
	if _, ok := w.id("one too many"); ok {
		t.Error("a word beyond MaxStates got an id")
	}
	if id, ok := w.id(w.text[42]); !ok || id != 42 {
		t.Errorf("a known word after the table filled: %d, %v; want 42, true", id, ok)
	}
}

func itoa(i int) string {
	return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
}
