#!/bin/sh
# Second stage of the lab guest, on the overlay root: finish the mounts dockerd needs, run the job with its
# output copied to the console and to the job share, record the exit status, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
hostname cantainer-lab
ip link set lo up
echo "CANTAINER_LAB_READY $(cut -d' ' -f1 /proc/uptime)"
{ sh /run/lab/job.sh; echo $? > /run/lab/status; } 2>&1 | tee /run/lab/output
sync
echo o > /proc/sysrq-trigger
sleep 30 2>/dev/null
