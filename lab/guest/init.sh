#!/bin/busybox sh
# First stage of the lab guest, run from the initramfs as PID 1: load the drivers for 9p and overlayfs, build a
# root from the host's filesystem (read-only 9p) under a tmpfs overlay, mount the job share, switch into it.
# /tmp is left to the overlay (not a fresh tmpfs) so that a checkout under the host's /tmp stays visible.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in /modules/*.ko; do
  insmod "$module" 2>/dev/null || echo "lab-init: insmod $module failed"
done
kver=$(uname -r)
opts=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /lower /upper /newroot
mount -t 9p -o "$opts,ro" hostroot /lower || { echo "lab-init: cannot mount the host root"; echo o > /proc/sysrq-trigger; }
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot
# With another root for the guest (lab/roots.ts), this machine's root is shared beside it.
mkdir -p /newroot/host
mount -t 9p -o "$opts,ro" host /newroot/host 2>/dev/null || rmdir /newroot/host
mkdir -p "/newroot/lib/modules/$kver"
mount -t 9p -o "$opts,ro" modules "/newroot/lib/modules/$kver"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot/run/lab
mount -t 9p -o "$opts" job /newroot/run/lab
exec switch_root /newroot /bin/sh /run/lab/stage2.sh
