#!/bin/sh
# Helpers for lab jobs that need a Docker engine: `. lab/guest/docker.sh`, then `lab_start_dockerd` and
# `lab_busybox_image NAME [EXTRA_FILE...]`. No registry is reachable, so images are imported from a tar.

# Starts dockerd with its data on a tmpfs and waits (at most 60 s) until it answers. `lab_start_dockerd NAME` starts
# an engine with data and exec roots of that name instead: a fresh engine, as on another host.
lab_start_dockerd() {
  data=/run/lab-docker/${1:-data}
  exec_root=/run/lab-docker/exec${1:+-$1}
  # CANTAINER_LAB_ENGINE_ROOT: another engine's extracted packages (lab/engines.ts), used instead of this machine's.
  if [ -n "${CANTAINER_LAB_ENGINE_ROOT:-}" ]; then
    PATH="$CANTAINER_LAB_ENGINE_ROOT/usr/sbin:$CANTAINER_LAB_ENGINE_ROOT/usr/bin:$PATH"
    export PATH
  fi
  docker info >/dev/null 2>&1 && return 0
  mkdir -p /run/lab-docker
  # Mounted once: a dockerd started again (after a simulated crash or reboot) finds its data where it left it.
  grep -q ' /run/lab-docker ' /proc/mounts || mount -t tmpfs -o size=1g docker-data /run/lab-docker
  dockerd --data-root "$data" --exec-root "$exec_root" --pidfile /run/lab-docker/dockerd.pid \
    --host unix:///run/docker.sock >>/run/lab-docker/dockerd.log 2>&1 &
  i=0
  while ! docker info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then echo "lab: dockerd did not answer within 60 s"; tail -20 /run/lab-docker/dockerd.log; return 1; fi
    sleep 0.1
  done
}

# Stops dockerd as a service manager would (SIGTERM: it stops its containers and plugins) and waits (at most 90 s).
lab_stop_dockerd() {
  lab_stop_pidfile /run/lab-docker/dockerd.pid dockerd
}

# Sends SIGTERM to the process a pid file names and waits (at most 90 s) until it is gone; `lab_stop_pidfile FILE WHAT`.
lab_stop_pidfile() {
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 900 ]; then echo "lab: $2 did not stop within 90 s"; return 1; fi
    sleep 0.1
  done
}

# Imports an image holding a static busybox (sh, ip, sleep, ...) plus any extra files given, with the libraries
# dynamically linked ones need (found with ldd).
lab_busybox_image() {
  name=$1
  shift
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh ip sleep cat echo ls mkdir httpd wget head tr wc od printf grep sed timeout; do ln -s busybox "$root/bin/$applet"; done
  for file in "$@"; do
    mkdir -p "$root$(dirname "$file")"
    cp "$file" "$root$file"
    for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
  tar -C "$root" -c . | docker import - "$name" >/dev/null
  rm -rf "$root"
}
