package web

import "net/http"

// routes is the one place that lists every URL the server answers.
// Each path answers GET (and HEAD), /login and /logout POST too; other
// methods get a JSON 405, and paths not listed a JSON 404. Every
// response, errors included, goes through secure, which admits the
// request first (auth.go).
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	get := func(path string, h http.HandlerFunc) {
		mux.HandleFunc("GET "+path, h)
		mux.HandleFunc(path, s.methodNotAllowed)
	}
	get("/{$}", s.dashboard)
	get("/static/common.js", s.static("common.js", "text/javascript; charset=utf-8"))
	get("/static/app.js", s.static("app.js", "text/javascript; charset=utf-8"))
	get("/static/style.css", s.static("style.css", "text/css; charset=utf-8"))
	get("/favicon.ico", s.noContent)
	get("/connections.json", s.connections)
	get("/metrics.json", s.systemMetrics)
	get("/metrics", s.prometheus())
	get("/healthz", s.healthz)
	get("/api/devices", s.needHistory(s.apiDevices))
	get("/api/devices/{id}", s.needHistory(s.apiDevice))
	get("/api/devices/{id}/history", s.needHistory(s.apiDeviceHistory))
	get("/api/remotes", s.needHistory(s.apiRemotes))
	get("/api/alerts", s.apiAlerts)
	get("/api/now", s.apiNow)
	// The Device, Remote host and History pages (pages.go).
	p := &pages{server: s, mux: mux}
	get("/devices/{id}", p.devicePage)
	get("/remotes/{addr}", p.remotePage)
	get("/history", p.historyPage)
	get("/api/remotes/{addr}", s.needHistory(s.apiRemote))
	get("/api/remotes/{addr}/history", s.needHistory(s.apiRemoteHistory))
	get("/static/pages.js", s.static("pages.js", "text/javascript; charset=utf-8"))
	get("/static/vendor/uplot/uPlot.iife.min.js", s.static("vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8"))
	get("/static/vendor/uplot/uPlot.min.css", s.static("vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"))
	get("/static/vendor/uplot/LICENSE", s.static("vendor/uplot/LICENSE", "text/plain; charset=utf-8"))
	// The login (auth_login.go); public, as are the static files.
	get("/static/login.css", s.loginCSS)
	form := func(path string, show, submit http.HandlerFunc) {
		mux.HandleFunc("GET "+path, show)
		mux.HandleFunc("POST "+path, submit)
		mux.HandleFunc(path, s.formMethodNotAllowed)
	}
	form("/login", s.needLogin(s.loginForm), s.needLogin(s.login))
	form("/logout", s.needLogin(s.logoutForm), s.needLogin(s.logout))
	mux.HandleFunc("/", s.notFound)
	return compress(s.secure(mux))
}
