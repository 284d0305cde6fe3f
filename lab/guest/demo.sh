#!/bin/sh
# The guest side of `npm run demo`: dockerd, the cantainer daemon, the vehicle example, traffic, a trace of each
# bus from its monitor interface, and everything taken down again.
set -e
say() { printf '\n== %s\n' "$*"; }
. lab/guest/docker.sh
say "starting dockerd (its data on a tmpfs) and the cantainer daemon"
lab_start_dockerd
lab_busybox_image lab/canutils /usr/bin/cansend /usr/bin/candump
# Background jobs must not hold the job's output open, or the guest would wait for them at the end.
node bin/cantainer daemon --log-level warn --state-dir /run/cantainer-demo >/run/cantainer-demo.log 2>&1 &
daemon=$!
while [ ! -S /run/docker/plugins/cantainer.sock ]; do sleep 0.2; done

say "docker-compose up: examples/vehicle/compose.yaml (ECU image: busybox and can-utils)"
export ECU_IMAGE=lab/canutils
compose="docker-compose -p vehicle -f examples/vehicle/compose.yaml"
$compose up -d --no-build 2>&1 | sed 's/^/   /'
for service in engine brakes gateway cluster dashboard; do
  printf '   %-9s ' "$service"
  docker exec "vehicle_${service}_1" ip -o link | grep -o '[a-z0-9]*@if[0-9]*: <[^>]*> mtu [0-9]*' | sed 's/@if[0-9]*//; s/<[^>]*> //' | tr '\n' ' '
  echo
done

say "tracing both buses from their monitor interfaces (host side, no container joined)"
for net in vehicle_powertrain vehicle_body; do
  id=$(docker network inspect -f '{{.Id}}' "$net")
  ns=$(node -e "import('./dist/src/bus/plan.js').then((m) => console.log(m.busNamespace(process.argv[1])))" "$id")
  label=$(printf '%-11s' "${net#vehicle_}")
  nsenter --net="/run/cantainer/netns/$ns" candump -ta -x monitor 2>&1 | sed -u "s/^/   $label/" &
done
sleep 1

say "engine RPM and brake state on powertrain; an OBD request crosses the gateway; the cluster sends CAN FD on body"
docker exec vehicle_engine_1 sh -c 'for r in 10 20 30 40; do cansend can0 0C0#0B$r; sleep 0.4; done' &
docker exec vehicle_brakes_1 sh -c 'for s in 00 01 00; do cansend can0 1A0#${s}FF; sleep 0.5; done' &
docker exec vehicle_engine_1 sh -c 'sleep 0.6; cansend can0 7DF#02010C'
docker exec vehicle_cluster_1 sh -c 'sleep 0.8; cansend body0 3C0##1112233445566778899AABBCCDDEEFF00'
sleep 3

say "the cluster fetches the dashboard over IP on the bridge network"
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' vehicle_dashboard_1)
printf '   '
docker exec vehicle_cluster_1 wget -qO- "http://$ip:8080/"

# Only the traces: the gateway ECU runs a candump of its own.
pkill -f 'candump -ta -x monitor' 2>/dev/null || true
say "the topology, drawn by cantainer topology (Mermaid here; SVG in dist/artifacts/demo-topology.svg)"
node bin/cantainer topology --format mermaid | sed 's/^/   /'
if [ -n "${CANTAINER_ARTIFACTS:-}" ]; then
  mkdir -p "$CANTAINER_ARTIFACTS" && node bin/cantainer topology -o "$CANTAINER_ARTIFACTS/demo-topology.svg"
fi

say "docker-compose down"
$compose down -t 1 2>&1 | sed 's/^/   /'
printf '   bus namespaces left: %s, vxcan links left: %s\n' "$(ls /run/cantainer/netns | wc -l)" "$(ip -o link show type vxcan | wc -l)"
kill "$daemon"
