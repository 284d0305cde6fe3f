#!/bin/sh
# Helpers for lab jobs that need several Docker engines, each as on its own host: `. lab/guest/swarm.sh`, then
# `lab_node_start N` (N = 1, 2, ...). A node has its own network namespace (address 10.77.0.N on a bridge in the
# VM), its own name (node1, ...), its own /run and /var/lib (a mount namespace, all mounts shared inside it as
# systemd makes them on a host),
# its own engine data, and its engine at /srv/nodeN/run/docker.sock: `lab_node_docker N ARGS...` runs the docker
# command line against it. `lab_node N COMMAND` runs a shell command inside the node's namespaces.

LAB_SWARM_NET=10.77.0
. lab/guest/docker.sh

# The node's namespaces are held by a sleeping process, so that its engine can stop and start again (a daemon
# restart) while its mounts, such as the bus namespaces a plugin pinned under its /run, stay.
lab_node_holder() {
  cat "/srv/node$1/holder.pid"
}

lab_node() {
  n=$1
  shift
  nsenter -t "$(lab_node_holder "$n")" -m -n -u -- sh -c "$*"
}

lab_node_docker() {
  n=$1
  shift
  DOCKER_HOST="unix:///srv/node$n/run/docker.sock" docker "$@"
}

# Makes the node's namespaces (once) and starts its engine; waits (at most 90 s) until the engine answers.
lab_node_start() {
  n=$1
  root=/srv/node$n
  if ! ip link show labswarm >/dev/null 2>&1; then
    ip link add labswarm type bridge && ip link set labswarm up
  fi
  # A dockerd of this host (an earlier test's) sets the FORWARD policy to DROP, and with br_netfilter loaded that
  # filters bridged frames too: the nodes could no longer reach each other. Frames between them are let through.
  if command -v iptables >/dev/null 2>&1; then
    iptables -C FORWARD -i labswarm -o labswarm -j ACCEPT 2>/dev/null || iptables -I FORWARD -i labswarm -o labswarm -j ACCEPT
  fi
  if ! ip netns list | grep -qw "node$n"; then
    ip netns add "node$n"
    ip link add "swarm$n" type veth peer name eth0 netns "node$n"
    ip link set "swarm$n" master labswarm up
    ip -n "node$n" addr add "$LAB_SWARM_NET.$n/24" dev eth0
    ip -n "node$n" link set eth0 up
    ip -n "node$n" link set lo up
  fi
  if [ ! -f "$root/holder.pid" ] || ! kill -0 "$(lab_node_holder "$n")" 2>/dev/null; then
    mkdir -p "$root"
    grep -q " $root " /proc/mounts || mount -t tmpfs -o size=1500m "node$n" "$root"
    mkdir -p "$root/run" "$root/var-lib" "$root/data"
    # sysfs again for the node's network namespace (its interfaces under /sys/class/net), and cgroups under it.
    nsenter --net="/run/netns/node$n" unshare --mount --uts --propagation private sh -c "
      hostname node$n && mount --bind $root/run /run && mount --bind $root/var-lib /var/lib &&
      umount -l /sys && mount -t sysfs sysfs /sys && mount -t cgroup2 cgroup2 /sys/fs/cgroup &&
      mount --make-rshared / && touch /run/node-ready && exec sleep 1000000" >"$root/holder.log" 2>&1 &
    echo $! >"$root/holder.pid"
    i=0
    while [ ! -f "$root/run/node-ready" ]; do
      i=$((i + 1))
      if [ "$i" -gt 100 ]; then echo "lab: node $n's namespaces were not made"; cat "$root/holder.log"; return 1; fi
      sleep 0.1
    done
  fi
  lab_node_docker "$n" info >/dev/null 2>&1 && return 0
  lab_node "$n" "dockerd --data-root $root/data --exec-root /run/docker-exec --pidfile /run/dockerd.pid \
    --host unix:///run/docker.sock >>$root/dockerd.log 2>&1 &"
  i=0
  while ! lab_node_docker "$n" info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 900 ]; then echo "lab: node $n's dockerd did not answer within 90 s"; tail -20 "$root/dockerd.log"; return 1; fi
    sleep 0.1
  done
}

# Stops the node's engine as a service manager would (SIGTERM) and waits (at most 90 s); its namespaces stay.
lab_node_stop() {
  lab_stop_pidfile "/srv/node$1/run/dockerd.pid" "node $1's dockerd"
}
