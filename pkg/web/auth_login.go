package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// loginAssets are the login and logout page and their style sheet (on top
// of the dashboard's style.css). The page has no script.
//
//go:embed assets/login.html.tmpl assets/login.css
var loginAssets embed.FS

// loginCSP is the dashboard's policy with one change: the page's form may
// post to this origin.
var loginCSP = strings.Replace(contentSecurityPolicy, "form-action 'none'", "form-action 'self'", 1)

// maxLoginBody bounds the login form's body.
const maxLoginBody = 4 << 10

// loginData fills the login template.
type loginData struct {
	Logout  bool   // the logout page instead of the login form
	Message string // why the last attempt failed
}

// parseLogin parses the login template once, at construction.
func parseLogin() (*template.Template, error) {
	t, err := template.ParseFS(loginAssets, "assets/login.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse login template: %w", err)
	}
	return t, nil
}

// renderLogin answers with the login (or logout) page and status.
func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	var buf bytes.Buffer
	if err := s.loginPage.Execute(&buf, d); err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", loginCSP)
	// Under the dashboard's no-referrer a form post says "Origin: null";
	// same-origin lets it name this origin, which sameOrigin checks, and
	// still tells no other site anything.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// loginCSS serves the login page's style sheet.
func (s *server) loginCSS(w http.ResponseWriter, r *http.Request) {
	b, err := loginAssets.ReadFile("assets/login.css")
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// needLogin sends h's request to the dashboard when no password is set:
// there is then nothing to log in to or out of. It guards the login and
// logout routes, whose handlers count on a guard with a password.
func (s *server) needLogin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.guard == nil || !s.guard.loginOn() {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

// loginForm serves GET /login.
func (s *server) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.guard.sessions.check(sessionToken(r)); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginData{})
}

// sameOrigin refuses a form posted from another origin: browsers send
// Origin (and Sec-Fetch-Site) with every POST. SameSite=Strict already
// keeps the cookie off such requests; this keeps another site from
// spending this client's login attempts.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true // not a browser, or an old one: the password decides
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// login serves POST /login: the password against the hash, within the
// brute-force limit; on success a session cookie and the dashboard.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	g := s.guard
	if !sameOrigin(r) {
		s.writeError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	client := limitKey(clientAddr(r))
	if wait := g.limiter.wait(client); wait > 0 {
		tooMany(w, wait)
		s.renderLogin(w, r, http.StatusTooManyRequests, loginData{Message: waitMessage(wait)})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, loginData{Message: "The form could not be read."})
		return
	}
	select {
	case g.hashing <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		s.renderLogin(w, r, http.StatusServiceUnavailable, loginData{Message: "Busy checking other logins; try again in a second."})
		return
	}
	err := bcrypt.CompareHashAndPassword(g.hash, []byte(r.PostForm.Get("password")))
	<-g.hashing
	if err != nil {
		msg := "Wrong password."
		if wait := g.limiter.fail(client); wait > 0 {
			tooMany(w, wait)
			msg += " " + waitMessage(wait)
		}
		s.log.Warn("login failed", "client", clientAddr(r).String())
		s.renderLogin(w, r, http.StatusUnauthorized, loginData{Message: msg})
		return
	}
	g.limiter.succeed(client)
	http.SetCookie(w, sessionCookieFor(r, g.sessions.start(), SessionMaxAge))
	s.log.Info("login", "client", clientAddr(r).String())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// waitMessage says how long a client must wait.
func waitMessage(wait time.Duration) string {
	return fmt.Sprintf("Too many failed attempts: try again in %s.", wait.Round(time.Second))
}

// logoutForm serves GET /logout: a button that posts the logout (a GET
// must not change state, and the CSP allows no script to do it).
func (s *server) logoutForm(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, loginData{Logout: true})
}

// logout serves POST /logout: the session ends and the cookie is deleted.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.writeError(w, http.StatusForbidden, "cross-origin logout refused")
		return
	}
	s.guard.sessions.end(sessionToken(r))
	http.SetCookie(w, sessionCookieFor(r, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// formMethodNotAllowed answers /login and /logout asked with a method
// other than GET, HEAD or POST.
func (s *server) formMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD, POST")
	s.writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}
