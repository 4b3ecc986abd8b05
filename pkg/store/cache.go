package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

// loadActive rebuilds the writer's table of active flows from the rows
// with closed_at IS NULL, each flow carrying its row id: a fresh DB, or one
// whose database another process has reconciled since its last cycle.
func loadActive(ctx context.Context, tx *sql.Tx) (*flows.Table, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT id, proto, src_ip, src_port, dst_ip, dst_port, state, flags,
		       uplink_packets, uplink_bytes, downlink_packets, downlink_bytes
		FROM connections WHERE closed_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	defer rows.Close()
	t := flows.New()
	for rows.Next() {
		var (
			id                         int64
			k                          conntrack.FlowKey
			proto, src, dst, st, flags string
			c                          storedCounters
		)
		if err := rows.Scan(&id, &proto, &src, &k.SrcPort, &dst, &k.DstPort, &st, &flags,
			&c.upPackets, &c.upBytes, &c.downPackets, &c.downBytes); err != nil {
			return nil, fmt.Errorf("load active connections: %w", err)
		}
		if k, err = parseKey(k, proto, src, dst); err != nil {
			return nil, fmt.Errorf("load connection %d: %w", id, err)
		}
		if err := t.Restore(k, st, conntrack.ParseStatus(flags), c.unsigned(), id); err != nil {
			return nil, fmt.Errorf("load connection %d: %w", id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	return t, nil
}

// parseKey completes k (ports already scanned) from the stored protocol
// and address columns.
func parseKey(k conntrack.FlowKey, proto, src, dst string) (conntrack.FlowKey, error) {
	var err error
	if k.Proto, err = conntrack.ParseProto(proto); err != nil {
		return k, err
	}
	if k.Src, err = parseAddr("src_ip", src); err != nil {
		return k, err
	}
	if k.Dst, err = parseAddr("dst_ip", dst); err != nil {
		return k, err
	}
	return k, nil
}

// unsigned converts stored counters back to the kernel's.
func (c storedCounters) unsigned() conntrack.Counters {
	return conntrack.Counters{
		UplinkPackets: unsigned(c.upPackets), UplinkBytes: unsigned(c.upBytes),
		DownlinkPackets: unsigned(c.downPackets), DownlinkBytes: unsigned(c.downBytes),
	}
}
