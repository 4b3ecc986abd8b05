package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/device"
)

func newDevicesCmd(load loader) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List every device the database knows, with its MAC, addresses and name",
		Long: `List the devices of the durable record (the database at db_path), as of
its last commit: each LAN machine by its MAC (or ip:ADDR for an address
whose MAC netmon never saw: a routed subnet, a VPN peer), with the
addresses seen with it, its name and where the name came from (config,
static, lease, ethers, ptr, vendor), the vendor of its MAC (from the IEEE OUI
listing, when installed), whether its MAC is randomised (locally
administered, as phones' private addresses are), and when it was first
and last seen.

--output json is an array of objects with device, mac (null when
unknown), addresses, name, name_source, vendor, randomized,
first_seen_at and last_seen_at.`,
		Example: `  netmon devices
  netmon devices --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, got %q", output)}
			}
			return runDevices(cmd.Context(), cfg, output, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	addStoreFlags(cmd.Flags())
	return cmd
}

func runDevices(ctx context.Context, cfg config.Config, output string, w io.Writer) error {
	rec, err := openRecordOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer rec.Close()
	ds, err := rec.Devices(ctx)
	if err != nil {
		return err
	}
	if output == "json" {
		if ds == nil {
			ds = []device.Device{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ds)
	}
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "No devices recorded yet (they are written at each commit: see commit_interval and 'netmon commit').")
		return err
	}
	t := tablewriter.NewTable(w, tablewriter.WithHeader([]string{"Device", "Name", "Source", "Vendor", "Addresses", "First seen", "Last seen"}))
	loc := cfg.Location()
	for _, d := range ds {
		id := string(d.ID)
		if d.Randomized {
			id += " (random)"
		}
		src := ""
		if d.NameSource != device.SourceNone {
			src = d.NameSource.String()
		}
		if err := t.Append([]string{id, device.DisplayName(d.Name), src, device.DisplayName(d.Vendor),
			addrList(d, 3), shortTime(d.FirstSeen, loc), shortTime(d.LastSeen, loc)}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d devices\n", len(ds))
	return err
}

// addrList is a device's first n addresses (the most recently seen
// first) and how many more.
func addrList(d device.Device, n int) string {
	var parts []string
	for i, a := range d.Addrs {
		if i == n {
			parts = append(parts, "+"+strconv.Itoa(len(d.Addrs)-n))
			break
		}
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " ")
}

// shortTime is t in loc to the minute, "" for the zero time.
func shortTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04")
}
