package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/store"
)

// addStateFlags adds the flags of the live state and the record.
func addStateFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.String("state-dir", "", "directory of the live state, written every cycle: a tmpfs (env NETMON_STATE_DIR; default $RUNTIME_DIRECTORY under systemd, /run/netmon as root, else a directory of this user's)")
	fs.Duration("commit-interval", def.CommitInterval, "how often the history is committed to the database on flash")
}

// stateDir is where the live state lives: cfg.StateDir, or the runtime
// directory systemd made for the unit (RuntimeDirectory=netmon: the
// units run as User=netmon with PrivateTmp, so a directory in /tmp would
// not be seen by the web unit), or /run/netmon as root, or this user's
// runtime directory, or a directory of this user's in the temporary
// directory, so that netmon runs from a checkout without root.
func stateDir(cfg config.Config) string {
	switch {
	case cfg.StateDir != "":
		return cfg.StateDir
	case os.Getenv("RUNTIME_DIRECTORY") != "":
		// systemd lists one path per RuntimeDirectory= entry, ':'-separated.
		dir, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":")
		return dir
	case os.Geteuid() == 0:
		return "/run/netmon"
	case os.Getenv("XDG_RUNTIME_DIR") != "":
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "netmon")
	}
	return filepath.Join(os.TempDir(), "netmon-"+strconv.Itoa(os.Geteuid()))
}

// liveName is the live state's file in the state directory.
const liveName = "live.db"

// stores are the two databases: the live state and the record; a
// writer's also has the namer, whose sources run beside the ingest loop
// (see namer.run).
type stores struct {
	live   *store.Live
	record *store.Record
	names  *namer
}

// Close closes both.
func (s *stores) Close() error {
	return errors.Join(s.live.Close(), s.record.Close())
}

// openStores opens the live state in the state directory (creating the
// directory) and the record at db_path. As the writer it takes both
// files' writer locks, so a second writer is refused naming the first;
// otherwise (serve --ingest=false) the record must already exist, so a
// mistyped --db is an error, not a new empty database.
func openStores(ctx context.Context, cfg config.Config, writer bool) (*stores, error) {
	dir := stateDir(cfg)
	var opts []store.Option
	if writer {
		opts = append(opts, store.WithWriterLock())
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("state_dir: %w", err)
		}
	} else if _, err := os.Stat(cfg.DBPath); err != nil {
		return nil, fmt.Errorf("db_path: %w (a web server without its own ingest loop reads the database ingest-loop writes: check --db)", err)
	}
	live, err := store.OpenLive(ctx, filepath.Join(dir, liveName), opts...)
	if err != nil {
		return nil, err
	}
	record, err := store.OpenRecord(ctx, cfg.DBPath, opts...)
	if err != nil {
		live.Close()
		return nil, err
	}
	return &stores{live: live, record: record}, nil
}

// retention is the record's retention from cfg.
func retention(cfg config.Config) store.Retention {
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	return store.Retention{
		Device: history.Keep{history.FiveMin: days(cfg.History5mDays), history.Hour: days(cfg.HistoryHourlyDays),
			history.Day: days(cfg.HistoryDailyDays)},
		Remote: days(cfg.HistoryRemoteDays),
		Pair:   days(cfg.HistoryDeviceRemoteDays),
	}
}

// calendar is the buckets' calendar from cfg.
func calendar(cfg config.Config) history.Calendar {
	return history.Calendar{Loc: cfg.Location(), BillingDay: cfg.BillingDay}
}

// clockFloor is the earliest sane time: the build date of a release, else
// a date before this version of netmon existed. A router without a
// battery reads 1970 until NTP syncs; growth seen before is held.
func clockFloor() time.Time {
	if t, err := time.Parse(time.RFC3339, date); err == nil {
		return t
	}
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

// bootID is the kernel's boot id (changes with every boot), read under
// fs_root; "" where it cannot be read.
func bootID(cfg config.Config) string {
	b, err := os.ReadFile(filepath.Join(cfg.FSRoot, "proc/sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// openIngester opens the stores as their writer and builds the ingester
// the commands share: reconcile cycles into the live state, growth into
// the history, commits into the record.
//
// The baseline rule: live state that is new (a state directory wiped
// without a reboot) beside a record committed during this same boot means
// the conntrack table's counters may already be counted; the first
// cycle's counters are then the baseline, not growth. After a reboot the
// table is new too, and everything counts.
func openIngester(ctx context.Context, cfg config.Config, src ingest.Source, logger *slog.Logger) (*stores, *ingest.Ingester, error) {
	f, err := cfg.Filter()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStores(ctx, cfg, true)
	if err != nil {
		return nil, nil, err
	}
	boot := bootID(cfg)
	_, cycles, err := st.live.LastCycle(ctx)
	var rs store.RecordState
	if err == nil {
		rs, err = st.record.State(ctx)
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	baseline := cycles == 0 && rs.Commits > 0 && boot != "" && rs.BootID == boot
	if baseline {
		logger.Info("the live state is new but the record was written during this boot: the first read is the baseline, its counters are not counted again",
			"state_dir", stateDir(cfg))
	}
	ret := retention(cfg)
	nm := newNamer(ctx, cfg, st.record, logger.With("component", "names"))
	nm.once(ctx)
	in := &ingest.Ingester{
		Source:    src,
		Filter:    f,
		Store:     st.live,
		Now:       time.Now,
		Retention: cfg.Retention,
		Logger:    logger,
		History:   &history.Accumulator{Cal: calendar(cfg), Floor: clockFloor(), Services: cfg.HistoryServices},
		Device:    nm.device,
		Committer: ingest.CommitFunc(func(ctx context.Context, now time.Time, b *history.Batch) error {
			info := nm.commitInfo(now, b)
			info.BootID, info.Retention = boot, ret
			if _, err := st.record.Commit(ctx, now, b, info); err != nil {
				nm.putBack(info.Merges)
				return err
			}
			nm.reloadTotals(ctx, st.record)
			return nil
		}),
		CommitInterval: cfg.CommitInterval,
		Baseline:       baseline,
		PollCPUBudget:  cfg.PollCPUBudget,
	}
	var note string
	if in.Events, note = newEvents(cfg); note != "" {
		logger.Info(note)
	}
	in.Observe = func(now time.Time, d *flows.Delta) {
		if l := nm.labels(now, d, in.History.Pending()); !l.Empty() {
			if err := st.live.WriteLabels(ctx, l); err != nil {
				logger.Warn("write the live state's labels", "err", err)
			}
		}
	}
	observeRates(cfg, in, st.live, logger)
	// The counters go into the live state in each cycle's transaction,
	// for a /metrics served by another process.
	st.live.RecordStatus(in.CycleCounters)
	st.names = nm
	return st, in, nil
}

// commitRequests turns SIGUSR1 (what `netmon commit` sends) into commit
// requests for the ingest loop, until ctx is done.
func commitRequests(ctx context.Context) <-chan struct{} {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				select {
				case out <- struct{}{}:
				default: // one is already waiting
				}
			}
		}
	}()
	return out
}
