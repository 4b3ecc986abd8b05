#!/bin/sh
# netmon post-install for rpm (%post): `1` on install, `2` on upgrade. The
# .deb has its own, deploy/scripts/deb/postinst, with deb-systemd-helper.
set -e

units="netmon-ingest.service netmon-web.service netmon.service"
statedir=/var/lib/netmon
acct=/proc/sys/net/netfilter/nf_conntrack_acct

case "$1" in
1) action=install ;;
2) action=upgrade ;;
*) exit 0 ;;
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
netmon is installed, not started. First:
  1. Edit /etc/netmon/netmon.yaml: set bind to the router's LAN address
     (it is 127.0.0.1:8080, this machine only), then local_subnets and
     monitor_interfaces.
  2. Set the dashboard's login password: netmon passwd
  3. Start it: systemctl enable --now netmon-ingest.service netmon-web.service
See /usr/share/doc/netmon/README.md and man netmon.
MSG
fi
