"""What goes into a node image: baseline packages and the shell that shapes the rootfs.

This module is the recipe only; :mod:`lab.image` runs it and caches the result. The
image hash covers this file's text (:func:`fingerprint`), so any edit here rebuilds
images on next use; everything else in the lab can change without a rebuild.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RECIPE_VERSION = "1"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"

#: What makes a node a small machine the lab can drive: systemd as init, tools the
#: fabric/faults/checks call inside nodes (ip, nft, ping, tcpdump, ss, pgrep), and
#: /usr/bin/python3 for testinfra modules and probes.
BASELINE = [
    "systemd-sysv", "dbus", "libpam-systemd", "iproute2", "iputils-ping", "iputils-arping",
    "procps", "psmisc", "lsof", "nftables", "iptables", "tcpdump", "ethtool", "python3",
    "curl", "ca-certificates", "openssh-server", "less", "vim-tiny", "netbase", "strace",
]

#: Units masked because they slow boot, fail or mean nothing in a container.
MASKED_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
    "apt-daily-upgrade.service", "e2scrub_all.timer", "e2scrub_all.service",
    "e2scrub_reap.service", "fstrim.timer", "fstrim.service", "dpkg-db-backup.timer",
    "man-db.timer", "systemd-networkd-wait-online.service", "getty@.service",
    "systemd-pstore.service", "sys-kernel-config.mount", "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount", "systemd-journald-audit.socket",
    "systemd-hwdb-update.service", "ldconfig.service",
]

#: Wanted-by links left in place: they start nothing by themselves.
KEEP_ENABLED = {"remote-fs.target"}


def fingerprint() -> str:
    """Hash of this recipe's text plus its version: changes whenever the recipe does."""
    text = Path(__file__).read_bytes()
    return hashlib.sha256(RECIPE_VERSION.encode() + b"\0" + text).hexdigest()


def debootstrap_argv(suite: str, rootfs: Path, cache: Path) -> list[str]:
    """debootstrap in a private mount namespace: its /proc mounts die with it."""
    return ["unshare", "--mount", "--propagation", "private", "--",
            "debootstrap", "--variant=minbase", f"--cache-dir={cache}",
            suite, str(rootfs), MIRROR]


def install_script(suite: str, packages: list[str]) -> str:
    """apt sources, a policy-rc.d so postinsts start nothing, then the install."""
    sources = [f"deb {MIRROR} {suite} main"]
    if suite not in ("sid", "unstable"):
        sources += [f"deb {MIRROR} {suite}-updates main",
                    f"deb {SECURITY_MIRROR} {suite}-security main"]
    return INSTALL_SH.format(sources="\\n".join(sources), packages=" ".join(packages))


#: Runs on the host inside ``unshare --mount``: gives the chroot /proc, a private
#: /dev (the host's /dev may be odd; nodes get their own from LXC autodev anyway),
#: a tmpfs /run and /tmp (so nothing of the build lands in the image), and the shared
#: .deb cache as /var/cache/apt/archives (rebuilds download nothing twice).
#: $1 = rootfs, $2 = host .deb cache, $3 = the script to run inside.
CHROOT_SH = r"""
R=$1; A=$2; S=$3
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755,size=4m dev "$R/dev"
for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r n ma mi <<EOF
$spec
EOF
    mknod -m 666 "$R/dev/$n" c "$ma" "$mi"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm"
mount -t tmpfs -o mode=755 run "$R/run"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount --bind "$A" "$R/var/cache/apt/archives"
exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    HOME=/root DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    /bin/sh -euc "$S"
"""

INSTALL_SH = r"""
printf '#!/bin/sh\n# stacklab image build: postinsts start nothing\nexit 101\n' \
    > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
printf '{sources}\n' > /etc/apt/sources.list
printf 'Acquire::Retries "3";\nAPT::Install-Recommends "false";\n' \
    > /etc/apt/apt.conf.d/90stacklab
# Nodes need no docs, man pages or translations: skip unpacking them (faster, smaller).
for rule in 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
        'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
        'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias'; do
    echo "$rule"
done > /etc/dpkg/dpkg.cfg.d/90stacklab-nodoc
DPKG="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io"
apt-get update
apt-get -y $DPKG upgrade
apt-get -y $DPKG install --no-install-recommends {packages}
"""

def finish(rootfs: Path) -> None:
    """Host-side cleanup after the chroot steps (``apt-get clean`` cannot run inside:
    the shared .deb cache is bind-mounted over the image's archive dir there)."""
    cache = rootfs / "var/cache/apt"
    for junk in [*cache.glob("*.bin"), *cache.glob("archives/*.deb")]:
        junk.unlink()


def configure_script() -> str:
    """CONFIGURE_SH with the masked and kept unit lists filled in."""
    return (CONFIGURE_SH.replace("@MASKED@", " ".join(MASKED_UNITS))
            .replace("@KEEP@", " ".join(sorted(KEEP_ENABLED))))


#: Shape the installed tree into a node image. Prints "disabled UNIT" per unit.
CONFIGURE_SH = r"""
# Services start when the deployer asks, not at boot: drop every wants/requires link
# packages created (the Alias links such as mysql.service or sshd.service stay usable).
for link in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
    [ -L "$link" ] || continue
    unit=${link##*/}
    case " @KEEP@ " in *" $unit "*) continue ;; esac
    rm -f "$link"
    echo "disabled $unit"
done
rmdir /etc/systemd/system/*.wants /etc/systemd/system/*.requires 2>/dev/null || true
for unit in @MASKED@; do
    ln -sfn /dev/null "/etc/systemd/system/$unit"
done
# A persistent, small journal: nodes are inspected after faults.
mkdir -p /var/log/journal /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=persistent\nSystemMaxUse=32M\nRuntimeMaxUse=16M\n' \
    > /etc/systemd/journald.conf.d/stacklab.conf
# Identity is per node: systemd invents a machine-id at boot, LXC sets the hostname.
: > /etc/machine-id
mkdir -p /var/lib/dbus
ln -sfn /etc/machine-id /var/lib/dbus/machine-id
rm -f /etc/hostname
printf '# stacklab node: the lab writes name resolution into /etc/hosts\n' \
    > /etc/resolv.conf
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
# One ssh host key set per node, made when sshd first starts.
rm -f /etc/ssh/ssh_host_*
if [ -f /lib/systemd/system/ssh.service ]; then
    mkdir -p /etc/systemd/system/ssh.service.d
    printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
        > /etc/systemd/system/ssh.service.d/stacklab.conf
fi
rm -f /usr/sbin/policy-rc.d
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/cache/debconf/*-old
: > /var/log/dpkg.log
[ -x /usr/bin/python3 ]
"""
