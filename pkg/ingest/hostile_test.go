package ingest

import (
	"bytes"
	"context"
	"errors"
	"github.com/netmon-dev/netmon/pkg/source"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/store"
)

// hostileCase is one broken or hostile conntrack run, fed through the real
// conntrack.Snapshot and ExecRunner (a shell script stands in for
// conntrack), the real parser, filter and store.
type hostileCase struct {
	name string
	// script is the body of the fake conntrack. $DATA is a file holding
	// data's bytes, $TABLE the real small_mixed capture.
	script string
	data   func(table []byte) []byte
	// command replaces the script with a command path (a missing one).
	command  string
	timeout  time.Duration
	maxBytes int64

	// wantErr: the cycle fails with this error and the database stays
	// exactly as it was. nil: the cycle succeeds and leaves the database
	// that the clean snapshot equivalent(table) leaves.
	wantErr    error
	equivalent func(table []byte) []byte
	// wantSkipped is the number of malformed lines a successful cycle
	// reports (or a failed one, when not 0).
	wantSkipped int
	// maxAlloc bounds the bytes allocated during the cycle (TotalAlloc):
	// streaming, never the whole input in memory.
	maxAlloc uint64
}

const (
	// fiftyMB is the size of the single-line case.
	fiftyMB = 50 << 20
	// smallMixedLines is the number of lines of the small_mixed capture.
	smallMixedLines = 29
	// smallMixedTrailer is what conntrack printed on stderr for it.
	smallMixedTrailer = "conntrack v1.4.7 (conntrack-tools): 29 flow entries have been shown."
)

func hostileCases() []hostileCase {
	const mib = 1 << 20
	same := func(table []byte) []byte { return table }
	return []hostileCase{
		{
			name:   "binary garbage",
			script: `cat "$DATA"`,
			data: func([]byte) []byte {
				b := make([]byte, 4*mib)
				rng := rand.New(rand.NewPCG(8, 8))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return b
			},
			wantErr:  ErrUnusableSnapshot,
			maxAlloc: 4 * mib,
		},
		{
			name:   "NUL bytes inside a line and a line of NULs",
			script: `cat "$DATA"`,
			data: func(table []byte) []byte {
				lines := bytes.SplitAfter(table, []byte("\n"))
				lines[2] = bytes.Replace(lines[2], []byte("dport="), []byte("dport=\x00"), 1)
				return append(bytes.Join(lines, nil), bytes.Repeat([]byte{0}, 4096)...)
			},
			equivalent: func(table []byte) []byte {
				lines := bytes.SplitAfter(table, []byte("\n"))
				return bytes.Join(append(lines[:2:2], lines[3:]...), nil)
			},
			wantSkipped: 2,
			maxAlloc:    4 * mib,
		},
		{
			name:   "invalid UTF-8 in a state word and in an unknown field",
			script: `cat "$DATA"`,
			data: func(table []byte) []byte {
				lines := bytes.SplitAfter(table, []byte("\n"))
				for i, l := range lines {
					if bytes.Contains(l, []byte(" ESTABLISHED ")) {
						lines[i] = bytes.Replace(l, []byte(" ESTABLISHED "), []byte(" \xff\xfe\xc0 "), 1)
						break
					}
				}
				last := len(lines) - 2 // the final element is the empty rest after the last "\n"
				lines[last] = bytes.Replace(lines[last], []byte(" use="), []byte(" x\xff=\xc0\xaf use="), 1)
				return bytes.Join(lines, nil)
			},
			equivalent: func(table []byte) []byte {
				lines := bytes.SplitAfter(table, []byte("\n"))
				for i, l := range lines {
					if bytes.Contains(l, []byte(" ESTABLISHED ")) {
						return bytes.Join(append(lines[:i:i], lines[i+1:]...), nil)
					}
				}
				return nil
			},
			wantSkipped: 1,
			maxAlloc:    4 * mib,
		},
		{
			name:        "CRLF line ends",
			script:      `cat "$DATA"`,
			data:        func(table []byte) []byte { return bytes.ReplaceAll(table, []byte("\n"), []byte("\r\n")) },
			equivalent:  same,
			wantSkipped: 0,
			maxAlloc:    4 * mib,
		},
		{
			name:   "truncated last line",
			script: `cat "$DATA"`,
			data: func(table []byte) []byte {
				body := bytes.TrimSuffix(table, []byte("\n"))
				cut := bytes.LastIndexByte(body, '\n') + 1
				return body[:cut+(len(body)-cut)/2]
			},
			equivalent: func(table []byte) []byte {
				body := bytes.TrimSuffix(table, []byte("\n"))
				return body[:bytes.LastIndexByte(body, '\n')+1]
			},
			wantSkipped: 1,
			maxAlloc:    4 * mib,
		},
		{
			name:        "one 50 MB line",
			script:      `head -c ` + strconv.Itoa(fiftyMB) + ` /dev/zero | tr '\0' 'x'`,
			wantErr:     ErrUnusableSnapshot,
			wantSkipped: 1,
			maxAlloc:    8 * mib,
		},
		{
			name:       "one 50 MB line before a real table",
			script:     `head -c ` + strconv.Itoa(fiftyMB) + ` /dev/zero | tr '\0' 'x'; echo; cat "$TABLE"`,
			equivalent: same, wantSkipped: 1,
			maxAlloc: 8 * mib,
		},
		{
			name:        "a million junk lines",
			script:      `yes 'ipv4 2 tcp 6 120 ESTABLISHED src=junk dst=<script> sport=x' | head -n 1000000`,
			wantErr:     ErrUnusableSnapshot,
			wantSkipped: 1_000_000,
			// Each skipped line allocates its small ParseError; only the
			// first conntrack.MaxKeptErrors are kept.
			maxAlloc: 96 * mib,
		},
		{
			name:        "100,000 junk lines around a real table",
			script:      `yes 'junk' | head -n 50000; cat "$TABLE"; yes 'junk' | head -n 50000`,
			equivalent:  same,
			wantSkipped: 100_000,
			maxAlloc:    16 * mib,
		},
		{
			name:       "empty output with conntrack's zero trailer",
			script:     `echo 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.' >&2`,
			equivalent: func([]byte) []byte { return nil },
			maxAlloc:   1 * mib,
		},
		{
			name:       "empty output without a trailer",
			script:     `exit 0`,
			equivalent: func([]byte) []byte { return nil },
			maxAlloc:   1 * mib,
		},
		{
			name:     "only the stderr trailer, the table lost",
			script:   `echo '` + smallMixedTrailer + `' >&2`,
			wantErr:  ErrUnusableSnapshot,
			maxAlloc: 1 * mib,
		},
		{
			name:     "trailer counts more lines than printed",
			script:   `head -n 10 "$TABLE"; echo '` + smallMixedTrailer + `' >&2`,
			wantErr:  ErrUnusableSnapshot,
			maxAlloc: 1 * mib,
		},
		{
			name:       "trailer agrees with the table",
			script:     `cat "$TABLE"; echo '` + smallMixedTrailer + `' >&2`,
			equivalent: same,
			maxAlloc:   1 * mib,
		},
		{
			name:       "10 MB of stderr beside a good table",
			script:     `cat "$TABLE"; head -c 10485760 /dev/zero | tr '\0' 'e' >&2`,
			equivalent: same,
			maxAlloc:   4 * mib,
		},
		{
			name:     "hangs forever",
			script:   `exec sleep 600`,
			timeout:  300 * time.Millisecond,
			wantErr:  source.ErrTimeout,
			maxAlloc: 1 * mib,
		},
		{
			name:     "hangs after half the table",
			script:   `head -n 15 "$TABLE"; exec sleep 600`,
			timeout:  300 * time.Millisecond,
			wantErr:  source.ErrTimeout,
			maxAlloc: 1 * mib,
		},
		{
			name:     "exits non-zero after the whole table",
			script:   `cat "$TABLE"; echo 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters' >&2; exit 1`,
			wantErr:  source.ErrExit,
			maxAlloc: 1 * mib,
		},
		{
			name:     "killed by a signal halfway",
			script:   `head -n 15 "$TABLE"; kill -9 $$`,
			wantErr:  source.ErrExit,
			maxAlloc: 1 * mib,
		},
		{
			name:     "kernel refuses the dump",
			script:   `echo 'conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted' >&2; exit 1`,
			wantErr:  source.ErrPermission,
			maxAlloc: 1 * mib,
		},
		{
			name:     "missing command",
			command:  "/nonexistent/netmon-test/conntrack",
			wantErr:  source.ErrNotInstalled,
			maxAlloc: 1 * mib,
		},
		{
			name:     "output beyond the size limit",
			script:   `cat "$TABLE"; yes "$(head -n 1 "$TABLE")"`,
			maxBytes: 1 << 20,
			wantErr:  source.ErrTooLarge,
			maxAlloc: 8 * mib,
		},
	}
}

// TestHostileSnapshots runs each hostile conntrack through a cycle against a
// real database that already holds the small_mixed table. An unusable
// snapshot fails the cycle with one error and leaves every row as it was;
// a usable one gives exactly the database its clean equivalent gives; the
// cycle's allocations stay bounded whatever the input's size.
func TestHostileSnapshots(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no /bin/sh to stand in for conntrack")
	}
	table, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "conntrack", "small_mixed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(table, []byte("\n")); n != smallMixedLines {
		t.Fatalf("small_mixed has %d lines, want %d", n, smallMixedLines)
	}
	lan := lanFilter(t)
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tablePath := filepath.Join(dir, "table.txt")
			writeFile(t, tablePath, table)
			dataPath := filepath.Join(dir, "data")
			if tc.data != nil {
				writeFile(t, dataPath, tc.data(table))
			}
			cmd := tc.command
			if cmd == "" {
				cmd = filepath.Join(dir, "conntrack")
				script := "#!/bin/sh\nDATA='" + dataPath + "'\nTABLE='" + tablePath + "'\n" + tc.script + "\n"
				writeFile(t, cmd, []byte(script))
				if err := os.Chmod(cmd, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			src := &source.Conntrack{Command: cmd, Timeout: tc.timeout, MaxBytes: tc.maxBytes}

			db, in := seededIngester(t, filepath.Join(dir, "hostile.db"), lan, tablePath)
			in.Source = src
			beforeRows, beforeFiles := dumpDB(t, db)

			var sum Summary
			alloc := allocated(func() { sum, err = in.ReconcileSnapshot(context.Background()) })
			t.Logf("skipped=%d entries=%d allocated=%.1f MiB err=%v", sum.Skipped, sum.Entries, float64(alloc)/(1<<20), err)
			if alloc > tc.maxAlloc {
				t.Errorf("the cycle allocated %d bytes, more than the bound %d", alloc, tc.maxAlloc)
			}
			if (err == nil || tc.wantSkipped != 0) && sum.Skipped != tc.wantSkipped {
				t.Errorf("skipped %d lines, want %d", sum.Skipped, tc.wantSkipped)
			}

			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("cycle error = %v, want one wrapping %v", err, tc.wantErr)
				}
				if n := strings.Count(err.Error(), "\n"); n > 0 || len(err.Error()) > 1024 {
					t.Errorf("error is not one short line (%d bytes): %q", len(err.Error()), err)
				}
				afterRows, afterFiles := dumpDB(t, db)
				if diff := cmp.Diff(beforeRows, afterRows); diff != "" {
					t.Errorf("an unusable snapshot changed the rows (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(beforeFiles, afterFiles); diff != "" {
					t.Error("an unusable snapshot changed the database files")
				}
				return
			}
			if err != nil {
				t.Fatalf("cycle: %v", err)
			}
			cleanPath := filepath.Join(dir, "clean.txt")
			writeFile(t, cleanPath, tc.equivalent(table))
			cleanDB, cleanIn := seededIngester(t, filepath.Join(dir, "clean.db"), lan, tablePath)
			cleanIn.Source = &source.File{Path: cleanPath}
			if _, err := cleanIn.ReconcileSnapshot(context.Background()); err != nil {
				t.Fatalf("clean cycle: %v", err)
			}
			gotRows, _ := dumpDB(t, db)
			wantRows, _ := dumpDB(t, cleanDB)
			if diff := cmp.Diff(wantRows, gotRows); diff != "" {
				t.Errorf("database differs from the clean snapshot's (-clean +hostile):\n%s", diff)
			}
		})
	}
}

// seededIngester opens a real database at path, runs one cycle of the
// capture at seedPath at t0, and returns an ingester whose clock then reads
// t0 plus a minute (the caller sets its Source).
func seededIngester(t *testing.T, path string, f *filter.Filter, seedPath string) (*store.Live, *Ingester) {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, path)
	now := t0
	in := &Ingester{
		Source: &source.File{Path: seedPath},
		Filter: f, Store: db, Retention: time.Hour,
		Now: func() time.Time { return now },
	}
	sum, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		t.Fatalf("seed cycle: %v", err)
	}
	if sum.Opened == 0 {
		t.Fatalf("seed cycle stored nothing: %+v", sum)
	}
	now = t0.Add(time.Minute)
	return db, in
}

// openStore opens a real database at path, closed when the test ends.
func openStore(t *testing.T, path string) *store.Live {
	t.Helper()
	db, err := store.OpenLive(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// lanFilter is the real filter for the lab's LANs, 10.0.0.0/24 and fd00::/64.
func lanFilter(t *testing.T) *filter.Filter {
	t.Helper()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// allocated returns the bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
