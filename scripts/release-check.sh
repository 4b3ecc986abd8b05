#!/usr/bin/env bash
# scripts/release-check.sh: run the whole release with a pinned goreleaser,
# without publishing anything, and check what it made: `goreleaser check`,
# `goreleaser release --snapshot --clean` into dist/, the checksums, the
# archives, the three static binaries and their stamped version, then the
# amd64 .deb installed, run, removed and purged by scripts/package-check.sh.
#
# Slow: the first `go install` of goreleaser takes about 9 minutes and 2 GB,
# so CI runs scripts/package-check.sh instead. Needs Go, and root on Debian
# for the install step. Exit status: 0 ok, 1 a check failed, 77 cannot run here.
set -euo pipefail

goreleaser_module=github.com/goreleaser/goreleaser/v2
goreleaser_version=v2.15.1

repo=$(cd "$(dirname "$0")/.." && pwd)

say() { printf 'release-check: %s\n' "$*"; }
fail() {
	say "FAIL: $*" >&2
	exit 1
}
cannot() {
	say "cannot run here: $*" >&2
	exit 77
}

command -v go >/dev/null || cannot "needs Go"
# Fail before the long install, not after it.
[ "$(id -u)" = 0 ] || cannot "needs root (the .deb is installed and purged)"
if [ ! -f /etc/debian_version ] || ! command -v dpkg >/dev/null; then cannot "needs Debian (dpkg)"; fi

cd "$repo"
goreleaser="$(go env GOPATH)/bin/goreleaser"
if ! go version -m "$goreleaser" 2>/dev/null | grep -q "mod[[:space:]]*${goreleaser_module}[[:space:]]*${goreleaser_version}"; then
	say "installing goreleaser $goreleaser_version (a cold install takes about 9 minutes)"
	GOBIN="$(dirname "$goreleaser")" go install "$goreleaser_module@$goreleaser_version"
fi

"$goreleaser" check || fail "goreleaser check"
"$goreleaser" release --snapshot --clean || fail "goreleaser release --snapshot"

version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' dist/metadata.json)
[ -n "$version" ] || fail "no version in dist/metadata.json"
commit=$(sed -n 's/.*"commit": *"\([^"]*\)".*/\1/p' dist/metadata.json)
say "snapshot version $version, commit $commit"
if [ "$commit" = none ]; then
	say "commit is 'none': goreleaser reads no git state in a clone without a remote"
fi

(cd dist && sha256sum --quiet -c checksums.txt) || fail "checksums.txt does not match dist/"

# Each binary: static, trimmed, for its architecture, with the version stamped.
for arch in amd64 arm64 arm; do
	bins=(dist/netmon_linux_"$arch"_*/netmon)
	if [ ${#bins[@]} != 1 ] || [ ! -f "${bins[0]}" ]; then fail "want one $arch binary, got: ${bins[*]}"; fi
	info=$(go version -m "${bins[0]}")
	for want in "GOARCH=$arch" "CGO_ENABLED=0" "-trimpath=true"; do
		grep -qF -- "$want" <<<"$info" || fail "${bins[0]}: build info lacks $want"
	done
	if [ "$arch" = arm ]; then grep -qF "GOARM=7" <<<"$info" || fail "${bins[0]}: not GOARM=7"; fi
	# -trimpath keeps -ldflags out of the build info: look for the stamped
	# string itself (only the amd64 one can be run, by package-check.sh).
	grep -qF -- "$version" "${bins[0]}" || fail "${bins[0]}: version $version not stamped"
	grep -qF -- "$commit" "${bins[0]}" || fail "${bins[0]}: commit $commit not stamped"
done

# Each archive: the binary and the files a router install needs.
archives=(dist/netmon_"$version"_linux_*.tar.gz)
[ ${#archives[@]} = 3 ] || fail "want 3 archives, got ${#archives[@]}"
for a in "${archives[@]}"; do
	listing=$(tar -tzf "$a")
	for f in netmon README.md LICENSE configs/netmon.yaml deploy/README.md deploy/nfpm.yaml \
		deploy/systemd/netmon-ingest.service deploy/systemd/netmon-web.service \
		deploy/systemd/netmon.service deploy/sysctl/90-netmon.conf; do
		grep -qx "$f" <<<"$listing" || fail "$a lacks $f"
	done
done

# Packages: a .deb and an .rpm per architecture.
for arch in amd64 arm64 armhf; do
	debs=(dist/netmon_*_"$arch".deb)
	[ -f "${debs[0]}" ] || fail "no $arch .deb"
	[ "$(dpkg-deb -f "${debs[0]}" Architecture)" = "$arch" ] || fail "${debs[0]}: wrong Architecture"
done
for arch in x86_64 aarch64 armv7hl; do
	rpms=(dist/netmon-*."$arch".rpm)
	[ -f "${rpms[0]}" ] || fail "no $arch .rpm"
done
say "dist/ holds 3 binaries, 3 archives, 3 .deb, 3 .rpm and matching checksums"

deb=(dist/netmon_*_amd64.deb)
scripts/package-check.sh --deb "${deb[0]}" --version "$version"

# inside_check prints the script run inside the container: the package's
# life under systemd, with the packaged configuration as it is (it binds
# 127.0.0.1:8080 until the owner sets the LAN address).
inside_check() {
	cat <<'INSIDE'
#!/bin/sh
# shellcheck disable=SC2086 # $units is a list of unit names
set -eu
fail() { echo "boot-check: FAIL: $*" >&2; exit 1; }
say() { echo "boot-check: $*"; }
units="netmon-ingest.service netmon-web.service"
pids() { systemctl show -p MainPID --value $units | tr '\n' ' '; }
status() { grep "^$2:" "/proc/$(systemctl show -p MainPID --value "$1")/status" | cut -f2; }
http() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:8080/ || true; }
dpkg -i /root/netmon.deb >/dev/null || fail "dpkg -i"
systemctl enable --now $units 2>/dev/null
sleep 5
for u in $units; do
	[ "$(systemctl is-active "$u")" = active ] || { journalctl -u "$u" --no-pager | tail >&2; fail "$u not active"; }
	[ "$(systemctl show -p NRestarts --value "$u")" = 0 ] || fail "$u restarted"
done
[ "$(http)" = 200 ] || fail "dashboard did not answer 200"
[ "$(status netmon-ingest.service CapAmb)" = 0000000000001000 ] || fail "ingest: ambient caps are not CAP_NET_ADMIN alone"
[ "$(status netmon-web.service CapEff)" = 0000000000000000 ] || fail "web: has capabilities"
[ "$(status netmon-web.service NoNewPrivs)" = 1 ] || fail "web: no NoNewPrivs"
[ "$(stat -c '%U:%G' /var/lib/netmon/netmon.db)" = netmon:netmon ] || fail "database not owned by netmon"
say "both units active, conntrack read with CAP_NET_ADMIN only, dashboard answers"
systemd-analyze security --no-pager $units | grep Overall

before=$(pids)
dpkg -i /root/netmon.deb >/dev/null || fail "reinstall"
sleep 2
after=$(pids)
[ "$before" != "$after" ] || fail "upgrade did not restart the units ($before)"
[ "$(systemctl is-enabled $units | sort -u)" = enabled ] || fail "upgrade changed enablement"
say "upgrade restarted the running units"

before=$(pids)
systemctl reload netmon-web.service || fail "reload netmon-web"
sleep 2
[ "$(pids)" = "$before" ] || fail "reload changed a main PID (SIGHUP must restart in place)"
[ "$(http)" = 200 ] || fail "dashboard did not answer 200 after reload"
say "reload (SIGHUP) restarted the web server in place"

systemctl start netmon.service
sleep 3
[ "$(systemctl is-active netmon.service)" = active ] || fail "netmon.service not active"
for u in $units; do
	[ "$(systemctl is-active "$u")" = inactive ] || fail "netmon.service did not stop $u"
done
[ "$(http)" = 200 ] || fail "single unit: dashboard did not answer 200"
say "netmon.service runs alone and serves"

dpkg --purge netmon >/dev/null || fail "purge"
for u in $units netmon.service; do
	[ "$(systemctl is-active "$u")" != active ] || fail "$u still active after purge"
done
if ls /etc/systemd/system/*.wants/netmon* >/dev/null 2>&1; then fail "enablement links left"; fi
if getent passwd netmon >/dev/null; then fail "user netmon left"; fi
if [ -e /var/lib/netmon ] || [ -e /etc/netmon ]; then fail "data or config left"; fi
say "ok: install, start, upgrade, single unit and purge under systemd"
INSIDE
}

# boot_cleanup powers the container off (SIGTERM to systemd-nspawn) and
# deletes it.
boot_cleanup() {
	if [ -n "$nspawn" ]; then
		kill "$nspawn" 2>/dev/null || true
		wait "$nspawn" 2>/dev/null || true
		nspawn=""
	fi
	if [ -n "$boot_dir" ]; then rm -rf "$boot_dir"; fi
}

# The units under a real systemd: a Debian 12 container booted with
# systemd-nspawn, its own network namespace, the .deb installed in it.
boot_dir=""
nspawn=""
boot_check() {
	local pkg=$1 root pid1="" i
	apt-get install -y -qq --no-install-recommends debootstrap systemd-container >/dev/null ||
		fail "apt-get install debootstrap systemd-container"
	boot_dir=$(mktemp -d)
	root="$boot_dir/rootfs"
	trap boot_cleanup EXIT
	say "debootstrap a Debian 12 container (about 3 minutes)"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,conntrack,curl \
		bookworm "$root" http://deb.debian.org/debian >"$boot_dir/debootstrap.log" 2>&1 ||
		{ tail -5 "$boot_dir/debootstrap.log" >&2; fail "debootstrap"; }
	cp "$pkg" "$root/root/netmon.deb"
	inside_check >"$root/root/boot-check.sh"

	# --keep-unit --register=no: no systemd needed on this side.
	systemd-nspawn -D "$root" -b --private-network --keep-unit --register=no \
		-M netmon-check --console=passive >"$boot_dir/nspawn.log" 2>&1 &
	nspawn=$!
	for i in $(seq 60); do
		pid1=$(pgrep -P "$nspawn" || true)
		if [ -n "$pid1" ]; then
			case $(nsenter -t "$pid1" -a systemctl is-system-running --wait 2>/dev/null) in
			running | degraded) break ;;
			esac
		fi
		[ "$i" = 60 ] && { cat "$boot_dir/nspawn.log" >&2; fail "container did not boot"; }
		sleep 1
	done
	nsenter -t "$pid1" -a /bin/sh /root/boot-check.sh || fail "units under systemd (see above)"
	boot_cleanup
}
boot_check "${deb[0]}"
say "ok"
