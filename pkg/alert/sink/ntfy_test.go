package sink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var _ alert.Sink = (*Ntfy)(nil)

func TestNtfy(t *testing.T) {
	tests := []struct {
		name  string
		alert func() alert.Alert
		token string
		want  map[string]string
		body  string
	}{
		{
			name:  "hostile name",
			alert: hostileAlert,
			want: map[string]string{
				"Title":    "New device on the LAN: </script><img src=x onerror=alert(1)>\"'; rm -rf / $(reboot) `id`  X-Evil: 1",
				"Priority": "4", "Tags": "netmon,new_device,new", "X-Evil": "", "Authorization": "",
				"Content-Type": "text/plain; charset=utf-8", HeaderAlertID: "0123456789abcdef0123456789abcdef",
			},
			body: "Name: " + hostile,
		},
		{
			name: "critical, UTF-8 title, token",
			alert: func() alert.Alert {
				return alert.Alert{ID: "id1", Kind: alert.IngestFailing, Severity: alert.Critical, Title: "Störung", Message: "m"}
			},
			token: "tk_abc",
			want: map[string]string{
				"Title": "=?utf-8?b?U3TDtnJ1bmc=?=", "Priority": "5", "Tags": "netmon,ingest_failing,rotating_light",
				"Authorization": "Bearer tk_abc",
			},
			body: "m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				header http.Header
				body   []byte
				method string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				header, method = r.Header.Clone(), r.Method
				body, _ = io.ReadAll(r.Body)
			}))
			defer srv.Close()
			if err := NewNtfy(srv.URL+"/topic", tt.token).Send(context.Background(), tt.alert()); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k := range tt.want {
				got[k] = header.Get(k)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || method != http.MethodPost {
				t.Errorf("%s, headers (-want +got)\n%s", method, diff)
			}
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
		})
	}
}
