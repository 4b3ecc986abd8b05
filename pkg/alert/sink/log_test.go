package sink

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var _ alert.Sink = (*Log)(nil)

// TestLog: one line per alert, whatever the name holds.
func TestLog(t *testing.T) {
	var buf bytes.Buffer
	l := &Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.Send(context.Background(), hostileAlert()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("not one line: %q", out)
	}
	for _, want := range []string{"level=WARN", "msg=alert", "id=0123456789abcdef0123456789abcdef", "kind=new_device",
		"device=aa:bb:cc:dd:ee:01", "addr=10.0.0.7", `\r\nX-Evil: 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("line %q lacks %q", out, want)
		}
	}
}
