package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// sessions holds the logged-in browsers in memory: a restart logs every
// browser out. Only the SHA-256 of each token is kept, so neither a
// memory dump nor the map's lookup time reveals a usable token.
type sessions struct {
	mu     sync.Mutex
	byHash map[[32]byte]*session
	max    int
	idle   time.Duration // a session unused this long ends
	maxAge time.Duration // a session this old ends however busy
	now    func() time.Time
}

type session struct {
	created, used time.Time
}

func newSessions(max int, idle, maxAge time.Duration, now func() time.Time) *sessions {
	return &sessions{byHash: map[[32]byte]*session{}, max: max, idle: idle, maxAge: maxAge, now: now}
}

// start opens a session and returns its token (32 random bytes,
// base64url). At capacity the least recently used session ends first.
func (s *sessions) start() string {
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, se := range s.byHash {
		if s.expired(se, now) {
			delete(s.byHash, h)
		}
	}
	for len(s.byHash) >= s.max {
		var oldest [32]byte
		first := true
		for h, se := range s.byHash {
			if first || se.used.Before(s.byHash[oldest].used) {
				oldest, first = h, false
			}
		}
		delete(s.byHash, oldest)
	}
	s.byHash[sha256.Sum256([]byte(tok))] = &session{created: now, used: now}
	return tok
}

func (s *sessions) expired(se *session, now time.Time) bool {
	return now.Sub(se.used) >= s.idle || now.Sub(se.created) >= s.maxAge
}

// check reports whether tok names a live session, and marks it used. An
// expired session is ended.
func (s *sessions) check(tok string) (time.Time, bool) {
	if tok == "" {
		return time.Time{}, false
	}
	h := sha256.Sum256([]byte(tok))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byHash[h]
	if !ok {
		return time.Time{}, false
	}
	if s.expired(se, now) {
		delete(s.byHash, h)
		return time.Time{}, false
	}
	se.used = now
	return se.created, true
}

// end ends the session tok names, if any.
func (s *sessions) end(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, sha256.Sum256([]byte(tok)))
}

// len is the number of sessions held, expired ones included.
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// sessionToken is the request's session cookie, or "".
func sessionToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// secureRequest reports whether the browser reached netmon over TLS:
// directly, or through a reverse proxy on this machine (a loopback peer)
// that says so in X-Forwarded-Proto. Nobody else is believed, so a LAN
// client cannot make a plain-HTTP cookie look secure or the reverse.
func secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return clientAddr(r).IsLoopback() && r.Header.Get("X-Forwarded-Proto") == "https"
}

// sessionCookieFor is the cookie that carries tok: script cannot read it,
// no other site's page can send it, and it is Secure whenever the
// browser came over TLS. maxAge < 0 deletes it.
func sessionCookieFor(r *http.Request, tok string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     sessionCookie,
		Value:    tok,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   secureRequest(r),
		MaxAge:   int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	return c
}
