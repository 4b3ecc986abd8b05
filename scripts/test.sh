#!/usr/bin/env bash
# test.sh: every check netmon has, in the order a failure is cheapest to
# find. README's test command and CI (.ci/run) both run exactly this.
#
#   FUZZTIME=10s        time per fuzz target (go test -fuzztime)
#   FUZZMINIMIZETIME=5s time to minimise each new input (go test
#                       -fuzzminimizetime; Go's default of 60s stalls a
#                       target seeded with whole captures for its whole
#                       FUZZTIME and leaves orphan workers spinning)
#   NETMON_REQUIRE_E2E=1  fail (instead of skip) when a check that needs root
#                       or a Debian package (router lab, .deb install, the
#                       bench table's mawk and GNU time) cannot run; CI sets it.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
fuzzminimizetime=${FUZZMINIMIZETIME:-5s}
passed=0
failed=0
failures=()

step() { # name, command...
	local name=$1; shift
	echo "=== $name"
	local start=$SECONDS rc=0
	"$@" || rc=$?
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
		echo "--- ok: $name ($((SECONDS - start))s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "--- FAIL: $name (exit $rc, $((SECONDS - start))s)"
	fi
}

gofmt_clean() {
	local out
	out=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
	[ -z "$out" ] || { echo "gofmt would change:"; echo "$out"; return 1; }
}

fuzz_all() {
	local pkg target rc=0
	for pkg in $(go list ./...); do
		for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
			echo "fuzz $pkg $target for $fuzztime"
			go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$fuzzminimizetime" "$pkg" || rc=1
		done
	done
	return "$rc"
}

skippable() { # name, command...: a check that exits 77 when this machine cannot run it (not root, a tool missing)
	local name=$1 rc=0
	shift
	"$@" || rc=$?
	if [ "$rc" = 77 ]; then
		if [ "${NETMON_REQUIRE_E2E:-0}" = 1 ]; then
			echo "$name was skipped but NETMON_REQUIRE_E2E=1"
			return 1
		fi
		echo "(skipped $name: see the line above; .ci/run installs everything and runs as root)"
		return 0
	fi
	return "$rc"
}

# The real promtool over the golden expositions of pkg/web, when it is
# installed: it comes only with the whole Prometheus server (Debian
# package prometheus, 96 MB installed), too much for CI, where the unit
# tests run promlint, the linter promtool runs, over populated registries.
promtool_check() {
	if ! command -v promtool >/dev/null; then
		echo "promtool not installed: go test's promlint covers these checks"
		return 0
	fi
	local f rc=0
	for f in fixtures/web/prometheus-*.golden.txt; do
		echo "promtool check metrics < $f"
		promtool check metrics <"$f" || rc=1
	done
	return "$rc"
}

step "gofmt" gofmt_clean
step "go vet" go vet ./...
step "import boundaries" scripts/check-imports.sh
step "CGO_ENABLED=0 build" env CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/netmon
step "unit tests (-race)" go test -race -count=1 -timeout 15m ./...
step "promtool check metrics" promtool_check
step "fuzz ($fuzztime per target)" fuzz_all
step "benchmarks (1x)" go test -run='^$' -bench=. -benchtime=1x ./...
# The performance table's smoke run (about 40 s): keeps scripts/bench.sh
# working; its PASS/MISS verdicts are for reading, not a gate, since CI
# machines are shared. The full table: scripts/bench.sh (README, Performance).
step "bench table (--quick)" skippable "bench table" scripts/bench.sh --quick
if [ -x scripts/e2e.sh ]; then
	step "router lab e2e" skippable "router lab e2e" scripts/e2e.sh
fi
if [ -x scripts/e2e-events.sh ]; then
	step "router lab e2e: end-of-flow events" skippable "end-of-flow e2e" scripts/e2e-events.sh
fi
if [ -x scripts/e2e-rates.sh ]; then
	step "router lab e2e: rates" skippable "rates e2e" scripts/e2e-rates.sh
fi
if [ -x scripts/e2e-alerts.sh ]; then
	step "router lab e2e: alerts" skippable "alerts e2e" scripts/e2e-alerts.sh
fi
if [ -x scripts/package-check.sh ]; then
	step "deb package" skippable "deb package check" scripts/package-check.sh
fi

echo
if [ "$failed" -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
