package sink

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var _ alert.Sink = (*Exec)(nil)

// TestMain runs the helper when the exec sink started this test binary
// as its command: `TEST -- MODE DIR`. The sink's environment has no
// variable to say so (it holds only PATH and the alert), so the
// arguments do.
func TestMain(m *testing.M) {
	if i := slices.Index(os.Args, "--"); i > 0 && len(os.Args) == i+3 {
		os.Exit(helper(os.Args[i+1], os.Args[i+2]))
	}
	os.Exit(m.Run())
}

// helper is the command: "record" writes its environment and stdin into
// dir; "fail" writes to stderr and exits 3; "hang" starts a child that
// sleeps, writes the child's pid into dir and sleeps.
func helper(mode, dir string) int {
	switch mode {
	case "record":
		stdin, _ := readAll(os.Stdin)
		os.WriteFile(filepath.Join(dir, "stdin"), stdin, 0o600)
		os.WriteFile(filepath.Join(dir, "env"), []byte(strings.Join(os.Environ(), "\x00")), 0o600)
		os.WriteFile(filepath.Join(dir, "args"), []byte(strings.Join(os.Args, "\x00")), 0o600)
		return 0
	case "fail":
		os.Stderr.WriteString("no route to the\nmail server\n")
		return 3
	case "hang":
		child := exec.Command(os.Args[0], "--", "sleep", dir)
		if err := child.Start(); err != nil {
			return 1
		}
		os.WriteFile(filepath.Join(dir, "child"), []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		time.Sleep(time.Minute)
		return 0
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

func readAll(f *os.File) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}

// TestExecHostile: the hostile name reaches the command verbatim in its
// environment and stdin, as data: nothing ran it (no shell), no file its
// shell syntax names appeared, the arguments are the configured ones.
func TestExecHostile(t *testing.T) {
	dir := t.TempDir()
	a := hostileAlert()
	pwned := filepath.Join(dir, "pwned")
	a.Device.Name += "$(touch " + pwned + ")"
	x := &Exec{Command: []string{os.Args[0], "--", "record", dir}}
	if err := x.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the name's shell syntax ran: %v", err)
	}
	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	var got alert.Alert
	if err := json.Unmarshal(stdin, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("stdin (-want +got)\n%s", diff)
	}
	envb, _ := os.ReadFile(filepath.Join(dir, "env"))
	env := strings.Split(string(envb), "\x00")
	slices.Sort(env)
	want := append([]string{execPath}, Env(a)...)
	slices.Sort(want)
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("environment (-want +got)\n%s", diff)
	}
	name := "NETMON_ALERT_DEVICE_NAME=</script><img src=x onerror=alert(1)>\"'; rm -rf / $(reboot) `id`  X-Evil: 1$(touch " + pwned + ")"
	if !slices.Contains(env, name) {
		t.Errorf("the name is not in the environment verbatim (CRLF as spaces): %q", env)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if string(args) != strings.Join(x.Command, "\x00") {
		t.Errorf("arguments %q", args)
	}
}

func TestExecFailures(t *testing.T) {
	dir := t.TempDir()
	var perm *alert.PermanentError

	err := (&Exec{Command: []string{os.Args[0], "--", "fail", dir}}).Send(context.Background(), hostileAlert())
	if err == nil || errors.As(err, &perm) || !strings.Contains(err.Error(), "exit status 3: no route to the mail server") {
		t.Errorf("a failing command: %v, want a retryable error with its stderr", err)
	}
	err = (&Exec{Command: []string{filepath.Join(dir, "missing")}}).Send(context.Background(), hostileAlert())
	if !errors.As(err, &perm) {
		t.Errorf("a missing command: %v, want a permanent error", err)
	}
}

// TestExecTimeout: past the timeout the command and its children are
// killed, at once.
func TestExecTimeout(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (&Exec{Command: []string{os.Args[0], "--", "hang", dir}}).Send(ctx, hostileAlert())
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v, want an error soon after the timeout", err, time.Since(start))
	}
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	deadline := time.Now().Add(3 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d outlived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
