package store

import "testing"

func TestFlowTotalBytes(t *testing.T) {
	tests := []struct {
		name string
		flow Flow
		want uint64
	}{
		{"both directions", Flow{UplinkBytes: 100, DownlinkBytes: 250}, 350},
		{"no accounting", Flow{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.flow.TotalBytes(); got != tt.want {
				t.Errorf("TotalBytes() = %d, want %d", got, tt.want)
			}
		})
	}
}
