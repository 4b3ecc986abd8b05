package source

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Defaults of Listener's zero fields.
const (
	// DefaultEventsBuffer is the receive buffer forced on the subscribed
	// socket: 32 MiB held 20,000 DESTROY events expiring at once, where
	// the default 208 KiB loses a third of 1,000.
	DefaultEventsBuffer = 32 << 20
	// DefaultMaxPending bounds the events held between two Drains.
	DefaultMaxPending = 1 << 16
)

// ErrEventsPermission: the kernel refused the subscription to conntrack
// events, which needs root or CAP_NET_ADMIN. Listen returns it at once and
// does not retry.
var ErrEventsPermission = errors.New("listening to conntrack events needs root or CAP_NET_ADMIN")

// Backoff of Listener between attempts to reopen a failed socket.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Listener receives the kernel's conntrack DESTROY events, each with the
// flow's final counters, over one netlink socket subscribed to the
// DESTROY group, with a large receive buffer forced on that same socket so
// that a burst (a flush, thousands of entries expiring together) is not
// lost. It keeps the events between two Drains. A socket that fails is
// reopened with backoff for as long as Listen runs; an overrun (ENOBUFS:
// the buffer overflowed and the kernel dropped events) is counted and the
// socket goes on. Every loss is in Stats, which the ingest loop logs and
// exposes; the listener itself writes no log. The zero value is ready to
// use.
type Listener struct {
	// Buffer is the receive buffer in bytes (0: DefaultEventsBuffer).
	Buffer int
	// MaxPending bounds the events kept between two Drains (0:
	// DefaultMaxPending); more are dropped and counted.
	MaxPending int

	// open opens the subscribed socket (nil: openNetlink); tests set it.
	open func(buffer int) (eventSocket, error)

	mu      sync.Mutex
	keep    func(*conntrack.Entry) bool
	pending []conntrack.Entry
	spare   []conntrack.Entry
	stats   conntrack.ListenStats
}

// eventSocket is a subscribed socket: Receive blocks for the next DESTROY
// events and returns them decoded, or an error; errors.Is(err, errOverrun)
// for an overrun, after which it goes on. Close unblocks Receive.
type eventSocket interface {
	Receive(deliver func(*conntrack.Entry)) (undecoded int, err error)
	Buffer() int
	Close() error
}

// errOverrun is an eventSocket's ENOBUFS.
var errOverrun = errors.New("receive buffer overrun (ENOBUFS)")

// Listen subscribes and receives DESTROY events until ctx ends, keeping
// those keep accepts (nil: all) for Drain. It calls ready once: with nil
// as soon as the socket is subscribed, so that a read of the table taken
// after it misses no event, or with the error of the first attempt. It
// returns nil when ctx ends, or ErrEventsPermission (wrapped) at once
// when the kernel refuses the subscription; any other failure is retried
// with backoff, counted in Stats().Restarts.
func (l *Listener) Listen(ctx context.Context, keep func(*conntrack.Entry) bool, ready func(error)) error {
	l.mu.Lock()
	l.keep = keep
	l.mu.Unlock()
	open := l.open
	if open == nil {
		open = openNetlink
	}
	buffer := l.Buffer
	if buffer <= 0 {
		buffer = DefaultEventsBuffer
	}
	backoff := minBackoff
	for attempt := 0; ; attempt++ {
		sock, err := open(buffer)
		if attempt == 0 && ready != nil {
			ready(err)
		}
		if errors.Is(err, ErrEventsPermission) {
			l.failed(err, false)
			return err
		}
		if err == nil {
			l.setListening(sock.Buffer())
			backoff = minBackoff
			err = l.receive(ctx, sock)
			l.setListening(0)
		}
		if ctx.Err() != nil {
			return nil
		}
		l.failed(err, true)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// failed records why the listener stopped listening.
func (l *Listener) failed(err error, restart bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.LastError = err.Error()
	if restart {
		l.stats.Restarts++
	}
}

// receive reads sock until ctx ends (nil) or it fails.
func (l *Listener) receive(ctx context.Context, sock eventSocket) error {
	var once sync.Once
	closeSock := func() { once.Do(func() { sock.Close() }) }
	defer context.AfterFunc(ctx, closeSock)()
	defer closeSock()
	for {
		undecoded, err := sock.Receive(l.deliver)
		if undecoded > 0 {
			l.mu.Lock()
			l.stats.Undecoded += uint64(undecoded)
			l.mu.Unlock()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errOverrun):
			l.mu.Lock()
			l.stats.Overruns++
			l.mu.Unlock()
		case err != nil:
			return err
		}
	}
}

// deliver keeps one received event.
func (l *Listener) deliver(e *conntrack.Entry) {
	l.mu.Lock()
	l.stats.Received++
	if l.keep != nil && !l.keep(e) {
		l.mu.Unlock()
		return
	}
	max := l.MaxPending
	if max <= 0 {
		max = DefaultMaxPending
	}
	if len(l.pending) >= max {
		l.stats.Dropped++
	} else {
		l.stats.Kept++
		l.pending = append(l.pending, *e)
	}
	l.mu.Unlock()
}

func (l *Listener) setListening(buffer int) {
	l.mu.Lock()
	l.stats.Listening, l.stats.Buffer = buffer > 0, buffer
	l.mu.Unlock()
}

// Drain yields the events kept since the last Drain, oldest first. The
// *Entry is valid only during the call. It never fails: losses are
// counted in Stats.
func (l *Listener) Drain(yield func(*conntrack.Entry)) error {
	l.mu.Lock()
	batch := l.pending
	l.pending = l.spare[:0]
	l.spare = nil
	l.mu.Unlock()
	for i := range batch {
		yield(&batch[i])
	}
	// Keep the slice for the next batch, unless a burst made it big.
	if cap(batch) <= 1<<12 {
		l.mu.Lock()
		l.spare = batch[:0]
		l.mu.Unlock()
	}
	return nil
}

// Pending is how many kept events wait for Drain: those Drain yields
// first. The ingest cycle asks before it reads the table, so it knows
// which events came before the read.
func (l *Listener) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// Stats returns what the listener received and lost so far. It is safe to
// call at any time, from any goroutine: the health endpoint and the
// metrics read it.
func (l *Listener) Stats() conntrack.ListenStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}
