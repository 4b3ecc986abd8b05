package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{"GOGC unset: netmon's target", map[string]string{}, gcPercent},
		{"GOGC set: left to the runtime", map[string]string{"GOGC": "200"}, 77},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := debug.SetGCPercent(77)
			defer debug.SetGCPercent(orig)
			tuneGC(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got := debug.SetGCPercent(77); got != tt.want {
				t.Errorf("GC percent = %d, want %d", got, tt.want)
			}
		})
	}
}
