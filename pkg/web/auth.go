package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Access says who may read the dashboard. Every request passes three
// gates in this order, before any route runs:
//
//  1. allow_from: a client whose address is outside AllowFrom (when set)
//     gets 403.
//  2. The Host header: it must name the address the connection came in
//     on, the bound address, a localhost name (localhost, *.localhost, a
//     loopback address) or one of AllowedHosts; anything else gets 421
//     Misdirected Request. This stops DNS rebinding: a page on
//     attacker.example whose name the attacker re-points at the router
//     reaches the server, but with "Host: attacker.example".
//  3. Login, when PasswordHash is set: a session cookie from /login, or,
//     for /metrics, /healthz and the JSON endpoints, "Authorization:
//     Bearer APIToken". Without either a page request is sent to /login
//     and an API request gets 401.
type Access struct {
	// Bind is the configured listen address (host:port); its host is
	// accepted in the Host header.
	Bind string
	// AllowedHosts are further names or addresses accepted in the Host
	// header (a reverse proxy's name, the router's DNS name).
	AllowedHosts []string
	// AllowFrom, when not empty, lists the only client prefixes served.
	AllowFrom []netip.Prefix
	// PasswordHash is the bcrypt hash of the login password, as
	// `netmon passwd` writes it. Empty: no login.
	PasswordHash []byte
	// APIToken is the read-only bearer token. Empty: none accepted.
	APIToken string
	// SessionIdle ends a session not used for this long; 0 means
	// DefaultSessionIdle.
	SessionIdle time.Duration
}

// Session and brute-force limits.
const (
	// DefaultSessionIdle ends a session after this long without a request.
	// The dashboard polls every second, so an open tab never idles.
	DefaultSessionIdle = 12 * time.Hour
	// SessionMaxAge ends a session however busy: the cookie's Max-Age.
	SessionMaxAge = 7 * 24 * time.Hour
	// MaxSessions bounds the sessions held in memory; a new login beyond
	// it ends the least recently used session.
	MaxSessions = 64
	// MinAPITokenLen is the shortest bearer token accepted.
	MinAPITokenLen = 16
	// sessionCookie is the session cookie's name.
	sessionCookie = "netmon_session"
)

// guard enforces an Access.
type guard struct {
	hosts     map[string]bool // accepted Host names, lower case, no port
	allowFrom []netip.Prefix
	hash      []byte   // bcrypt; nil: no login
	token     [32]byte // SHA-256 of the bearer token
	hasToken  bool
	sessions  *sessions
	limiter   *limiter
	// hashing admits this many bcrypt comparisons at once: each costs a
	// core for tens of milliseconds (a second on a small router), so
	// many clients at once cannot take every core.
	hashing chan struct{}
}

// maxHashing is how many password checks may run at once.
const maxHashing = 2

// newGuard checks a and prepares what the gates need.
func newGuard(a *Access, now func() time.Time) (*guard, error) {
	g := &guard{
		hosts:     map[string]bool{"localhost": true},
		allowFrom: a.AllowFrom,
		hashing:   make(chan struct{}, maxHashing),
	}
	// A wildcard bind (0.0.0.0, ::) names no host: allowedHost accepts
	// whichever address the connection came in on instead.
	if host, _, err := net.SplitHostPort(a.Bind); err == nil && host != "" {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			g.hosts[normalHost(host)] = true
		}
	}
	for _, h := range a.AllowedHosts {
		n := normalHost(h)
		if n == "" {
			return nil, fmt.Errorf("web access: allowed host %q: empty", h)
		}
		g.hosts[n] = true
	}
	for _, p := range a.AllowFrom {
		if !p.IsValid() {
			return nil, errors.New("web access: allow_from holds an invalid prefix")
		}
	}
	if len(a.PasswordHash) > 0 {
		if _, err := bcrypt.Cost(a.PasswordHash); err != nil {
			return nil, fmt.Errorf("web access: password hash: %w", err)
		}
		g.hash = a.PasswordHash
	}
	if a.APIToken != "" {
		if len(a.APIToken) < MinAPITokenLen {
			return nil, fmt.Errorf("web access: api token: shorter than %d characters", MinAPITokenLen)
		}
		g.token, g.hasToken = sha256.Sum256([]byte(a.APIToken)), true
	}
	idle := a.SessionIdle
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	g.sessions = newSessions(MaxSessions, idle, SessionMaxAge, now)
	g.limiter = newLimiter(maxLimited, now)
	return g, nil
}

// normalHost is a Host header's or a configured name's host part: no
// port, no brackets, no trailing dot, lower case.
func normalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// loginOn reports whether a password is set.
func (g *guard) loginOn() bool { return g.hash != nil }

// clientAddr is the peer's address; X-Forwarded-For is never believed.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// allowedClient is gate 1.
func (g *guard) allowedClient(r *http.Request) bool {
	if len(g.allowFrom) == 0 {
		return true
	}
	a := clientAddr(r)
	for _, p := range g.allowFrom {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowedHost is gate 2.
func (g *guard) allowedHost(r *http.Request) bool {
	h := normalHost(r.Host)
	switch {
	case h == "":
		return false
	case g.hosts[h], strings.HasSuffix(h, ".localhost"):
		return true
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	// The address this connection arrived at: right whichever of the
	// router's addresses a wildcard bind answered on.
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

// tokenPath reports whether the bearer token may read path: the
// machine-readable endpoints, never the page or the login.
func tokenPath(path string) bool {
	return path == "/metrics" || path == "/healthz" || strings.HasSuffix(path, ".json")
}

// publicPath reports whether path is served without a login: the login
// page itself and the embedded style sheets and script, which hold no
// data.
func publicPath(path string) bool {
	return path == "/login" || path == "/favicon.ico" || strings.HasPrefix(path, "/static/")
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// tokenOK compares a presented token with the configured one in
// constant time.
func (g *guard) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return g.hasToken && subtle.ConstantTimeCompare(sum[:], g.token[:]) == 1
}

// admit runs the gates; when one refuses it has answered and admit
// returns false.
func (s *server) admit(w http.ResponseWriter, r *http.Request) bool {
	g := s.guard
	if g == nil {
		return true
	}
	if !g.allowedClient(r) {
		s.writeError(w, http.StatusForbidden, "forbidden")
		return false
	}
	if !g.allowedHost(r) {
		s.writeError(w, http.StatusMisdirectedRequest, "unknown host name; add it to allowed_hosts")
		return false
	}
	if !g.loginOn() || publicPath(r.URL.Path) {
		return true
	}
	if _, ok := g.sessions.check(sessionToken(r)); ok {
		return true
	}
	client := limitKey(clientAddr(r))
	if tok, ok := bearer(r); ok {
		if wait := g.limiter.wait(client); wait > 0 {
			tooMany(w, wait)
			s.writeError(w, http.StatusTooManyRequests, "too many failed attempts")
			return false
		}
		if g.tokenOK(tok) {
			if tokenPath(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				return true
			}
			s.writeError(w, http.StatusForbidden, "the API token reads only /metrics, /healthz and the JSON endpoints")
			return false
		}
		g.limiter.fail(client)
		w.Header().Set("WWW-Authenticate", `Bearer realm="netmon", error="invalid_token"`)
		s.writeError(w, http.StatusUnauthorized, "invalid token")
		return false
	}
	// A page (anything but the machine-readable endpoints) asked by a
	// browser goes to the login; the rest get 401.
	if !tokenPath(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="netmon"`)
	s.writeError(w, http.StatusUnauthorized, "login required")
	return false
}

// tooMany sets Retry-After to wait in whole seconds, at least 1.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", fmt.Sprint(int((wait+time.Second-1)/time.Second)))
}
