package sink

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var _ alert.Sink = (*Webhook)(nil)

// hostile is a device name a LAN device may choose (DHCP option 12,
// mDNS): markup, quotes, shell syntax, CRLF and a header.
const hostile = "</script><img src=x onerror=alert(1)>\"'; rm -rf / $(reboot) `id`\r\nX-Evil: 1"

func hostileAlert() alert.Alert {
	d := alert.Device{ID: "aa:bb:cc:dd:ee:01", MAC: "aa:bb:cc:dd:ee:01", Name: hostile, Addr: netip.MustParseAddr("10.0.0.7")}
	return alert.Alert{ID: "0123456789abcdef0123456789abcdef", Kind: alert.NewDevice, Severity: alert.Warning,
		At: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC), Title: "New device on the LAN: " + hostile, Message: "Name: " + hostile, Device: &d}
}

func TestWebhook(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		t.Run("secret="+secret, func(t *testing.T) {
			var (
				body   []byte
				header http.Header
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ = io.ReadAll(r.Body)
				header = r.Header.Clone()
			}))
			defer srv.Close()
			a := hostileAlert()
			if err := NewWebhook(srv.URL, secret).Send(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if got := header.Get(HeaderAlertID); got != a.ID || header.Get(HeaderIdempotency) != a.ID || header.Get(HeaderKind) != "new_device" {
				t.Errorf("id headers: %v", header)
			}
			if header.Get("X-Evil") != "" || header.Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", header)
			}
			sig := header.Get(HeaderSignature)
			switch {
			case secret == "" && sig != "":
				t.Errorf("a signature without a secret: %q", sig)
			case secret != "" && !Verify(secret, body, sig):
				t.Errorf("signature %q does not verify", sig)
			case secret != "" && Verify("wrong", body, sig):
				t.Error("the signature verifies under another secret")
			}
			for _, raw := range []string{"<", ">", "\r", "\n"} {
				if strings.Contains(string(body), raw) {
					t.Errorf("body holds a raw %q", raw)
				}
			}
			var got alert.Alert
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("body (-want +got)\n%s", diff)
			}
		})
	}
}

// TestSignKnown pins the signature scheme a receiver implements, to
// what openssl computes:
// printf '{"id":"x"}' | openssl dgst -sha256 -hmac key
func TestSignKnown(t *testing.T) {
	want := "sha256=9ceaa4a60fd94e663e15900ab1b5d7c00781640620d1414798d6ed63ed6ff2d7"
	if got := Sign("key", []byte(`{"id":"x"}`)); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
