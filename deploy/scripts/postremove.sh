#!/bin/sh
# netmon post-removal: deb postrm and rpm %postun share this script.
# dpkg calls it as `remove`, then `purge` when purging; rpm as `0` on erase
# and `1` on upgrade. Only a deb purge deletes the database in
# /var/lib/netmon and the netmon user; remove and rpm erase keep both.
set -e

case "$1" in
purge)
	rm -rf /var/lib/netmon
	if getent passwd netmon >/dev/null; then
		userdel netmon || echo "netmon: could not delete user netmon" >&2
	fi
	if getent group netmon >/dev/null; then
		groupdel netmon || echo "netmon: could not delete group netmon" >&2
	fi
	;;
esac

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
esac
