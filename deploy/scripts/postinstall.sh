#!/bin/sh
# netmon post-install: deb postinst and rpm %post share this script.
# dpkg calls it as `configure <last configured version>` (empty on a first
# install); rpm as `1` on install and `2` on upgrade.
set -e

units="netmon-ingest.service netmon-web.service netmon.service"
statedir=/var/lib/netmon
acct=/proc/sys/net/netfilter/nf_conntrack_acct

case "$1" in
configure) if [ -n "$2" ]; then action=upgrade; else action=install; fi ;;
1) action=install ;;
2) action=upgrade ;;
*) exit 0 ;; # dpkg abort-upgrade, abort-remove, abort-deconfigure
esac

# The system user that runs both units and owns the database. groupadd and
# useradd exist on Debian and RPM systems alike, unlike adduser's options.
if ! getent group netmon >/dev/null; then
	groupadd --system netmon
fi
if ! getent passwd netmon >/dev/null; then
	useradd --system --gid netmon --home-dir "$statedir" --no-create-home \
		--shell /usr/sbin/nologin --comment "netmon traffic monitor" netmon
fi
# systemd's StateDirectory= would create it too; doing it here lets
# `sudo -u netmon netmon ...` work without systemd.
install -d -o netmon -g netmon -m 0750 "$statedir"

# Turn flow accounting on now, as /usr/lib/sysctl.d/90-netmon.conf does at
# every boot, unless the administrator overrides that file in /etc.
if [ "$action" = install ] && [ ! -e /etc/sysctl.d/90-netmon.conf ]; then
	if [ ! -e "$acct" ] && command -v modprobe >/dev/null 2>&1; then
		modprobe nf_conntrack 2>/dev/null || true
	fi
	if [ -e "$acct" ] && [ "$(cat "$acct")" != 1 ]; then
		if (echo 1 >"$acct") 2>/dev/null; then
			echo "netmon: set net.netfilter.nf_conntrack_acct=1; flows opened before now have no byte counters"
		else
			echo "netmon: could not set net.netfilter.nf_conntrack_acct=1; it applies at the next boot" >&2
		fi
	fi
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if [ "$action" = upgrade ]; then
		# shellcheck disable=SC2086 # $units is a list of unit names
		systemctl try-restart $units >/dev/null 2>&1 || true
	fi
fi

if [ "$action" = install ]; then
	cat <<'MSG'
netmon is installed, not started. Check local_subnets in /etc/netmon/netmon.yaml
and the --bind address in netmon-web.service, then start it:
  systemctl enable --now netmon-ingest.service netmon-web.service
See /usr/share/doc/netmon/README.md.
MSG
fi
