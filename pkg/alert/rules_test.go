package alert

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSinksOr(t *testing.T) {
	r := Rules{Sinks: []string{"hook", "log"}}
	if diff := cmp.Diff([]string{"hook", "log"}, r.sinksOr(nil)); diff != "" {
		t.Errorf("no sinks named (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"phone"}, r.sinksOr([]string{"phone"})); diff != "" {
		t.Errorf("sinks named (-want +got)\n%s", diff)
	}
}
