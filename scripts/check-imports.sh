#!/usr/bin/env bash
# check-imports.sh: fail when a package imports across a boundary of the
# intended package graph (README.md, "How it works"): the parser knows
# nothing of SQL, the store nothing of exec or HTTP, the web server never
# sees database/sql, and cobra/viper stay in cmd/netmon. The rules below
# list the edges that graph forbids. Direct imports only.
set -euo pipefail
cd "$(dirname "$0")/.."

mod=$(go list -m)
cli='github.com/spf13/cobra github.com/spf13/viper github.com/spf13/pflag'
forbid() { # package, forbidden imports...
	local pkg=$1; shift
	printf '%s\t%s\n' "$mod/$pkg" "$*"
}
rules=$(
	forbid pkg/conntrack database/sql net/http log/slog modernc.org/sqlite "$mod/pkg/store" "$mod/pkg/web" "$mod/pkg/config" "$mod/pkg/ingest" $cli
	forbid pkg/filter database/sql net/http os/exec log/slog "$mod/pkg/store" "$mod/pkg/web" $cli
	forbid pkg/config database/sql net/http os/exec "$mod/pkg/store" "$mod/pkg/web" $cli
	forbid pkg/store os/exec net/http "$mod/pkg/conntrack" "$mod/pkg/ingest" "$mod/pkg/web" "$mod/pkg/config" $cli
	forbid pkg/ingest database/sql net/http modernc.org/sqlite "$mod/pkg/web" "$mod/pkg/config" $cli
	forbid pkg/sysmetrics database/sql net/http os/exec "$mod/pkg/store" "$mod/pkg/web" $cli
	forbid pkg/web database/sql modernc.org/sqlite os/exec "$mod/pkg/config" $cli
)

fail=0
while IFS=$'\t' read -r pkg bad; do
	if ! imports=$(go list -f '{{join .Imports " "}}' "$pkg"); then
		echo "check-imports: cannot list $pkg" >&2
		fail=1
		continue
	fi
	for b in $bad; do
		for i in $imports; do
			if [ "$i" = "$b" ]; then
				echo "forbidden import: $pkg imports $b" >&2
				fail=1
			fi
		done
	done
done <<<"$rules"
[ "$fail" = 0 ] && echo "import boundaries ok"
exit "$fail"
