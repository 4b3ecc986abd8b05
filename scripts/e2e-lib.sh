# shellcheck shell=bash
# e2e-lib.sh: what the router-lab end-to-end scripts (scripts/e2e*.sh)
# share, so that each of them states only its scenario. Sourced, never
# run, after the script's own `set -Eeuo pipefail`:
#
#   skip_unless_lab REASON   exit 77 (skip), one line naming the script:
#                            REASON without root, or no `ip netns`
#   need_tools HINT TOOL...  exit 1 naming a missing TOOL and HINT
#   setup PREFIX [LOG...]    the work directory $tmp, LAB_ID (PREFIX and
#                            four hex digits: scripts run at the same
#                            time), $repo, $lab, $start, and the cleanup
#                            on exit: SIGTERM to every pid in $pids,
#                            `lab.sh down`, $tmp removed on success unless
#                            E2E_KEEP=1, kept on failure with the last
#                            lines of each LOG (globs under $tmp)
#   build NAME...            netmon (./cmd/netmon) or ./scripts/NAME into
#                            $tmp/NAME
#   check, fatal, say, finish  the PASS/FAIL count and the last line
#
# Each one exits with the status a caller of the script (scripts/test.sh,
# .ci/run) reads: 77 a skip, anything else non-zero a failure.

e2e_script=${0##*/}    # e2e-events.sh: the skip and tool lines
e2e_name=${e2e_script%.sh} # e2e-events: every other line, and the work directory
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab=$repo/scripts/lab.sh

skip_unless_lab() { # REASON
	if [[ $(id -u) -ne 0 ]]; then
		echo "$e2e_script: skipped: $1"
		exit 77
	fi
	if ! command -v ip >/dev/null 2>&1 || ! ip netns list >/dev/null 2>&1; then
		echo "$e2e_script: skipped: 'ip netns' is not available (apt install iproute2)"
		exit 77
	fi
}

need_tools() { # HINT TOOL...
	local hint=$1 tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "$e2e_script: $tool is missing ($hint)" >&2
			exit 1
		}
	done
}

setup() { # PREFIX [LOG...]
	tmp=$(mktemp -d "/tmp/netmon-$e2e_name.XXXXXX")
	LAB_ID=$1$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	export LAB_ID
	e2e_logs=("${@:2}")
	pids=()
	passed=0
	failed=0
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	start=$SECONDS
}

cleanup() {
	local rc=$? p pat f
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	"$lab" down >/dev/null 2>&1 || true
	if [[ $rc -eq 0 && -z ${E2E_KEEP:-} ]]; then
		rm -rf "$tmp"
		return
	fi
	if [[ $rc -ne 0 ]]; then
		# CI shows only this output: the logs that say why.
		for pat in "${e2e_logs[@]}"; do
			for f in "$tmp"/$pat; do
				[[ -s $f ]] || continue
				echo "--- ${f#"$tmp"/} (last 15 lines)"
				tail -n 15 "$f"
			done
		done
	fi
	echo "$e2e_name: work directory kept: $tmp"
}

# forget PID: a process of $pids the script has waited for itself, which
# cleanup must leave alone (its pid may be another process's by then).
forget() {
	local p rest=()
	for p in "${pids[@]}"; do
		[[ $p == "$1" ]] || rest+=("$p")
	done
	pids=("${rest[@]}")
}

# stop PID: SIGTERM to a process of $pids, wait for it and forget it;
# returns its exit status.
stop() {
	local rc=0
	kill -TERM "$1" && wait "$1" || rc=$?
	forget "$1"
	return "$rc"
}

build() { # NAME...
	(
		cd "$repo"
		local name
		for name in "$@"; do
			if [[ $name == netmon ]]; then
				go build -o "$tmp/$name" ./cmd/netmon || exit
			else
				go build -o "$tmp/$name" "./scripts/$name" || exit
			fi
		done
	) || {
		say "FAIL build"
		exit 1
	}
}

say() { echo "$e2e_name: $*"; }

# check NAME CMD...: run one check, count it, go on either way.
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		say "PASS $name"
	else
		failed=$((failed + 1))
		say "FAIL $name"
	fi
}

# fatal NAME CMD...: a step later checks depend on; stop if it fails.
fatal() {
	local name=$1
	shift
	if ! "$@"; then
		say "FAIL $name (cannot go on)"
		exit 1
	fi
}

quiet() { "$@" >/dev/null; }
rtr() { ip netns exec "$LAB_RTR" "$@"; }

# lab_up: the lab up, its variables (LAB_RTR, LAB_MANIFEST, ...) in this
# shell; lab_traffic: its known traffic, from the labtraffic in $tmp.
lab_up() {
	fatal "lab up" quiet "$lab" up
	lab_env
}
lab_traffic() { fatal "lab traffic" quiet env LABTRAFFIC="$tmp/labtraffic" "$lab" traffic; }
# shellcheck disable=SC1090
lab_env() { source <("$lab" env); }

# The machine's own namespace as the lab must leave it: interface names,
# addresses and IPv4 routes (counters and IPv6 route lifetimes vary).
init_view() {
	ip -o link show | awk -F': ' '{print $2}' | sort
	ip -o addr show | awk '{print $2, $4}' | sort
	ip -4 route show
}
init_save() { init_view >"$tmp/init-before.txt"; }
init_untouched() {
	init_view >"$tmp/init-now.txt"
	diff -u "$tmp/init-before.txt" "$tmp/init-now.txt"
}

# finish: the time taken and the count; fails if any check did.
finish() {
	say "$((SECONDS - start)) s"
	echo "$e2e_name: $passed passed, $failed failed"
	[[ $failed -eq 0 ]]
}
