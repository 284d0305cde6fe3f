#!/bin/sh
# Runs in the lab guest (see lab/golden.ts): makes iproute2 and can-utils send their netlink requests under strace
# and prints each capture between markers. The interface indexes and namespace fds this yields are deterministic
# in a fresh guest: lo is 1, vc0 2, vc1 3; iproute2 opens the namespace as fd 4.
set -eu
modprobe -a vcan vxcan can-gw can-raw
ip netns add m1
ip link add vc0 type vcan
ip link add vc1 type vcan
ip link set vc0 up
ip link set vc1 up

zeros16=0000000000000000
data64=$(printf '%0128d' 0 | sed 's/0000/A55A/g')
crctab=$(i=0; while [ $i -lt 256 ]; do printf '%02X' $(( (i * 29) % 256 )); i=$((i + 1)); done)

capture() {
  name=$1
  shift
  echo "=== capture $name"
  echo "=== command $*"
  strace -xx -e trace=sendto,sendmsg,recvfrom,recvmsg -e write=all -e read=all -o /tmp/golden.strace "$@" >/dev/null 2>&1 || echo "=== status $?"
  cat /tmp/golden.strace
  echo "=== end"
}

capture vcan-add ip link add vc2 mtu 72 type vcan
capture vxcan-add ip link add hx1 mtu 72 type vxcan peer name cx1 mtu 72 netns m1
capture vxcan-add-plain ip link add hx2 type vxcan peer name cx2
capture link-up ip link set vc2 up
capture link-down ip link set vc2 down
capture link-mtu ip link set vc2 mtu 16
capture link-netns ip link set vc2 netns m1
capture link-del ip link del hx2
capture cangw-add cangw -A -s vc0 -d vc1 -e
capture cangw-add-mesh cangw -A -s vc1 -d vc0 -e -i -l 1
capture cangw-add-fd cangw -A -s vc0 -d vc1 -X -e -t
capture cangw-add-filter cangw -A -s vc1 -d vc0 -f 123:7FF
capture cangw-add-inverted-filter cangw -A -s vc1 -d vc0 -e -f 80000123~1FFFFFFF
capture cangw-add-mods cangw -A -s vc0 -d vc1 -u 2A -m AND:IDL:7FF.F.FFFFFFFFFFFFFFFF -m OR:D:0.0.0100000000000000 -m XOR:D:0.0.00FF000000000000 -m SET:IL:333.4.$zeros16
capture cangw-add-fdmods cangw -A -s vc0 -d vc1 -X -M SET:IFLD:333.1.C.$data64
capture cangw-add-xor cangw -A -s vc1 -d vc0 -m SET:D:0.0.1122334455667700 -x 0:6:7:AB
capture cangw-add-crc8 cangw -A -s vc1 -d vc0 -m SET:D:0.0.1122334455667700 -c 0:6:7:FF:0F:$crctab -p 1:42
capture cangw-del cangw -D -s vc1 -d vc0 -e -i -l 1
cansend vc0 123#11
cansend vc0 124#2233
capture cangw-list cangw -L
capture cangw-flush cangw -F
