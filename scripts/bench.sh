#!/usr/bin/env bash
# bench.sh: print README.md's performance table, netmon measured beside
# baselines run in the same invocation; also written to bench-results.md
# (gitignored).
#
#   scripts/bench.sh            default run, about 23 minutes: 2 minutes of
#                               rows, then the flash budget (21 minutes: the
#                               home profile at the default 10-minute commit
#                               interval over two commits, idle beside it,
#                               and the version before the split, d4cbfe9)
#   scripts/bench.sh --quick    fewer runs, 15 s ingest-loop window, the budget
#                               rows as a smoke run (5 s commits), under a
#                               minute (CI)
#   scripts/bench.sh --big      more runs, longer windows; the budget over an
#                               hour, at 5 and 10 minutes and at 1 hour
#   scripts/bench.sh --lab      as root: also build a scripts/lab.sh router lab,
#                               fill its kernel table with 100k flows and time
#                               conntrack -L itself (the floor) beside netmon
#   scripts/bench.sh -- FLAGS   pass FLAGS to scripts/bench, e.g.
#                               -- -only budget -commit-intervals 5m,15m
#   BENCH_OUT=FILE              write the table to FILE instead
#
# Needs go, mawk and GNU time (/usr/bin/time, for peak RSS); exits 77
# without them. Builds netmon the way releases do (CGO_ENABLED=0,
# -trimpath) and the measuring program scripts/bench into a scratch
# directory; the parser rows come from go test -bench.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=default
lab=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) mode=quick ;;
	--big) mode=big ;;
	--lab) lab=1 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown option $1 (want --quick, --big, --lab or -- BENCH-FLAGS)" >&2; exit 2 ;;
	esac
	shift
done
command -v mawk >/dev/null || { echo "bench.sh: mawk not found (apt install mawk)" >&2; exit 77; }
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time not found (apt install time)" >&2; exit 77; }

# The databases go to disk (write_bytes there is what would reach a
# router's flash), the live state to a tmpfs (as /run is on a router).
work=$(mktemp -d /tmp/netmon-bench.XXXXXX)
if [ "$(stat -f -c %T "$work")" = tmpfs ]; then
	rmdir "$work"
	work=$(mktemp -d "$PWD/.bench-work.XXXXXX")
fi
state=$(mktemp -d /dev/shm/netmon-bench.XXXXXX)
lab_args=()
before_args=()
cleanup() {
	if [ -n "${LAB_ID:-}" ]; then
		scripts/lab.sh down >/dev/null 2>&1 || echo "bench.sh: lab $LAB_ID left behind: LAB_ID=$LAB_ID scripts/lab.sh down" >&2
	fi
	rm -rf "$work" "$state"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/netmon" ./cmd/netmon
go build -o "$work/bench" ./scripts/bench
# The version before the live state left the database (issue 14), for the
# flash budget's "before" figure, built from this repository's history;
# not in quick mode, nor in a clone without that commit.
before=d4cbfe9
if [ "$mode" != quick ] && git cat-file -e "$before^{commit}" 2>/dev/null; then
	mkdir "$work/before"
	git archive "$before" | tar -x -C "$work/before"
	(cd "$work/before" && CGO_ENABLED=0 go build -trimpath -o "$work/netmon-before" ./cmd/netmon)
	before_args=(-netmon-before "$work/netmon-before")
fi
if [ "$lab" = 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench.sh: --lab needs root" >&2; exit 1; }
	export LAB_ID="b$$"
	scripts/lab.sh up >/dev/null
	lab_args=(-lab-netns "$(scripts/lab.sh env | sed -n 's/^LAB_RTR=//p')")
fi
"$work/bench" -netmon "$work/netmon" -repo . -work "$work" -state "$state" -mode "$mode" \
	-out "${BENCH_OUT:-bench-results.md}" "${lab_args[@]}" "${before_args[@]}" "$@"
