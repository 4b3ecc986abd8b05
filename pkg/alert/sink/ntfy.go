package sink

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// Ntfy publishes each alert to an ntfy topic (https://ntfy.sh or a
// server of one's own): a POST of the message as plain text to the topic
// URL, with the Title, Priority and Tags headers.
type Ntfy struct {
	URL    string // the topic, e.g. https://ntfy.sh/my-router-4711
	Token  string // an access token (Authorization: Bearer); "" for none
	client *http.Client
}

// NewNtfy returns an ntfy sink.
func NewNtfy(url, token string) *Ntfy {
	return &Ntfy{URL: url, Token: token, client: newClient()}
}

// Send implements alert.Sink.
func (n *Ntfy) Send(ctx context.Context, a alert.Alert) error {
	h := idHeaders(a)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Title", headerValue(a.Title, 250))
	h.Set("Priority", strconv.Itoa(Priority(a.Severity)))
	h.Set("Tags", strings.Join(Tags(a.Kind), ","))
	if n.Token != "" {
		h.Set("Authorization", "Bearer "+headerValue(n.Token, 512))
	}
	// ntfy shows the body as text (Markdown only when asked for with a
	// header we never send). Its message limit is 4096 bytes.
	body := strings.ToValidUTF8(a.Message, "\uFFFD")
	if len(body) > 4000 {
		body = Clean(body, 4000) + " ..."
	}
	return post(ctx, n.client, n.URL, h, []byte(body))
}

// Priority maps a severity to ntfy's priority, 1 (min) to 5 (max).
func Priority(s alert.Severity) int {
	switch s {
	case alert.Critical:
		return 5
	case alert.Warning:
		return 4
	}
	return 3
}

// Tags are the ntfy tags of a kind: "netmon", the kind, and an emoji
// short code ntfy shows in front of the title.
func Tags(k alert.Kind) []string {
	emoji := map[alert.Kind]string{
		alert.NewDevice:       "new",
		alert.Quota:           "chart_with_upwards_trend",
		alert.NewDestination:  "globe_with_meridians",
		alert.IngestFailing:   "rotating_light",
		alert.IngestRecovered: "white_check_mark",
		alert.Summary:         "package",
		alert.Test:            "test_tube",
	}[k]
	tags := []string{"netmon", string(k)}
	if emoji != "" {
		tags = append(tags, emoji)
	}
	return tags
}
