package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDump(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	now := time.UnixMilli(1795626528040).UTC()
	flows := []Flow{
		flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "", 1, 60, 1, 120),
		flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000),
	}
	if _, err := db.Reconcile(ctx, now, flows, 0); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := db.Dump(ctx, &got); err != nil {
		t.Fatal(err)
	}
	want := `== active_by_proto (proto, n)
tcp	1
udp	1
== connections (id, proto, src_ip, src_port, dst_ip, dst_port, state, flags, uplink_packets, uplink_bytes, downlink_packets, downlink_bytes, total_bytes, first_seen_at, last_seen_at, closed_at)
1	tcp	10.0.0.5	40000	203.0.113.80	443	ESTABLISHED	ASSURED	10	1000	20	5000	6000	1795626528040	1795626528040	NULL
2	udp	10.0.0.6	5353	203.0.113.81	53			1	60	1	120	180	1795626528040	1795626528040	NULL
== ingest_state (id, last_cycle_at, cycles, active_connections)
1	1795626528040	1	2
== local_hosts (ip, uplink_bytes, downlink_bytes)
10.0.0.5	1000	5000
10.0.0.6	60	120
== remote_hosts (ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes)
203.0.113.80	1795626528040	1795626528040	1000	5000
203.0.113.81	1795626528040	1795626528040	60	120
`
	if diff := cmp.Diff(want, got.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
