package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/store"
)

// netmon top is a small renderer, not a TUI library: a frame is a list of
// lines built from the rates (renderTop, pure), written whole every
// second. On a terminal whose TERM is not dumb it is drawn in place (the
// alternate screen, the cursor sent home, each line cleared to its end);
// otherwise frames are printed one after another as plain text, with no
// escape sequence at all. Keys are read without waiting for Enter when
// stdin is a terminal (its line discipline off, signals kept, so Ctrl-C
// still works), else a line at a time.

type topOptions struct {
	iterations int // frames to show (0: until q)
}

func newTopCmd(load loader) *cobra.Command {
	var opts topOptions
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show devices and connections by current rate, live, in the terminal",
		Long: `Show the router's rate, its devices and their connections by current rate,
refreshed every --interval, like iftop: on a terminal drawn in place, else
(TERM=dumb, or output to a pipe or a file) as plain frames one after another.

Keys: q quit, r sort by rate, b by total bytes, u by uplink rate, d by
downlink rate.

Where the rates come from: when a netmon process (serve or ingest-loop)
writes the live state in --state-dir, top reads it, as serve --ingest=false
does, and writes nothing. Otherwise (or with --input-file) top reads the
table itself every interval, keeping its flows and rates in memory only: it
never opens, let alone writes, a database, so it cannot become a second
writer. Reading the live table needs root or CAP_NET_ADMIN.`,
		Example: `  netmon top
  netmon top --input-file fixtures/replay
  netmon top --iterations 1 | cat`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			if opts.iterations < 0 {
				return usageError{fmt.Errorf("--iterations must be >= 0 (0: until q), got %d", opts.iterations)}
			}
			return runTop(cmd.Context(), cfg, opts, newSource(cfg), stdTerminal(cmd.InOrStdin(), cmd.OutOrStdout()))
		},
	}
	cmd.Flags().IntVar(&opts.iterations, "iterations", 0, "show this many frames, then exit (0: until q)")
	addSourceFlags(cmd.Flags())
	addRateFlags(cmd.Flags())
	cmd.Flags().String("state-dir", "", "directory of the live state a running netmon writes (env NETMON_STATE_DIR; default /run/netmon as root)")
	cmd.Flags().Duration("interval", config.Default().Interval, "time between refreshes")
	return cmd
}

// topTerm is where top draws and what it reads keys from.
type topTerm struct {
	in    io.Reader
	out   io.Writer
	smart bool                                 // draw in place; else plain frames
	size  func() (width, height int)           // the screen's size
	raw   func() (restore func(), err error)   // keys without Enter (nil: lines)
	winch func(chan<- os.Signal) (stop func()) // resize notices (nil: none)
	now   func() time.Time                     // the clock (nil: time.Now)
	tick  func(time.Duration) (<-chan time.Time, func())
}

// stdTerminal is the terminal of the process: smart when out is a
// terminal and TERM is set and not dumb; keys without Enter when in is a
// terminal.
func stdTerminal(in io.Reader, out io.Writer) topTerm {
	t := topTerm{in: in, out: out, size: func() (int, int) { return envSize() }}
	of, okOut := out.(*os.File)
	if okOut && isTerminal(int(of.Fd())) {
		term := os.Getenv("TERM")
		t.smart = term != "" && term != "dumb"
		fd := int(of.Fd())
		t.size = func() (int, int) {
			if w, h, ok := termSize(fd); ok {
				return w, h
			}
			return envSize()
		}
		t.winch = func(c chan<- os.Signal) func() {
			signal.Notify(c, syscall.SIGWINCH)
			return func() { signal.Stop(c) }
		}
	}
	if f, ok := in.(*os.File); ok && isTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		t.raw = func() (func(), error) { return cbreak(fd) }
	}
	return t
}

// envSize is $COLUMNS x $LINES, else 80x24.
func envSize() (int, int) {
	w, err1 := strconv.Atoi(os.Getenv("COLUMNS"))
	h, err2 := strconv.Atoi(os.Getenv("LINES"))
	if err1 != nil || w < 20 {
		w = 80
	}
	if err2 != nil || h < 5 {
		h = 24
	}
	return w, h
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

func termSize(fd int) (int, int, bool) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return 0, 0, false
	}
	return int(ws.Col), int(ws.Row), true
}

// cbreak turns the terminal's line editing and echo off (keys arrive one
// by one; Ctrl-C still interrupts) and returns what restores it.
func cbreak(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("read terminal settings: %w", err)
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, fmt.Errorf("set terminal: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil //nolint:errcheck // nothing left to do
}

// topSort is the order of the lists.
type topSort byte

// Sort keys, as typed.
const (
	sortRate  topSort = 'r'
	sortBytes topSort = 'b'
	sortUp    topSort = 'u'
	sortDown  topSort = 'd'
)

func (s topSort) String() string {
	switch s {
	case sortBytes:
		return "total bytes"
	case sortUp:
		return "uplink rate"
	case sortDown:
		return "downlink rate"
	}
	return "rate"
}

// topConn is a connection as top shows it.
type topConn struct {
	key      conntrack.FlowKey
	up, down uint64 // bytes
	rates.Reading
}

// topView is what one frame shows.
type topView struct {
	from    string // where the rates come from
	at      time.Time
	window  time.Duration
	total   rates.Reading
	active  int
	devices []rates.Device
	conns   []topConn
	err     error
}

// topSource gets a frame's data: conns connections in the order s, and
// sparklines of at least spark points.
type topSource interface {
	view(ctx context.Context, s topSort, conns, spark int) (*topView, error)
	Close() error
}

// runTop shows frames until q, ctx done, or opts.iterations frames.
func runTop(ctx context.Context, cfg config.Config, opts topOptions, src ingest.Source, term topTerm) error {
	if term.now == nil {
		term.now = time.Now
	}
	ts, err := openTopSource(ctx, cfg, src, term.now)
	if err != nil {
		return err
	}
	defer ts.Close()
	if term.tick == nil {
		term.tick = ingest.RealTicker
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan byte, 16)
	if term.raw != nil {
		restore, err := term.raw()
		if err != nil {
			return err
		}
		defer restore()
		go readKeys(ctx, term.in, keys, false)
	} else if term.in != nil {
		go readKeys(ctx, term.in, keys, true)
	}
	if term.smart {
		io.WriteString(term.out, "\x1b[?1049h\x1b[?25l") // the alternate screen, no cursor
		defer io.WriteString(term.out, "\x1b[?25h\x1b[?1049l")
	}
	resized := make(chan os.Signal, 1)
	if term.winch != nil {
		defer term.winch(resized)()
	}
	ticks, stop := term.tick(cfg.Interval)
	defer stop()

	order := sortRate
	var last *topView
	frames := 0
	draw := func() {
		w, h := term.size()
		lines := renderTop(last, order, rateUnit(cfg), w, h, term.smart)
		if term.smart {
			var b strings.Builder
			b.WriteString("\x1b[H")
			for i, l := range lines {
				if i > 0 {
					b.WriteString("\r\n")
				}
				b.WriteString(l)
				b.WriteString("\x1b[K")
			}
			b.WriteString("\x1b[J")
			io.WriteString(term.out, b.String())
			return
		}
		if frames > 0 {
			io.WriteString(term.out, "\n")
		}
		io.WriteString(term.out, strings.Join(lines, "\n")+"\n")
	}
	refresh := func() {
		w, h := term.size()
		nConns, spark := topRows(w, h)
		v, err := ts.view(ctx, order, nConns, spark)
		switch {
		case err != nil && last != nil:
			last.err = err
		case err != nil:
			last = &topView{err: err}
		default:
			last = v
		}
		draw()
		frames++
	}
	refresh()
	for opts.iterations == 0 || frames < opts.iterations {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			refresh()
		case <-resized:
			draw()
		case k, ok := <-keys:
			if !ok {
				keys = nil // stdin ended: keep showing
				continue
			}
			switch k {
			case 'q', 'Q':
				return nil
			case byte(sortRate), byte(sortBytes), byte(sortUp), byte(sortDown):
				order = topSort(k)
				refresh()
			}
		}
	}
	return nil
}

// readKeys sends the keys read from in (the first byte of each line when
// lines is set) until in ends or ctx is done, then closes keys.
func readKeys(ctx context.Context, in io.Reader, keys chan<- byte, lines bool) {
	defer close(keys)
	r := bufio.NewReader(in)
	for ctx.Err() == nil {
		var (
			b   byte
			err error
		)
		if lines {
			var l string
			l, err = r.ReadString('\n')
			if l = strings.TrimSpace(l); l != "" {
				b = l[0]
			}
		} else {
			b, err = r.ReadByte()
		}
		if b != 0 {
			select {
			case keys <- b:
			case <-ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// openTopSource reads the live state when a netmon process writes it,
// else opens a loop of top's own. A replay (input_file) always gets a
// loop of its own.
func openTopSource(ctx context.Context, cfg config.Config, src ingest.Source, now func() time.Time) (topSource, error) {
	path := filepath.Join(stateDir(cfg), liveName)
	if cfg.InputFile == "" {
		if pid, err := store.WriterPID(path); err == nil && pid > 0 {
			db, err := store.OpenLive(ctx, path)
			if err != nil {
				return nil, err
			}
			return &liveTop{db: db, from: fmt.Sprintf("live state %s (written by pid %d)", path, pid)}, nil
		}
	}
	f, err := cfg.Filter()
	if err != nil {
		return nil, err
	}
	return &ownTop{memCycles: newMemCycles(src, f, cfg.RateWindow), now: now,
		from: "read by top itself every " + cfg.Interval.String() + " from " + sourceName(cfg)}, nil
}

// liveTop reads the live state another netmon process writes.
type liveTop struct {
	db   *store.Live
	from string
}

func (l *liveTop) Close() error { return l.db.Close() }

func (l *liveTop) view(ctx context.Context, s topSort, conns, spark int) (*topView, error) {
	now, err := l.db.RatesNow(ctx, rates.Query{Remotes: 1})
	if err != nil {
		return nil, err
	}
	v := &topView{from: l.from, at: now.At, window: now.Window, total: now.Total, devices: now.Devices}
	trimSpark(v.devices, spark)
	order, limit := rates.ByRate, conns
	switch s {
	case sortBytes:
		order = rates.ByBytes
	case sortUp, sortDown:
		limit = max(conns, 200) // the store sorts by total rate: take more, sort them
	}
	err = l.db.EachActiveConnectionRate(ctx, limit, order, func(n int) error { v.active = n; return nil },
		func(c *flows.Connection, r rates.Reading) error {
			v.conns = append(v.conns, topConn{key: c.Key, up: c.UplinkBytes, down: c.DownlinkBytes, Reading: r})
			return nil
		})
	if err != nil {
		return nil, err
	}
	sortTop(v, s)
	if len(v.conns) > conns {
		v.conns = v.conns[:conns]
	}
	return v, nil
}

// ownTop reads the table itself, keeping everything in memory.
type ownTop struct {
	memCycles
	from string
	now  func() time.Time // the clock of the reads
}

func (o *ownTop) Close() error { return nil }

func (o *ownTop) view(ctx context.Context, s topSort, conns, spark int) (*topView, error) {
	at := o.now()
	top := topFlows{n: conns}
	var st conntrack.Stats
	d, err := o.read(ctx, at, &st, top.offer)
	if err != nil {
		return nil, err
	}
	rn := o.tr.Now(rates.Query{Remotes: 1})
	v := &topView{from: o.from, at: at, window: rn.Window, total: rn.Total, active: d.Active(), devices: rn.Devices}
	trimSpark(v.devices, spark)
	seen := map[conntrack.FlowKey]bool{}
	if s != sortBytes {
		for c := range o.tr.Conns {
			if c.Known && c.Window.Total() > 0 {
				v.conns = append(v.conns, topConn{key: c.Key, up: c.UplinkBytes, down: c.DownlinkBytes, Reading: c.Reading})
				seen[c.Key] = true
			}
		}
	}
	for _, e := range top.result() {
		if k := conntrack.KeyOf(&e); !seen[k] {
			v.conns = append(v.conns, topConn{key: k, up: e.Orig.Bytes, down: e.Reply.Bytes, Reading: o.tr.Lookup(k)})
		}
	}
	sortTop(v, s)
	if len(v.conns) > conns {
		v.conns = v.conns[:conns]
	}
	return v, nil
}

// trimSpark keeps the last n points of each device's sparkline.
func trimSpark(ds []rates.Device, n int) {
	for i := range ds {
		if sp := ds[i].Spark; len(sp) > n {
			ds[i].Spark = sp[len(sp)-n:]
		}
	}
}

// sortTop orders a view's devices and connections by s; ties by bytes,
// then key.
func sortTop(v *topView, s topSort) {
	rate := func(r rates.Reading) float64 {
		switch s {
		case sortUp:
			return r.Window.Up
		case sortDown:
			return r.Window.Down
		}
		return r.Window.Total()
	}
	slices.SortStableFunc(v.devices, func(a, b rates.Device) int {
		return cmp.Or(cmp.Compare(rate(b.Reading), rate(a.Reading)), cmp.Compare(a.ID, b.ID))
	})
	slices.SortStableFunc(v.conns, func(a, b topConn) int {
		byBytes := cmp.Compare(b.up+b.down, a.up+a.down)
		if s == sortBytes {
			return cmp.Or(byBytes, compareKeys(a.key, b.key))
		}
		return cmp.Or(cmp.Compare(rate(b.Reading), rate(a.Reading)), byBytes, compareKeys(a.key, b.key))
	})
}

// topRows is how many connections and sparkline points a frame of w x h
// has room for (see renderTop's layout).
func topRows(w, h int) (conns, spark int) {
	_, connRows := topLayout(max(h, 8), 1)
	return connRows, sparkWidth(max(w, 40))
}

// topLayout splits h lines: 2 of header, a blank, the devices' heading
// and a row per device (at least one, at most a third of the rows and
// 8), a blank, the connections' heading and rows, a status line.
func topLayout(h, devices int) (devRows, connRows int) {
	rest := max(h-7, 2)
	devRows = max(1, min(devices, rest/3, 8))
	return devRows, rest - devRows
}

// Column widths at 80 columns; wider screens give the rest to the
// addresses.
const (
	colRate  = 12 // "999 Mbit/s" and room
	colBytes = 9
	colProto = 6
)

func sparkWidth(w int) int { return max(w-2-20-18-2*colRate, 4) }

// renderTop lays out one frame of v, w columns by h lines: no line is
// longer than w (in runes) and there are at most h lines. smart adds
// bold and reverse video (and block characters in the sparklines);
// otherwise the frame is plain ASCII but for what the data holds.
func renderTop(v *topView, s topSort, unit rates.Unit, w, h int, smart bool) []string {
	w, h = max(w, 40), max(h, 8)
	var lines []string
	add := func(l string) { lines = append(lines, fit(l, w)) }
	bold := func(l string) string {
		if smart {
			return "\x1b[1m" + l + "\x1b[0m"
		}
		return l
	}
	rev := func(l string) string {
		if smart {
			return "\x1b[7m" + l + "\x1b[0m"
		}
		return l
	}
	if v == nil {
		v = &topView{}
	}
	at := "-"
	if !v.at.IsZero() {
		at = v.at.Local().Format("15:04:05")
	}
	window := "-"
	if v.window > 0 {
		window = v.window.String()
	}
	lines = append(lines, bold(fit(fmt.Sprintf("netmon top  %s  window %s  sort: %s  [q]uit [r]ate [b]ytes [u]p [d]own", at, window, s), w)))
	up, down := unit.FormatReading(v.total)
	add(fmt.Sprintf("router  up %s  down %s  %s connections  %d devices", up, down, humanize.Comma(int64(v.active)), len(v.devices)))
	devRows, connRows := topLayout(h, len(v.devices))

	add("")
	spark := sparkWidth(w)
	devW := w - 2*colRate - spark - 3
	idW := max(devW*5/9, 10)
	addrW := devW - idW
	lines = append(lines, rev(fit(fmt.Sprintf("%-*s %-*s%*s%*s  %s", idW, "DEVICE", addrW, "ADDRESS", colRate, "UP", colRate, "DOWN", "LAST "+strconv.Itoa(spark)+"s"), w)))
	for i := range devRows {
		if i >= len(v.devices) {
			add("")
			continue
		}
		d := v.devices[i]
		addr := ""
		if len(d.Addrs) > 0 {
			more := ""
			if len(d.Addrs) > 1 {
				more = " +" + strconv.Itoa(len(d.Addrs)-1)
			}
			addr = clip(d.Addrs[0].String(), addrW-1-len(more)) + more
		}
		up, down := unit.FormatReading(d.Reading)
		add(fmt.Sprintf("%-*s %-*s%*s%*s  %s", idW, clip(d.ID, idW), addrW, clip(addr, addrW), colRate, up, colRate, down, sparkline(d.Spark, spark, smart)))
	}

	add("")
	connW := w - colProto - 2*colRate - colBytes
	srcW := max(connW*9/20, 10)
	dstW := connW - srcW
	lines = append(lines, rev(fit(fmt.Sprintf("%-*s%-*s%-*s%*s%*s%*s", colProto, "PROTO", srcW, "SOURCE", dstW, "DESTINATION", colRate, "UP", colRate, "DOWN", colBytes, "TOTAL"), w)))
	for i := range connRows {
		if i >= len(v.conns) {
			add("")
			continue
		}
		c := v.conns[i]
		src, dst := c.key.Endpoints()
		up, down := unit.FormatReading(c.Reading)
		add(fmt.Sprintf("%-*s%-*s%-*s%*s%*s%*s", colProto, c.key.Proto.String(), srcW, clip(src, srcW-1), dstW, clip(dst, dstW-1),
			colRate, up, colRate, down, colBytes, humanize.IBytes(c.up+c.down)))
	}
	status := v.from
	if v.err != nil {
		status = "error: " + v.err.Error()
	}
	add(status)
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}

// sparkline draws the last n points, scaled to their largest: block
// characters on a smart terminal, ASCII otherwise.
func sparkline(points []rates.Rate, n int, smart bool) string {
	levels := []rune(" .:-=+*#")
	if smart {
		levels = []rune(" ▁▂▃▄▅▆▇█")
	}
	if len(points) > n {
		points = points[len(points)-n:]
	}
	top := 0.0
	for _, p := range points {
		top = max(top, p.Total())
	}
	out := make([]rune, 0, n)
	for _, p := range points {
		i := 0
		if top > 0 && p.Total() > 0 {
			i = min(max(int(math.Ceil(p.Total()/top*float64(len(levels)-1))), 1), len(levels)-1)
		}
		out = append(out, levels[i])
	}
	return string(out)
}

// fit cuts l to w runes.
func fit(l string, w int) string {
	if utf8.RuneCountInString(l) <= w {
		return l
	}
	r := []rune(l)
	return string(r[:w])
}

// clip shortens s to w runes, marking the cut with "~".
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "~"
}
