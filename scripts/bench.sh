#!/usr/bin/env bash
# bench.sh: measure netmon against baselines run side by side (issue 7)
# and print the markdown table of the performance targets, also written to
# bench-results.md (gitignored).
#
#   scripts/bench.sh            default run, about 2 minutes (1 minute of it ingest-loop)
#   scripts/bench.sh --quick    fewer runs, 15 s ingest-loop window, about 40 s (CI smoke)
#   scripts/bench.sh --big      more runs, longer windows; the big captures are
#                               taken from ../shared/captures when present
#   BENCH_OUT=FILE              write the table to FILE instead
#
# Needs go, mawk and GNU time (/usr/bin/time, for peak RSS). Builds netmon
# the way releases do (CGO_ENABLED=0, -trimpath) and the measuring program
# scripts/bench into a scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=default
for arg in "$@"; do
	case $arg in
	--quick) mode=quick ;;
	--big) mode=big ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $arg (want --quick or --big)" >&2; exit 2 ;;
	esac
done
command -v mawk >/dev/null || { echo "bench.sh: mawk not found (apt install mawk)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time not found (apt install time)" >&2; exit 1; }

work=$(mktemp -d /tmp/netmon-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/netmon" ./cmd/netmon
go build -o "$work/bench" ./scripts/bench
"$work/bench" -netmon "$work/netmon" -repo . -work "$work" -mode "$mode" \
	-shared ../shared/captures -out "${BENCH_OUT:-bench-results.md}"
