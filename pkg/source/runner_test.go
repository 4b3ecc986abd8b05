package source

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeScript writes an executable shell script standing in for conntrack.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conntrack")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExecRunnerThroughSnapshot runs real processes: exec, not found,
// exit codes and a timeout, no root needed.
func TestExecRunnerThroughSnapshot(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	tests := []struct {
		name        string
		command     string // a script body, or "missing:" and a name
		timeout     time.Duration
		wantErr     error
		wantEntries int
	}{
		{
			name: "prints a table with LC_ALL=C and the arguments",
			command: `[ "$LC_ALL" = C ] || { echo "LC_ALL=$LC_ALL" >&2; exit 3; }
[ "$*" = "-L -o extended,id" ] || { echo "args: $*" >&2; exit 4; }
printf '%s\n%s\n' '` + tcpLine + `' '` + udpLine + `'
echo 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.' >&2`,
			wantEntries: 2,
		},
		{name: "missing absolute path", command: "missing:/nonexistent/dir/conntrack", wantErr: ErrNotInstalled},
		{name: "missing in PATH", command: "missing:netmon-test-no-such-conntrack", wantErr: ErrNotInstalled},
		{name: "permission denied by the kernel", command: "echo 'conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted' >&2; exit 1", wantErr: ErrPermission},
		{name: "exit code 2", command: "echo 'conntrack v1.4.7 (conntrack-tools): Invalid argument' >&2; exit 2", wantErr: ErrExit},
		{name: "hangs past the timeout", command: "echo '" + tcpLine + "'; sleep 30", timeout: 300 * time.Millisecond, wantErr: ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, ok := strings.CutPrefix(tc.command, "missing:")
			if !ok {
				cmd = writeScript(t, tc.command)
			}
			s := &Conntrack{Command: cmd, Timeout: tc.timeout}
			var n int
			st, err := readAll(context.Background(), s, func(*conntrack.Entry) { n++ })
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Read error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if st.Entries != tc.wantEntries || n != tc.wantEntries || st.TrailerMismatch() {
				t.Errorf("stats %+v, fn called %d times; want %d entries agreeing with the trailer", st, n, tc.wantEntries)
			}
		})
	}
}

func TestExecRunnerExitCode(t *testing.T) {
	script := writeScript(t, "echo out; echo err >&2; exit 7")
	var stdout, stderr bytes.Buffer
	err := ExecRunner{}.Run(context.Background(), script, nil, []string{"NETMON_TEST=1"}, &stdout, &stderr)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 {
		t.Fatalf("Run error = %v, want exit status 7", err)
	}
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestExecRunnerEnv(t *testing.T) {
	script := writeScript(t, `echo "$NETMON_TEST_A $NETMON_TEST_B"`)
	t.Setenv("NETMON_TEST_A", "inherited")
	t.Setenv("NETMON_TEST_B", "old")
	var stdout bytes.Buffer
	if err := (ExecRunner{}).Run(context.Background(), script, nil, []string{"NETMON_TEST_B=new"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "inherited new\n" {
		t.Errorf("script saw %q, want the inherited variable and the override", got)
	}
}
