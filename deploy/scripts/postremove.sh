#!/bin/sh
# netmon post-removal for rpm (%postun): `0` on erase, `1` on upgrade. rpm
# has no purge: erase keeps /var/lib/netmon and the netmon user. The
# .deb's is deploy/scripts/deb/postrm.
set -e

if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
