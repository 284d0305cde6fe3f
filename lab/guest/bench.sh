#!/bin/sh
# The guest side of `npm run bench`: the CAN modules, dockerd and the ECU image when the compose section runs, then
# the sections (bench/guest.ts), which print BENCH_RESULT lines for the host.
set -e
modprobe -a vcan vxcan can-gw can-raw
case " $* " in
  *" compose "*|*" all "*)
    . lab/guest/docker.sh
    lab_start_dockerd
    lab_busybox_image lab/canutils /usr/bin/cansend /usr/bin/candump
    ;;
esac
exec node dist/bench/guest.js "$@"
