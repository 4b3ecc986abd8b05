package conntrack

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseLine: any input gives an entry or a ParseError inside the line,
// never a panic; an entry has four addresses of its family, a key that
// survives its text form, and is what Parse makes of the same line.
func FuzzParseLine(f *testing.F) {
	for _, line := range fixtureLines(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseLine(line)
		if err != nil {
			var perr *ParseError
			if !errors.As(err, &perr) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if perr.Line != 0 || perr.Column < 1 || perr.Column > len(line)+1 || perr.Reason == "" {
				t.Fatalf("error %+v outside a line of %d bytes", perr, len(line))
			}
			if diff := cmp.Diff(Entry{}, e, equateAddrs); diff != "" {
				t.Fatalf("entry returned with error %v:\n%s", err, diff)
			}
			return
		}
		want4 := e.Family == 2
		if e.Family != 2 && e.Family != 10 {
			t.Fatalf("family %d", e.Family)
		}
		for _, a := range []netip.Addr{e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst} {
			if !a.IsValid() || a.Is4() != want4 || a.Zone() != "" {
				t.Fatalf("address %v invalid for family %d in %+v", a, e.Family, e)
			}
		}
		k := KeyOf(&e)
		back, err := ParseKey(KeyOf(&e).String())
		if err != nil || back != k {
			t.Fatalf("ParseKey(%q) = %+v, %v; want %+v", KeyOf(&e).String(), back, err, k)
		}
		again, err := ParseLine(line)
		if err != nil || KeyOf(&again) != k {
			t.Fatalf("second parse of the same line differs: %v", err)
		}
		if bytes.IndexByte(line, '\n') < 0 && len(line) < MaxLineBytes {
			var viaParse []Entry
			if _, err := Parse(bytes.NewReader(line), each(func(p *Entry) { viaParse = append(viaParse, *p) })); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Entry{e}, viaParse, equateAddrs); diff != "" {
				t.Fatalf("Parse and ParseLine disagree (-ParseLine +Parse):\n%s", diff)
			}
		}
	})
}

// FuzzParse: any stream is read to the end without error; every
// non-blank line other than the trailer is an entry or a skipped line.
func FuzzParse(f *testing.F) {
	names, err := filepath.Glob(fixturePath("*.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		f.Add(readFixture(f, filepath.Base(n)))
	}
	for _, line := range fixtureLines(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		calls := 0
		st, err := Parse(bytes.NewReader(data), each(func(*Entry) { calls++ }))
		if err != nil {
			t.Fatalf("Parse of an in-memory stream: %v", err)
		}
		if st.Entries+st.Skipped != st.Lines || calls != st.Entries {
			t.Fatalf("stats %+v, fn called %d times", st, calls)
		}
		if len(st.Errors) != min(st.Skipped, MaxKeptErrors) {
			t.Fatalf("%d errors kept for %d skipped lines", len(st.Errors), st.Skipped)
		}
		prev := 0
		for _, e := range st.Errors {
			if e.Line <= prev || e.Column < 1 {
				t.Fatalf("error %+v out of order or place", e)
			}
			prev = e.Line
		}
	})
}
