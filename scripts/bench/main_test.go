package main

import (
	"bytes"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, []Row{{What: "a|b", Netmon: "1 ms", Result: "PASS"}})
	want := "| what | netmon | baseline (same run) | ratio | peak RSS | target | result |\n|---|---|---|---|---|---|---|\n" +
		`| a\|b | 1 ms |   |   |   |   | PASS |` + "\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ms(1234 * time.Millisecond), "1234 ms"},
		{ms(41100 * time.Microsecond), "41.1 ms"},
		{ms(2630 * time.Microsecond), "2.63 ms"},
		{ratio(285, 41.1), "6.9x"},
		{ratio(4e6, 3e5), "13x"},
		{ratio(1, 0), "n/a"},
		{size(8400), "8.2 KiB"},
		{size(-2048), "-2.0 KiB"},
		{count(100074), "100,074"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
