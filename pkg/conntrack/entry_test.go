package conntrack

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProto(t *testing.T) {
	tests := []struct {
		proto            Proto
		text, tracker    string
		hasPorts, isICMP bool
	}{
		{proto: ProtoICMP, text: "icmp", tracker: "icmp", isICMP: true},
		{proto: ProtoTCP, text: "tcp", tracker: "tcp", hasPorts: true},
		{proto: ProtoUDP, text: "udp", tracker: "udp", hasPorts: true},
		{proto: ProtoDCCP, text: "dccp", tracker: "dccp", hasPorts: true},
		{proto: ProtoGRE, text: "gre", tracker: "gre"},
		{proto: ProtoICMPv6, text: "icmpv6", tracker: "icmpv6", isICMP: true},
		{proto: ProtoSCTP, text: "sctp", tracker: "sctp", hasPorts: true},
		{proto: ProtoUDPLite, text: "udplite", tracker: "udplite", hasPorts: true},
		{proto: 253, text: "253", tracker: "unknown"},
		{proto: 0, text: "0", tracker: "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			back, err := ParseProto(tc.text)
			got := []any{tc.proto.String(), tc.proto.trackerName(), tc.proto.HasPorts(), tc.proto.IsICMP(), back, err}
			want := []any{tc.text, tc.tracker, tc.hasPorts, tc.isICMP, tc.proto, nil}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("proto %d (-want +got):\n%s", tc.proto, diff)
			}
		})
	}
	for _, bad := range []string{"", "unknown", "256", "-1", "TCP"} {
		if p, err := ParseProto(bad); err == nil {
			t.Errorf("ParseProto(%q) = %d, want an error", bad, p)
		}
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		status    Status
		wantFlags []string
		wantText  string
	}{
		{name: "none", status: 0, wantFlags: []string{}, wantText: ""},
		{name: "assured", status: StatusAssured, wantFlags: []string{"ASSURED"}, wantText: "ASSURED"},
		{name: "unreplied", status: StatusUnreplied, wantFlags: []string{"UNREPLIED"}, wantText: "UNREPLIED"},
		{
			name:      "all in fixed order",
			status:    StatusHWOffload | StatusOffload | StatusUnreplied | StatusAssured,
			wantFlags: []string{"ASSURED", "UNREPLIED", "OFFLOAD", "HW_OFFLOAD"},
			wantText:  "ASSURED,UNREPLIED,OFFLOAD,HW_OFFLOAD",
		},
		{name: "unknown bit ignored", status: 1<<6 | StatusOffload, wantFlags: []string{"OFFLOAD"}, wantText: "OFFLOAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.wantFlags, tc.status.Flags()); diff != "" {
				t.Errorf("Flags (-want +got):\n%s", diff)
			}
			if got := tc.status.String(); got != tc.wantText {
				t.Errorf("String = %q, want %q", got, tc.wantText)
			}
			if got, want := ParseStatus(tc.status.String()), tc.status&(1<<len(statusNames)-1); got != want {
				t.Errorf("ParseStatus(%q) = %v, want %v", tc.status.String(), got, want)
			}
		})
	}
	// String runs once per flow in every cycle: it must not allocate.
	all := StatusAssured | StatusUnreplied | StatusOffload | StatusHWOffload
	if n := testing.AllocsPerRun(100, func() { _ = all.String() }); n != 0 {
		t.Errorf("String allocates %.0f times", n)
	}
}

func TestStatusHas(t *testing.T) {
	s := StatusAssured | StatusUnreplied
	tests := []struct {
		name string
		f    Status
		want bool
	}{
		{name: "one set bit", f: StatusAssured, want: true},
		{name: "both set bits", f: StatusAssured | StatusUnreplied, want: true},
		{name: "unset bit", f: StatusOffload, want: false},
		{name: "set and unset bit", f: StatusAssured | StatusOffload, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Has(tc.f); got != tc.want {
				t.Errorf("%v.Has(%v) = %v, want %v", s, tc.f, got, tc.want)
			}
		})
	}
}

func TestParseStatusIgnoresUnknown(t *testing.T) {
	if got := ParseStatus("SEEN_REPLY,ASSURED,,bogus"); got != StatusAssured {
		t.Errorf("ParseStatus = %v, want ASSURED", got)
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{EventNone, ""}, {EventNew, "NEW"}, {EventUpdate, "UPDATE"}, {EventDestroy, "DESTROY"}, {Event(9), ""},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.ev.String(); got != tc.want {
				t.Errorf("Event(%d).String() = %q, want %q", tc.ev, got, tc.want)
			}
		})
	}
}

func TestTotalBytes(t *testing.T) {
	e := Entry{Orig: Tuple{Bytes: 330}, Reply: Tuple{Bytes: 20268}}
	if got := e.TotalBytes(); got != 20598 {
		t.Errorf("TotalBytes = %d, want 20598", got)
	}
}
