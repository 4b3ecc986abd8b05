package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/netmon-dev/netmon/pkg/web"
)

// TestLoginInBrowser logs in to a server with a password in headless
// chromium: the dashboard sends the browser to the login page, a wrong
// password is refused with a message, the right one opens the dashboard,
// which paints; script cannot read the session cookie; logging out ends
// the session. No step may log a console error (CSP violations included)
// but the refused password's 401.
func TestLoginInBrowser(t *testing.T) {
	browser := newBrowser(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	clk := &movableClock{t: time.Now()}
	addr := guardedServer(t, web.Access{PasswordHash: hash}, clk)
	base := "http://" + addr
	errs := consoleErrors(t, browser)
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(browser, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(loc, base)
	}
	submit := func(password string) {
		t.Helper()
		if err := chromedp.Do(browser,
			chromedp.WaitVisible(chromedp.CSS("#password")),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#submit")),
		); err != nil {
			t.Fatalf("submit the login form: %v", err)
		}
	}

	// waitPage waits for expr across the page loads a form post causes
	// (waitFor's poll ends when the page it runs in goes away).
	waitPage := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := chromedp.Run(browser, chromedp.Evaluate[bool](expr))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				html, _ := chromedp.Run(browser, chromedp.Evaluate[string](`location.href + " " + document.documentElement.outerHTML`))
				t.Fatalf("waiting for %s: %v; console %q; page %s", what, err, errs(), html)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if err := chromedp.Do(browser, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	if loc := location(); loc != "/login" {
		t.Fatalf("the dashboard without a session went to %q, want /login", loc)
	}
	// The page has the dashboard's look: its style sheet applied.
	if got := eval[string](t, browser, `getComputedStyle(document.querySelector("header h1")).color`); got != "rgb(35, 100, 170)" {
		t.Errorf("heading colour %q: style.css not applied", got)
	}

	submit("wrong horse")
	waitPage("the refusal", `document.getElementById("message") !== null`)
	if msg := eval[string](t, browser, `document.getElementById("message").textContent`); msg != "Wrong password." {
		t.Errorf("message %q", msg)
	}

	submit("correct horse")
	waitPage("the dashboard", `location.pathname === "/" && document.getElementById("netmon") !== null`)
	waitFor(t, browser, "a connections poll", `Number(document.getElementById("netmon").dataset.connectionsPolls) >= 1`, 10*time.Second)
	if c := eval[string](t, browser, `document.cookie`); strings.Contains(c, "netmon_session") {
		t.Errorf("script can read the session cookie: %q", c)
	}

	if err := chromedp.Do(browser, chromedp.Navigate(base+"/logout"),
		chromedp.WaitVisible(chromedp.CSS("#logout")), chromedp.Click(chromedp.CSS("#logout"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
	waitPage("the login page after logout", `location.pathname === "/login" && document.getElementById("password") !== null`)
	if err := chromedp.Do(browser, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if loc := location(); loc != "/login" {
		t.Errorf("after logout the dashboard went to %q, want /login", loc)
	}
	// Chromium logs the refused password's 401 as a failed load; that
	// one is expected, and nothing else.
	var unexpected []string
	for _, e := range errs() {
		if !strings.Contains(e, "status of 401") {
			unexpected = append(unexpected, e)
		}
	}
	if len(unexpected) != 0 {
		t.Errorf("console errors:\n%s", strings.Join(unexpected, "\n"))
	}
}
