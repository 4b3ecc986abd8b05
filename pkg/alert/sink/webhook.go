package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// HeaderSignature carries the webhook's signature when a secret is set:
// "sha256=" and the lowercase hex HMAC-SHA256 of the raw request body,
// keyed with the secret. To verify, compute the same over the body as
// received (before parsing it) and compare in constant time, e.g. in Go
// hmac.Equal, in Python hmac.compare_digest. The body holds the alert's
// id and time: a receiver that remembers the ids it took refuses replays.
const HeaderSignature = "X-Netmon-Signature"

// Webhook POSTs each alert as JSON (alert.Alert's form) to URL.
type Webhook struct {
	URL    string
	Secret string // "": no signature
	client *http.Client
}

// NewWebhook returns a webhook sink.
func NewWebhook(url, secret string) *Webhook {
	return &Webhook{URL: url, Secret: secret, client: newClient()}
}

// Send implements alert.Sink.
func (w *Webhook) Send(ctx context.Context, a alert.Alert) error {
	body, err := json.Marshal(a) // escapes <, >, & and every control character
	if err != nil {
		return alert.Permanent(fmt.Errorf("encode alert: %w", err))
	}
	h := idHeaders(a)
	h.Set("Content-Type", "application/json")
	if w.Secret != "" {
		h.Set(HeaderSignature, Sign(w.Secret, body))
	}
	return post(ctx, w.client, w.URL, h, body)
}

// Sign returns the X-Netmon-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of body under secret, in
// constant time: what a receiver does.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}
