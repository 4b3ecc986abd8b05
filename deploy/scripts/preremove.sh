#!/bin/sh
# netmon pre-removal for rpm (%preun): `0` on erase, `1` on upgrade. On
# upgrade the units keep running and the new package's postinstall
# restarts them. The .deb's is deploy/scripts/deb/prerm.
set -e

units="netmon-ingest.service netmon-web.service netmon.service"

case "$1" in
0)
	if [ -d /run/systemd/system ]; then
		# shellcheck disable=SC2086 # $units is a list of unit names
		systemctl stop $units >/dev/null 2>&1 || true
	fi
	# disable works without a running systemd: it only removes symlinks.
	if command -v systemctl >/dev/null 2>&1; then
		# shellcheck disable=SC2086
		systemctl disable $units >/dev/null 2>&1 || true
	fi
	;;
esac
