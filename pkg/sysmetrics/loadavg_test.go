package sysmetrics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLoadAvg(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    LoadAvg
		wantErr bool
	}{
		{name: "kernel format", in: "0.57 0.49 0.21 4/102 10282\n", want: LoadAvg{0.57, 0.49, 0.21}},
		{name: "busy box", in: "12.00 8.50 4.25 9/800 1\n", want: LoadAvg{12, 8.5, 4.25}},
		{name: "only three fields", in: "1 2 3", want: LoadAvg{1, 2, 3}},
		{name: "empty", in: "", wantErr: true},
		{name: "two fields", in: "0.1 0.2\n", wantErr: true},
		{name: "not a number", in: "x 0.2 0.3 1/1 1\n", wantErr: true},
		{name: "NaN would break JSON", in: "NaN 0 0 1/1 1\n", wantErr: true},
		{name: "infinity", in: "0 +Inf 0 1/1 1\n", wantErr: true},
		{name: "negative", in: "0 0 -1 1/1 1\n", wantErr: true},
		{name: "binary garbage", in: "\x00\xff\xfe \x01 \x02", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLoadAvg([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseLoadAvg(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseLoadAvg(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	long := make([]byte, 100)
	for i := range long {
		long[i] = 'a'
	}
	if got := truncate(long); len(got) != 35 {
		t.Errorf("truncate(100 bytes) has %d bytes, want 32 + \"...\"", len(got))
	}
	if got := truncate([]byte("short")); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}
