package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// Exec runs a command for each alert: Command[0] (an absolute path) with
// the arguments Command[1:], executed directly, never through a shell,
// so no part of an alert is ever parsed as shell syntax. The alert is on
// its stdin as JSON (alert.Alert's form) and in its environment (see
// Env); its environment holds nothing else but PATH. The command has the
// sink's timeout: then it and every process it started (its process
// group) are killed. Exit status 0 is delivered; anything else is
// retried, with the start of its stderr as the error.
type Exec struct {
	Command []string
}

// execPath is the only variable of the command's environment besides the
// alert's.
const execPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Send implements alert.Sink.
func (x *Exec) Send(ctx context.Context, a alert.Alert) error {
	if len(x.Command) == 0 {
		return alert.Permanent(errors.New("exec: no command"))
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return alert.Permanent(fmt.Errorf("encode alert: %w", err))
	}
	cmd := exec.CommandContext(ctx, x.Command[0], x.Command[1:]...)
	cmd.Env = append([]string{execPath}, Env(a)...)
	cmd.Stdin = bytes.NewReader(payload)
	var stderr capped
	cmd.Stdout, cmd.Stderr = &capped{}, &stderr
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // a grandchild holding stdout open does not hold us
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), errors.Is(err, exec.ErrNotFound):
		return alert.Permanent(fmt.Errorf("exec %s: %w", x.Command[0], err))
	}
	if msg := Clean(stderr.String(), 300); msg != "" {
		return fmt.Errorf("exec %s: %w: %s", x.Command[0], err, msg)
	}
	return fmt.Errorf("exec %s: %w", x.Command[0], err)
}

// Env returns the alert's environment variables for the exec sink:
// NETMON_ALERT_ID, _KIND, _SEVERITY, _AT (RFC 3339), _TITLE, _MESSAGE,
// and for an alert about a device _DEVICE_ID, _DEVICE_NAME,
// _DEVICE_MAC, _DEVICE_VENDOR, _DEVICE_ADDR. Values hold no NUL or
// other control character (the message keeps its newlines).
func Env(a alert.Alert) []string {
	env := []string{
		"NETMON_ALERT_ID=" + Clean(a.ID, 64),
		"NETMON_ALERT_KIND=" + Clean(string(a.Kind), 32),
		"NETMON_ALERT_SEVERITY=" + Clean(string(a.Severity), 32),
		"NETMON_ALERT_AT=" + a.At.Format(time.RFC3339),
		"NETMON_ALERT_TITLE=" + Clean(a.Title, 1024),
		"NETMON_ALERT_MESSAGE=" + lines(a.Message, 8192),
	}
	if d := a.Device; d != nil {
		addr := ""
		if d.Addr.IsValid() {
			addr = d.Addr.String()
		}
		env = append(env,
			"NETMON_ALERT_DEVICE_ID="+Clean(d.ID, 128),
			"NETMON_ALERT_DEVICE_NAME="+Clean(d.Name, 256),
			"NETMON_ALERT_DEVICE_MAC="+Clean(d.MAC, 64),
			"NETMON_ALERT_DEVICE_VENDOR="+Clean(d.Vendor, 256),
			"NETMON_ALERT_DEVICE_ADDR="+addr,
		)
	}
	return env
}

// lines is Clean for each line of s, keeping the newlines, at most max
// bytes in all.
func lines(s string, max int) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = Clean(l, max)
	}
	out := strings.Join(ls, "\n")
	if len(out) > max {
		out = strings.ToValidUTF8(out[:max], "")
	}
	return out
}

// capped keeps the first 4 KiB written to it and drops the rest.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := 4096 - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
