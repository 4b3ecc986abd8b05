#!/usr/bin/env bash
# scripts/package-check.sh: build the netmon .deb from deploy/nfpm.yaml (the
# source of truth for the package contents) with a pinned nfpm, then check the
# package's whole life on this machine: install, run, upgrade keeping an
# edited config, remove, purge; lintian must report no error and no
# warning. Then the OpenWrt .ipk for amd64, arm64 and arm v7 (cross-built),
# checked structurally. Fast enough for every CI run (~1 min cold, ~2 more
# for the two cross builds).
#
#   scripts/package-check.sh                          build with nfpm, check
#   scripts/package-check.sh --deb FILE --version V   check a .deb built elsewhere
#                                                     (scripts/release-check.sh)
#
# Needs root on Debian: it installs and purges the package named netmon, and,
# like the package, sets net.netfilter.nf_conntrack_acct=1 (the old value is
# restored at the end). It refuses to run where netmon is already installed.
# Exit status: 0 all checks passed, 1 a check failed, 2 bad usage, 77 cannot
# run here (not root, not Debian, netmon already installed): a skip for
# scripts/test.sh.
set -euo pipefail

nfpm_module=github.com/goreleaser/nfpm/v2
nfpm_version=v2.45.2
fixture=fixtures/replay/00.txt
acct=/proc/sys/net/netfilter/nf_conntrack_acct

repo=$(cd "$(dirname "$0")/.." && pwd)
work=""
installed_conntrack=no
acct_before=""

say() { printf 'package-check: %s\n' "$*"; }
fail() {
	say "FAIL: $*" >&2
	exit 1
}
cannot() {
	say "cannot run here: $*" >&2
	exit 77
}

usage() {
	sed -n '7,9s/^# //p' "$0" >&2
	exit 2
}

deb=""
want_version=""
while [ $# -gt 0 ]; do
	case "$1" in
	--deb) deb=${2:?--deb needs a file} && shift 2 ;;
	--version) want_version=${2:?--version needs a value} && shift 2 ;;
	*) usage ;;
	esac
done
if [ -n "$deb" ] && [ -z "$want_version" ]; then usage; fi

[ "$(id -u)" = 0 ] || cannot "needs root (it installs and purges the netmon package)"
if [ ! -f /etc/debian_version ] || ! command -v dpkg >/dev/null; then cannot "needs Debian (dpkg)"; fi
if dpkg-query -W -f='${Status}' netmon 2>/dev/null | grep -q 'install ok\|config-files'; then
	cannot "a netmon package is installed; this check would replace and purge it"
fi
getent passwd netmon >/dev/null && cannot "a user netmon exists; purging the package would delete it"
[ -e /usr/bin/netmon ] && cannot "/usr/bin/netmon exists outside a package"
[ -e /etc/netmon ] && cannot "/etc/netmon exists outside a package"
[ -e /var/lib/netmon ] && cannot "/var/lib/netmon exists outside a package"

cleanup() {
	local rc=$?
	if dpkg-query -W -f='${Status}' netmon 2>/dev/null | grep -q 'install ok\|config-files'; then
		dpkg --purge netmon >/dev/null 2>&1 || true
	fi
	if [ "$installed_conntrack" = yes ]; then
		apt-get purge -y -qq --autoremove conntrack >/dev/null 2>&1 || true
	fi
	if [ -n "$acct_before" ] && [ -w "$acct" ]; then
		(echo "$acct_before" >"$acct") 2>/dev/null || true
	fi
	if [ -n "$work" ]; then rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
work=$(mktemp -d)
chmod 0755 "$work" # the netmon user reads the replay fixture from here

# build VERSION: compile netmon with VERSION stamped and package it with nfpm
# into $work/VERSION/. Prints the .deb path.
build() {
	local version=$1 out="$work/$1"
	mkdir -p "$out"
	CGO_ENABLED=0 go build -trimpath -o "$out/netmon" \
		-ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" ./cmd/netmon
	# The man pages and completions deploy/nfpm.yaml takes from build/docs.
	rm -rf build/docs
	"$out/netmon" gen-docs build/docs
	NETMON_BINARY="$out/netmon" NETMON_VERSION="$version" GOARCH=$(go env GOARCH) \
		"$nfpm" pkg --config deploy/nfpm.yaml --packager deb --target "$out/" >/dev/null
	ls "$out"/*.deb
}

# check_lintian DEB: lintian (Debian's package checker) reports no error
# and no warning; informational tags are printed, not counted.
check_lintian() {
	local out
	command -v lintian >/dev/null || fail "lintian is not installed (apt-get install lintian)"
	# lintian exits 2 on errors; the tags are checked below either way.
	out=$(lintian --tag-display-limit 0 "$1" 2>&1 | grep -v 'running with root privileges' || true)
	if grep -q '^[EW]: ' <<<"$out"; then
		printf '%s\n' "$out" >&2
		fail "lintian reports errors or warnings on $(basename "$1")"
	fi
	say "lintian: no errors, no warnings on $(basename "$1")"
}

# check_ipk GOARCH IPK_ARCH: cross-build netmon for GOARCH (arm: v7),
# package it as an OpenWrt .ipk and check what opkg would read: the three
# members, the control fields, the conffiles, the binary's architecture,
# the procd init script.
check_ipk() {
	local goarch=$1 arch=$2 dir="$work/ipk-$1" ipk name f members
	mkdir -p "$dir/x"
	CGO_ENABLED=0 GOARCH=$goarch GOARM=7 go build -trimpath -o "$dir/netmon" \
		-ldflags "-s -w -X main.version=$v1 -X main.commit=$commit -X main.date=$date" ./cmd/netmon
	NETMON_BINARY="$dir/netmon" NETMON_VERSION="$v1" IPK_ARCH=$arch \
		"$nfpm" pkg --config deploy/openwrt/nfpm.yaml --packager ipk --target "$dir/" >/dev/null ||
		fail "nfpm cannot build the $arch ipk"
	ipk=$(ls "$dir"/*.ipk)
	name=$(basename "$ipk")
	members=$(tar -tzf "$ipk" | sed 's|^\./||' | sort | xargs)
	[ "$members" = "control.tar.gz data.tar.gz debian-binary" ] || fail "$name: members are $members"
	tar -xzf "$ipk" -C "$dir/x"
	[ "$(cat "$dir/x/debian-binary")" = 2.0 ] || fail "$name: debian-binary is not 2.0"
	tar -xzf "$dir/x/control.tar.gz" -C "$dir/x"
	for f in "Package: netmon" "Architecture: $arch" "Depends: conntrack"; do
		grep -qxF "$f" "$dir/x/control" || fail "$name: control lacks '$f'"
	done
	grep -qx /etc/netmon/netmon.yaml "$dir/x/conffiles" || fail "$name: the config is not a conffile"
	sh -n "$dir/x/postinst" || fail "$name: postinst is not valid sh"
	tar -xzf "$dir/x/data.tar.gz" -C "$dir/x"
	for f in usr/bin/netmon etc/init.d/netmon; do
		[ -x "$dir/x/$f" ] || fail "$name: /$f missing or not executable"
	done
	for f in etc/netmon/netmon.yaml etc/sysctl.d/90-netmon.conf; do
		[ -f "$dir/x/$f" ] || fail "$name: /$f missing"
	done
	go version -m "$dir/x/usr/bin/netmon" | grep -q "GOARCH=$goarch\$" ||
		fail "$name: /usr/bin/netmon is not a $goarch binary"
	head -1 "$dir/x/etc/init.d/netmon" | grep -qxF '#!/bin/sh /etc/rc.common' || fail "$name: init script is not an rc.common script"
	grep -qx 'USE_PROCD=1' "$dir/x/etc/init.d/netmon" || fail "$name: init script does not use procd"
	grep -qF 'procd_set_param command "$PROG" serve --config "$CONF"' "$dir/x/etc/init.d/netmon" ||
		fail "$name: init script does not run netmon serve with the config"
	say "$name: members, control, conffiles, $goarch binary, procd init script"
}

# check_rpm VERSION: the same definition makes an .rpm; with rpm(8) at hand,
# its dependency and config file are checked too (it is not installed here).
check_rpm() {
	local rpm
	NETMON_BINARY="$work/$1/netmon" NETMON_VERSION="$1" GOARCH=$(go env GOARCH) \
		"$nfpm" pkg --config deploy/nfpm.yaml --packager rpm --target "$work/$1/" >/dev/null ||
		fail "nfpm cannot build the rpm"
	rpm=$(ls "$work/$1"/*.rpm)
	if command -v rpm >/dev/null; then
		rpm -qpR "$rpm" 2>/dev/null | grep -qx 'conntrack-tools' || fail "rpm does not require conntrack-tools"
		rpm -qpc "$rpm" 2>/dev/null | grep -qx '/etc/netmon/netmon.yaml' || fail "rpm lacks the config file"
		say "built and inspected $(basename "$rpm")"
	else
		say "built $(basename "$rpm") (rpm(8) not installed: not inspected)"
	fi
}

# The files a .deb lays down, from its own listing (directories left out).
deb_files() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }'
}

# check_installed VERSION DEB: the package is installed and works.
check_installed() {
	local version=$1 deb=$2 out f owner
	dpkg-query -W -f='${Status}' netmon | grep -q 'install ok installed' || fail "netmon not installed"

	out=$(/usr/bin/netmon --version) || fail "/usr/bin/netmon --version exited $?"
	case "$out" in *"$version"*) ;; *) fail "--version says '$out', want $version" ;; esac
	say "netmon --version: $out"

	for f in /usr/bin/netmon /etc/netmon/netmon.yaml \
		/usr/lib/systemd/system/netmon-ingest.service /usr/lib/systemd/system/netmon-web.service \
		/usr/lib/systemd/system/netmon.service /usr/lib/sysctl.d/90-netmon.conf \
		/usr/lib/modules-load.d/netmon.conf; do
		[ -f "$f" ] || fail "$f missing"
	done
	while read -r f; do
		[ -e "$f" ] || fail "$f is in the package but not on disk"
	done < <(deb_files "$deb")
	[ -x /usr/bin/netmon ] || fail "/usr/bin/netmon not executable"
	dpkg-query -W -f='${Conffiles}' netmon | grep -q '^ /etc/netmon/netmon.yaml ' ||
		fail "/etc/netmon/netmon.yaml is not a conffile"
	grep -qx 'net.netfilter.nf_conntrack_acct = 1' /usr/lib/sysctl.d/90-netmon.conf ||
		fail "sysctl file does not set nf_conntrack_acct"
	for f in /usr/share/man/man1/netmon.1.gz /usr/share/man/man1/netmon-serve.1.gz /usr/share/man/man1/netmon-passwd.1.gz \
		/usr/share/bash-completion/completions/netmon /usr/share/zsh/vendor-completions/_netmon \
		/usr/share/fish/vendor_completions.d/netmon.fish /usr/share/doc/netmon/copyright \
		/usr/share/doc/netmon/changelog.Debian.gz; do
		[ -f "$f" ] || fail "$f missing"
	done
	zcat /usr/share/man/man1/netmon-serve.1.gz | grep -q '^\.TH "NETMON-SERVE" "1"' || fail "netmon-serve(1) is not a man page"
	# The units read every setting from the YAML: no --bind, no --db.
	if grep -q -e '--bind' -e '--db' /usr/lib/systemd/system/netmon*.service; then
		fail "a unit sets --bind or --db itself"
	fi

	getent group netmon >/dev/null || fail "group netmon missing"
	IFS=: read -r _ _ uid gid _ home shell < <(getent passwd netmon) || fail "user netmon missing"
	[ "$uid" -lt 1000 ] || fail "user netmon has uid $uid, not a system user"
	[ "$gid" = "$(getent group netmon | cut -d: -f3)" ] || fail "user netmon not in group netmon"
	[ "$home" = /var/lib/netmon ] || fail "user netmon home is $home"
	case "$shell" in */nologin) ;; *) fail "user netmon has shell $shell" ;; esac
	owner=$(stat -c '%U:%G %a' /var/lib/netmon) || fail "/var/lib/netmon missing"
	[ "$owner" = "netmon:netmon 750" ] || fail "/var/lib/netmon is $owner, want netmon:netmon 750"

	if command -v systemd-analyze >/dev/null; then
		systemd-analyze verify /usr/lib/systemd/system/netmon-ingest.service \
			/usr/lib/systemd/system/netmon-web.service /usr/lib/systemd/system/netmon.service ||
			fail "systemd-analyze verify rejects the installed units"
	else
		say "systemd-analyze not installed: units not verified"
	fi

	# Each unit's command line, with --help added: netmon must accept every
	# subcommand and flag the unit passes (cobra rejects an unknown one).
	for f in /usr/lib/systemd/system/netmon*.service; do
		# shellcheck disable=SC2046 # ExecStart= is split into words as systemd does
		setpriv --reuid=netmon --regid=netmon --init-groups \
			$(sed -n 's/^ExecStart=//p' "$f") --help >/dev/null ||
			fail "$(basename "$f"): netmon rejects its ExecStart= command line"
	done

	# Run it the way the units do, as the netmon user with the packaged
	# config, on a replayed table: the config loads and the state directory
	# is writable for that user.
	setpriv --reuid=netmon --regid=netmon --init-groups \
		/usr/bin/netmon ingest-once --config /etc/netmon/netmon.yaml \
		--db /var/lib/netmon/netmon.db --input-file "$work/replay.txt" >/dev/null ||
		fail "netmon ingest-once as user netmon with the packaged config failed"
	[ "$(stat -c %U /var/lib/netmon/netmon.db)" = netmon ] || fail "database not owned by netmon"

	check_capabilities
}

# check_capabilities: with exactly the ambient capabilities the installed
# ingest unit grants, and no_new_privs as in the unit, the netmon user can
# read the live conntrack table (conntrack inherits them from netmon), and
# cannot without them. Needs a kernel conntrack table, as on a router.
check_capabilities() {
	local caps c capset=""
	if ! conntrack -L >/dev/null 2>&1; then
		say "conntrack -L fails even as root here: unit capabilities not exercised"
		return
	fi
	caps=$(sed -n 's/^AmbientCapabilities=//p' /usr/lib/systemd/system/netmon-ingest.service)
	for c in $caps; do
		c=${c#CAP_}
		capset="$capset,+${c,,}"
	done
	capset=${capset#,}
	[ -n "$capset" ] || fail "netmon-ingest.service grants no ambient capability"
	if setpriv --reuid=netmon --regid=netmon --init-groups --no-new-privs \
		conntrack -L >/dev/null 2>&1; then
		fail "conntrack -L works as netmon without capabilities: this check proves nothing here"
	fi
	setpriv --reuid=netmon --regid=netmon --init-groups --no-new-privs \
		--inh-caps="$capset" --ambient-caps="$capset" --bounding-set="-all,$capset" \
		/usr/bin/netmon ingest-once --config /etc/netmon/netmon.yaml \
		--db /var/lib/netmon/netmon.db >/dev/null ||
		fail "netmon ingest-once on the live table as netmon with $caps failed"
	say "live table read as netmon with $caps (ambient) and no_new_privs"
}

# check_removed DEB: the package's own files are gone.
check_removed() {
	local f
	while read -r f; do
		case "$f" in /etc/*) continue ;; esac
		[ ! -e "$f" ] || fail "$f left behind after removal"
	done < <(deb_files "$1")
}

# check_purged DEB: nothing of the package, its data or its user is left.
check_purged() {
	local f
	dpkg-query -W -f='${Status}' netmon 2>/dev/null | grep -q 'install ok\|config-files' &&
		fail "dpkg still knows netmon after purge"
	while read -r f; do
		[ ! -e "$f" ] || fail "$f left behind after purge"
	done < <(deb_files "$1")
	for f in /etc/netmon /var/lib/netmon; do
		[ ! -e "$f" ] || fail "$f left behind after purge"
	done
	! getent passwd netmon >/dev/null || fail "user netmon left behind after purge"
	! getent group netmon >/dev/null || fail "group netmon left behind after purge"
}

cd "$repo"
install -m 0644 "$fixture" "$work/replay.txt"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [ -z "$deb" ]; then
	command -v go >/dev/null || cannot "needs Go to build netmon"
	nfpm="$(go env GOPATH)/bin/nfpm"
	if ! go version -m "$nfpm" 2>/dev/null | grep -q "mod[[:space:]]*${nfpm_module}[[:space:]]*${nfpm_version}"; then
		say "installing nfpm $nfpm_version"
		GOBIN="$(dirname "$nfpm")" go install "$nfpm_module/cmd/nfpm@$nfpm_version"
	fi
	v1=0.0.1-pkgcheck
	v2=0.0.2-pkgcheck
	deb1=$(build "$v1")
	deb2=$(build "$v2")
	say "built $(basename "$deb1") and $(basename "$deb2") with nfpm $nfpm_version"
	check_lintian "$deb1"
	check_rpm "$v1"
	for a in amd64:x86_64 arm64:aarch64_generic arm:arm_cortex-a7; do
		check_ipk "${a%%:*}" "${a#*:}"
	done
else
	[ -f "$deb" ] || fail "$deb: no such file"
	check_lintian "$deb"
	v1=$want_version
	deb1=$deb
	deb2=""
fi

dpkg-deb -f "$deb1" Depends | grep -qw conntrack || fail "package does not depend on conntrack"
if ! dpkg-query -W -f='${Status}' conntrack 2>/dev/null | grep -q 'install ok installed'; then
	say "installing the conntrack dependency (removed again at the end)"
	apt-get install -y -qq --no-install-recommends conntrack >/dev/null
	installed_conntrack=yes
fi
if [ -e "$acct" ]; then acct_before=$(cat "$acct"); fi

say "install $(basename "$deb1")"
dpkg -i "$deb1" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i $deb1"; }
check_installed "$v1" "$deb1"
if [ -n "$acct_before" ] && [ -w "$acct" ]; then
	[ "$(cat "$acct")" = 1 ] || fail "postinstall did not set nf_conntrack_acct=1"
fi

if [ -n "$deb2" ]; then
	say "upgrade to $(basename "$deb2") with an edited config"
	echo "# edited by package-check" >>/etc/netmon/netmon.yaml
	uid=$(id -u netmon)
	dpkg -i "$deb2" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i $deb2"; }
	check_installed "$v2" "$deb2"
	grep -q '^# edited by package-check$' /etc/netmon/netmon.yaml || fail "upgrade overwrote the edited config"
	[ "$(id -u netmon)" = "$uid" ] || fail "upgrade changed the uid of netmon"
	deb1=$deb2
fi

say "remove"
dpkg --remove netmon >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --remove"; }
check_removed "$deb1"
[ -f /etc/netmon/netmon.yaml ] || fail "remove deleted the config"
[ -f /var/lib/netmon/netmon.db ] || fail "remove deleted the database"
getent passwd netmon >/dev/null || fail "remove deleted the user"

say "purge"
dpkg --purge netmon >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
check_purged "$deb1"

say "ok: install, run, $([ -n "$deb2" ] && echo 'upgrade, ')remove and purge all checked"
