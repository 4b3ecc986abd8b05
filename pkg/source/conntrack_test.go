package source

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRunner is a Runner whose behaviour each test supplies.
type fakeRunner struct {
	run func(ctx context.Context, name string, args, env []string, stdout, stderr io.Writer) error
}

var _ Runner = (*fakeRunner)(nil)

func (f *fakeRunner) Run(ctx context.Context, name string, args, env []string, stdout, stderr io.Writer) error {
	return f.run(ctx, name, args, env, stdout, stderr)
}

// printing returns a fake that prints stdout and stderr and returns err.
func printing(stdout, stderr string, err error) *fakeRunner {
	return &fakeRunner{run: func(_ context.Context, _ string, _, _ []string, o, e io.Writer) error {
		if _, werr := io.WriteString(o, stdout); werr != nil {
			return werr
		}
		io.WriteString(e, stderr)
		return err
	}}
}

const permissionStderr = "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted\n"

func TestSnapshotRead(t *testing.T) {
	mixed := string(readFixture(t, "small_mixed.txt"))
	mixedTrailer := string(readFixture(t, "small_mixed.stderr"))
	exit1 := errors.New("exit status 1")
	tests := []struct {
		name         string
		snap         Conntrack
		wantErr      error
		wantEntries  int
		wantReported int
		wantMismatch bool
	}{
		{
			name:        "whole table with trailer",
			snap:        Conntrack{Runner: printing(mixed, mixedTrailer, nil)},
			wantEntries: 29, wantReported: 29,
		},
		{
			name:        "empty table",
			snap:        Conntrack{Runner: printing("", "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n", nil)},
			wantEntries: 0, wantReported: 0,
		},
		{
			name:        "no trailer",
			snap:        Conntrack{Runner: printing(tcpLine+"\n", "", nil)},
			wantEntries: 1, wantReported: -1,
		},
		{
			name:        "trailer disagrees with the lines read",
			snap:        Conntrack{Runner: printing(tcpLine+"\n"+udpLine+"\n", "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n", nil)},
			wantEntries: 2, wantReported: 3, wantMismatch: true,
		},
		{
			name:    "not installed",
			snap:    Conntrack{Runner: printing("", "", &exec.Error{Name: "conntrack", Err: exec.ErrNotFound})},
			wantErr: ErrNotInstalled,
		},
		{
			name:    "not permitted",
			snap:    Conntrack{Runner: printing("", permissionStderr, exit1)},
			wantErr: ErrPermission,
		},
		{
			name:    "other non-zero exit",
			snap:    Conntrack{Runner: printing("", "conntrack v1.4.7 (conntrack-tools): unknown option\n", exit1)},
			wantErr: ErrExit,
		},
		{
			name:    "non-zero exit after partial output",
			snap:    Conntrack{Runner: printing(tcpLine+"\n", "", exit1)},
			wantErr: ErrExit,
		},
		{
			name: "timeout",
			snap: Conntrack{Timeout: 20 * time.Millisecond, Runner: &fakeRunner{run: func(ctx context.Context, _ string, _, _ []string, _, _ io.Writer) error {
				<-ctx.Done()
				return ctx.Err()
			}}},
			wantErr: ErrTimeout,
		},
		{
			name:    "more output than MaxBytes",
			snap:    Conntrack{MaxBytes: int64(len(tcpLine)), Runner: printing(tcpLine+"\n"+tcpLine+"\n", "", nil)},
			wantErr: ErrTooLarge,
		},
		{
			name: "endless output stopped at MaxBytes",
			snap: Conntrack{MaxBytes: 1 << 20, Runner: &fakeRunner{run: func(ctx context.Context, _ string, _, _ []string, o, _ io.Writer) error {
				for {
					if _, err := io.WriteString(o, tcpLine+"\n"); err != nil {
						return err
					}
				}
			}}},
			wantErr: ErrTooLarge,
		},
		{
			name:        "exactly MaxBytes",
			snap:        Conntrack{MaxBytes: int64(len(tcpLine)) + 1, Runner: printing(tcpLine+"\n", "", nil)},
			wantEntries: 1, wantReported: -1,
		},
		{
			name:        "a megabyte of stderr does not block",
			snap:        Conntrack{Runner: printing(tcpLine+"\n", strings.Repeat("warning\n", 1<<17), nil)},
			wantEntries: 1, wantReported: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			st, err := readAll(context.Background(), &tc.snap, func(*conntrack.Entry) { n++ })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			got := []any{st.Entries, n, st.Reported, st.TrailerMismatch()}
			want := []any{tc.wantEntries, tc.wantEntries, tc.wantReported, tc.wantMismatch}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries, fn calls, reported, mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSnapshotReadErrorsAreDistinct: each failure matches its own
// sentinel only, so callers can branch on it.
func TestSnapshotReadErrorsAreDistinct(t *testing.T) {
	all := []error{ErrNotInstalled, ErrPermission, ErrTimeout, ErrExit, ErrTooLarge}
	tests := []struct {
		name string
		snap Conntrack
		want error
	}{
		{name: "not installed", snap: Conntrack{Runner: printing("", "", exec.ErrNotFound)}, want: ErrNotInstalled},
		{name: "permission", snap: Conntrack{Runner: printing("", permissionStderr, errors.New("exit status 1"))}, want: ErrPermission},
		{name: "exit", snap: Conntrack{Runner: printing("", "", errors.New("exit status 2"))}, want: ErrExit},
		{name: "too large", snap: Conntrack{MaxBytes: 1, Runner: printing(tcpLine, "", nil)}, want: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(context.Background(), &tc.snap, func(*conntrack.Entry) {})
			for _, s := range all {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, errors.Is(err, s))
				}
			}
		})
	}
}

func TestSnapshotReadDefaults(t *testing.T) {
	var gotName string
	var gotArgs, gotEnv []string
	s := &Conntrack{Runner: &fakeRunner{run: func(ctx context.Context, name string, args, env []string, _, _ io.Writer) error {
		gotName, gotArgs, gotEnv = name, args, env
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline on the context")
		}
		return nil
	}}}
	if _, err := readAll(context.Background(), s, func(*conntrack.Entry) {}); err != nil {
		t.Fatal(err)
	}
	want := []any{"conntrack", []string{"-L", "-o", "extended,id"}, []string{"LC_ALL=C"}}
	if diff := cmp.Diff(want, []any{gotName, gotArgs, gotEnv}); diff != "" {
		t.Errorf("name, args, env (-want +got):\n%s", diff)
	}

	s.Command, s.Args = "/usr/sbin/conntrack", []string{"-L", "-f", "ipv6"}
	if _, err := readAll(context.Background(), s, func(*conntrack.Entry) {}); err != nil {
		t.Fatal(err)
	}
	want = []any{"/usr/sbin/conntrack", []string{"-L", "-f", "ipv6"}, []string{"LC_ALL=C"}}
	if diff := cmp.Diff(want, []any{gotName, gotArgs, gotEnv}); diff != "" {
		t.Errorf("name, args, env (-want +got):\n%s", diff)
	}
}

// TestSnapshotReadCancelled: a cancelled caller gets its own error back,
// not a timeout.
func TestSnapshotReadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Conntrack{Runner: &fakeRunner{run: func(rctx context.Context, _ string, _, _ []string, _, _ io.Writer) error {
		cancel()
		<-rctx.Done()
		return rctx.Err()
	}}}
	_, err := readAll(ctx, s, func(*conntrack.Entry) {})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("Read error = %v, want context.Canceled", err)
	}
}

// TestSnapshotReadStreams: fn sees the first entry while conntrack is
// still printing, so a big table is never held whole.
func TestSnapshotReadStreams(t *testing.T) {
	seen := make(chan struct{})
	s := &Conntrack{Runner: &fakeRunner{run: func(ctx context.Context, _ string, _, _ []string, o, _ io.Writer) error {
		if _, err := io.WriteString(o, tcpLine+"\n"); err != nil {
			return err
		}
		select {
		case <-seen:
		case <-ctx.Done():
			return errors.New("fn never saw the first entry while the command ran")
		}
		_, err := io.WriteString(o, udpLine+"\n")
		return err
	}}}
	var keys []string
	st, err := readAll(context.Background(), s, func(e *conntrack.Entry) {
		if len(keys) == 0 {
			close(seen)
		}
		keys = append(keys, conntrack.KeyOf(e).String())
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || st.Lines != 2 {
		t.Errorf("got %d entries of %d lines, want 2 of 2", len(keys), st.Lines)
	}
}

func TestBoundedBuffer(t *testing.T) {
	b := boundedBuffer{max: 10}
	for _, s := range []string{"conntrack", " v1.4.7", " more"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := string(b.Bytes()); got != "conntrack " {
		t.Errorf("kept %q, want the first 10 bytes", got)
	}
}

func TestLimitReader(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		limit   int64
		wantErr error
	}{
		{name: "under", data: "abc", limit: 4},
		{name: "exact", data: "abcd", limit: 4},
		{name: "over", data: "abcde", limit: 4, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lr := &limitReader{r: strings.NewReader(tc.data), left: tc.limit}
			got, err := io.ReadAll(lr)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadAll error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !bytes.Equal(got, []byte(tc.data)) {
				t.Errorf("read %q, want %q", got, tc.data)
			}
			if lr.exceeded != (tc.wantErr != nil) {
				t.Errorf("exceeded = %v", lr.exceeded)
			}
		})
	}
}

// TestSnapshotReadPanickingFn: a panic in fn reaches the caller, and the
// command's writer is released instead of blocking forever.
func TestSnapshotReadPanickingFn(t *testing.T) {
	released := make(chan error, 1)
	s := &Conntrack{Runner: &fakeRunner{run: func(_ context.Context, _ string, _, _ []string, o, _ io.Writer) error {
		for {
			if _, err := io.WriteString(o, tcpLine+"\n"); err != nil {
				released <- err
				return err
			}
		}
	}}}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Read swallowed fn's panic")
			}
		}()
		readAll(context.Background(), s, func(*conntrack.Entry) { panic("boom") })
	}()
	select {
	case err := <-released:
		if !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("writer released with %v, want io.ErrClosedPipe", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the command's writer is still blocked a minute after Read returned")
	}
}
