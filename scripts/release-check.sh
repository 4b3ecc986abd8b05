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
say "ok"
