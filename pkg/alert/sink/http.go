// Package sink holds the places alerts go: a webhook (JSON POST, signed),
// ntfy, the log, and a command run without a shell. Each implements
// alert.Sink; the Dispatcher bounds every Send with the sink's timeout.
//
// Hostile text stays inert: alert fields are JSON-escaped in bodies,
// plain text in ntfy's body, sanitised in headers (no CR, LF or other
// control character; non-ASCII as an RFC 2047 encoded word), passed to
// commands only as environment values and stdin, never through a shell.
package sink

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// Headers every HTTP sink sends: the alert's stable id under two names
// (Idempotency-Key is the IETF draft's; X-Netmon-Alert-Id netmon's own)
// so a receiver can drop a repeat, and its kind.
const (
	HeaderAlertID     = "X-Netmon-Alert-Id"
	HeaderIdempotency = "Idempotency-Key"
	HeaderKind        = "X-Netmon-Alert-Kind"
)

// UserAgent is sent by the HTTP sinks; cmd/netmon adds the version.
var UserAgent = "netmon"

// newClient is the HTTP client of the sinks: no redirects (a sink's URL
// is configured; a redirect is a misconfiguration to report, and
// following one would re-send the body elsewhere), no cookies; the
// Dispatcher's context bounds every request.
func newClient() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends body to url with the headers, and turns the answer into nil
// (2xx), a retryable *StatusError (408, 425, 429, 5xx) or a permanent one
// (any other status).
func post(ctx context.Context, c *http.Client, url string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return alert.Permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header = header
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	// A little of the answer says why it refused; the rest is drained
	// (bounded) so the connection can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Code: resp.StatusCode, Body: Clean(string(snippet), 200)}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s > 0 {
			se.After = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			se.After = time.Until(t)
		}
	}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return se
	}
	return alert.Permanent(se)
}

// StatusError is an HTTP answer that is not 2xx.
type StatusError struct {
	Code  int
	Body  string        // the start of the answer, cleaned
	After time.Duration // Retry-After, when given
}

func (e *StatusError) Error() string {
	msg := "answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Code >= 300 && e.Code < 400 {
		msg += " (a redirect: configure the URL it points to)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// RetryAfter implements alert.RetryAfter.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Clean makes s safe as one line of at most max bytes: control
// characters (CR, LF, NUL, ESC, ...) become spaces, invalid UTF-8 is
// replaced, and a cut never splits a character.
func Clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.TrimSpace(s)
}

// headerValue makes s a safe header value: cleaned, and when it is not
// ASCII, an RFC 2047 encoded word (ntfy decodes those in Title).
func headerValue(s string, max int) string {
	s = Clean(s, max)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.BEncoding.Encode("utf-8", s)
		}
	}
	return s
}

// idHeaders are the headers naming the alert.
func idHeaders(a alert.Alert) http.Header {
	h := http.Header{}
	h.Set(HeaderAlertID, headerValue(a.ID, 64))
	h.Set(HeaderIdempotency, headerValue(a.ID, 64))
	h.Set(HeaderKind, headerValue(string(a.Kind), 32))
	return h
}
