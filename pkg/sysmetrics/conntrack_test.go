package sysmetrics

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadConntrack(t *testing.T) {
	tests := []struct {
		name  string
		count string // "" removes the file
		max   string
		want  *Conntrack
	}{
		{name: "both present", count: "1234\n", max: "262144\n", want: &Conntrack{Count: 1234, Max: 262144}},
		{name: "count missing is omitted", count: "", max: "262144\n", want: nil},
		{name: "max missing is omitted", count: "5\n", max: "", want: nil},
		{name: "garbage count is reported in the entry", count: "lots\n", max: "262144\n", want: &Conntrack{Error: `nf_conntrack_count: bad counter "lots"`}},
		{name: "negative max is reported in the entry", count: "1\n", max: "-1\n", want: &Conntrack{Error: `nf_conntrack_max: bad counter "-1"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyHost(t, "router")
			for name, v := range map[string]string{"nf_conntrack_count": tc.count, "nf_conntrack_max": tc.max} {
				p := "proc/sys/net/netfilter/" + name
				if v == "" {
					if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, root, p, v)
			}
			got, err := NewReader(Options{Root: root}).Read(context.Background())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Conntrack); diff != "" {
				t.Errorf("Conntrack (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAccounting(t *testing.T) {
	on, off := true, false
	tests := []struct {
		name string
		acct string // "" removes the file
		want *bool
	}{
		{name: "on", acct: "1\n", want: &on},
		{name: "off, the kernel default", acct: "0\n", want: &off},
		{name: "missing is unknown", acct: "", want: nil},
		{name: "garbage is unknown", acct: "yes\n", want: nil},
		{name: "empty is unknown", acct: "\n", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyHost(t, "router")
			p := "proc/sys/net/netfilter/nf_conntrack_acct"
			if tc.acct == "" {
				os.Remove(filepath.Join(root, filepath.FromSlash(p)))
			} else {
				writeFile(t, root, p, tc.acct)
			}
			r := NewReader(Options{Root: root})
			if diff := cmp.Diff(tc.want, r.Accounting()); diff != "" {
				t.Errorf("Accounting (-want +got):\n%s", diff)
			}
			got, err := r.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Conntrack.Accounting); diff != "" {
				t.Errorf("Snapshot's Conntrack.Accounting (-want +got):\n%s", diff)
			}
		})
	}
}
