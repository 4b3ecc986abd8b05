#!/usr/bin/env bash
# check-imports.sh: the package graph is an allow-list (README.md, "How it
# works"). Every package under pkg/ and cmd/ may import the standard
# library, minus the packages its row forbids, and exactly the netmon
# packages and modules its row names; anything else fails, so a new edge
# is a decision written here, not an accident. A package with no row
# fails too. Direct imports of non-test files only.
set -euo pipefail
cd "$(dirname "$0")/.."

mod=$(go list -m)
# pkg/alert holds the rules and the delivery and does no I/O of its own
# (no SQL, no HTTP, no exec: pkg/store is its outbox). pkg/alert/sink
# does the I/O of the sinks: net/http as a CLIENT only (webhook, ntfy)
# and os/exec (the exec sink, never through a shell); it serves nothing,
# which the import check cannot tell from net/http, so review keeps it so.
# package | netmon packages it may import | other modules (path prefixes) | stdlib it may not import
rules='
pkg/conntrack  |                                          |                                   | os os/exec database/sql net/http log/slog
pkg/filter     | conntrack                                |                                   | os os/exec database/sql net/http log/slog
pkg/flows      | conntrack                                |                                   | os os/exec database/sql net/http log/slog
pkg/history    | conntrack flows                          |                                   | os os/exec database/sql net/http log/slog
pkg/rates      | conntrack flows                          |                                   | os os/exec database/sql net/http log/slog
pkg/source     | conntrack                                | github.com/mdlayher/netlink github.com/ti-mo/ golang.org/x/sys | database/sql net/http log/slog
pkg/config     | device filter                            |                                   | os/exec database/sql net/http
pkg/store      | alert conntrack device flows history rates | modernc.org/sqlite golang.org/x/sys | os/exec net/http
pkg/ingest     | conntrack flows history store            |                                   | database/sql net/http os/exec
pkg/sysmetrics |                                          |                                   | os/exec database/sql net/http
pkg/web        | alert conntrack device flows history rates sysmetrics | github.com/prometheus/ golang.org/x/crypto/bcrypt | database/sql os/exec
pkg/device     |                                          |                                   | os os/exec database/sql net net/http log/slog
pkg/neigh      | device                                   | github.com/vishvananda/netlink golang.org/x/sys | os/exec database/sql net/http
pkg/names      | device                                   |                                   | os/exec database/sql net/http
cmd/netmon     | alert alert/sink config conntrack device filter flows history ingest names neigh rates source store sysmetrics web | github.com/spf13/ github.com/olekukonko/tablewriter github.com/dustin/go-humanize golang.org/x/crypto/bcrypt golang.org/x/sys golang.org/x/term go.yaml.in/yaml/v3 |
pkg/alert      | history                                  | github.com/dustin/go-humanize     | os os/exec database/sql net/http
pkg/alert/sink | alert                                    |                                   | database/sql net/http/httptest net/http/httputil
'

fail=0
declare -A seen
while IFS='|' read -r pkg internal external forbidden; do
	pkg=$(echo "$pkg" | xargs)
	[ -n "$pkg" ] || continue
	seen[$pkg]=1
	imports=$(go list -f '{{join .Imports " "}}' "./$pkg") || { echo "check-imports: cannot list $pkg" >&2; fail=1; continue; }
	for i in $imports; do
		case $i in
		"$mod"/*)
			rel=${i#"$mod"/pkg/}
			[[ " $internal " == *" $rel "* ]] || { echo "import not allowed: $pkg imports $i" >&2; fail=1; }
			;;
		*.*/*)
			ok=0
			for e in $external; do [[ $i == "$e"* ]] && ok=1; done
			[ "$ok" = 1 ] || { echo "import not allowed: $pkg imports module $i" >&2; fail=1; }
			;;
		*)
			if [[ " $forbidden " == *" $i "* ]]; then
				echo "import not allowed: $pkg imports $i" >&2
				fail=1
			fi
			;;
		esac
	done
done <<<"$rules"

for p in $(go list -f '{{.Dir}}' ./pkg/... ./cmd/...); do
	rel=${p#"$PWD"/}
	[ -n "${seen[$rel]:-}" ] || { echo "check-imports: $rel has no row in scripts/check-imports.sh" >&2; fail=1; }
done
if go list -deps ./pkg/web | grep -q '^modernc.org/sqlite$'; then
	echo "check-imports: pkg/web links the SQLite driver" >&2
	fail=1
fi
[ "$fail" = 0 ] && echo "import graph ok"
exit "$fail"
