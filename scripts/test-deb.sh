#!/usr/bin/env bash
# Installs the Debian package given as $1 on this machine (as root), checks
# what it installed and that `vpcflow check` runs from it, then removes it.
# Run by .ci/run after scripts/package-deb.sh.
set -euo pipefail
deb="$(realpath "$1")"
fail() { echo "error: $*" >&2; exit 1; }

echo "== package contents"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb" | awk '{print $6}'
depends="$(dpkg-deb --field "$deb" Depends)"
case "$depends" in *libpcap*) ;; *) fail "Depends lacks libpcap: $depends" ;; esac

# A /var/lib/vpcflow made before the package by `vpcflow run` as root (the
# state folder's default for root), with its journal folder: the package must
# give it to the service user, or the service could not write its journal.
if [ ! -e /var/lib/vpcflow ]; then
    install -d -m 0755 /var/lib/vpcflow/journal
    touch /var/lib/vpcflow/journal/lock
fi

echo "== install"
DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive apt-get purge -y vpcflow >/dev/null 2>&1 || true' EXIT

[ "$(command -v vpcflow)" = /usr/bin/vpcflow ] || fail "vpcflow is not /usr/bin/vpcflow"
vpcflow --version
getent passwd vpcflow >/dev/null || fail "no vpcflow system user"
[ "$(id -u vpcflow)" -lt 1000 ] || fail "vpcflow is not a system user"
[ "$(stat -c %U /var/lib/vpcflow)" = vpcflow ] || fail "/var/lib/vpcflow is not owned by vpcflow"
left="$(find /var/lib/vpcflow ! -user vpcflow | head -3)"
[ -z "$left" ] || fail "not given to the vpcflow user: $left"
for f in /etc/vpcflow/vpcflow.toml /lib/systemd/system/vpcflow.service \
    /usr/share/man/man1/vpcflow.1.gz /usr/share/bash-completion/completions/vpcflow \
    /usr/share/zsh/vendor-completions/_vpcflow /usr/share/fish/vendor_completions.d/vpcflow.fish \
    /usr/share/doc/vpcflow/copyright /usr/share/doc/vpcflow/README.md; do
    [ -f "$f" ] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/bin/vpcflow run --config /etc/vpcflow/vpcflow.toml --log-style json' \
    /lib/systemd/system/vpcflow.service || fail "the unit does not start /usr/bin/vpcflow"
grep -qx 'User=vpcflow' /lib/systemd/system/vpcflow.service || fail "the unit does not run as vpcflow"
dpkg-query -W -f='${Conffiles}\n' vpcflow | grep -q /etc/vpcflow/vpcflow.toml \
    || fail "/etc/vpcflow/vpcflow.toml is not a conffile"
zcat /usr/share/man/man1/vpcflow.1.gz | grep -q '^\.TH vpcflow' || fail "man page"
bash -n /usr/share/bash-completion/completions/vpcflow || fail "bash completion"
if command -v systemd-analyze >/dev/null 2>&1; then
    out="$(systemd-analyze verify /lib/systemd/system/vpcflow.service 2>&1 || true)"
    if printf '%s\n' "$out" | grep -q 'vpcflow.service'; then
        fail "systemd-analyze verify: $out"
    fi
fi

echo "== vpcflow check from the package: as root (what ExecStartPre runs, with"
echo "   the start-up checks), and the configuration as the service user"
vpcflow check --config /etc/vpcflow/vpcflow.toml
runuser -u vpcflow -- /usr/bin/vpcflow check --config-only --config /etc/vpcflow/vpcflow.toml >/dev/null
echo "== the start-up checks as the service user, in its state folder"
runuser -u vpcflow -- env STATE_DIRECTORY=/var/lib/vpcflow \
    /usr/bin/vpcflow check --config /etc/vpcflow/vpcflow.toml >/dev/null

echo "== remove and purge: the data folder stays"
DEBIAN_FRONTEND=noninteractive apt-get purge -y vpcflow >/dev/null
trap - EXIT
[ ! -e /usr/bin/vpcflow ] || fail "/usr/bin/vpcflow left after purge"
[ ! -e /etc/vpcflow/vpcflow.toml ] || fail "conffile left after purge"
[ -d /var/lib/vpcflow ] || fail "/var/lib/vpcflow was removed"
echo "ok: $deb installs, runs and purges"
