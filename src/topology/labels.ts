// The words every picture of a topology uses, in the CLI's names and units: one place, so that the SVG, the DOT
// graph, the Mermaid chart and the dashboard say the same.
import { bitrateText, percentText } from '../bus/timing.js';
import type { TopologyBus, TopologyGateway, TopologyTunnel } from '../control/protocol.js';

type Uplink = TopologyBus['uplinks'][number];

/** "500 kbit/s", "500 kbit/s / 2 Mbit/s" (with a data-phase rate), or "untimed". */
export function busBitrates(bus: Pick<TopologyBus, 'bitrate' | 'dbitrate'>): string {
  if (bus.bitrate === undefined) return 'untimed';
  return bus.dbitrate === undefined ? bitrateText(bus.bitrate) : `${bitrateText(bus.bitrate)} / ${bitrateText(bus.dbitrate)}`;
}

/** "FD · 500 kbit/s / 2 Mbit/s · load 43%" (classic and untimed buses say so). */
export function busSummary(bus: TopologyBus): string {
  const parts = [bus.fd ? 'CAN FD' : 'classic CAN', busBitrates(bus)];
  if (bus.load !== undefined) parts.push(`load ${percentText(bus.load)}`);
  if (bus.span?.role !== undefined) parts.push(`span ${bus.span.role}`);
  return parts.join(' · ');
}

/** What a bus carried and lost: "1200 frames, 3 dropped". */
export function busCounters(bus: TopologyBus): string {
  return `${bus.frames} frames${bus.dropped > 0 ? `, ${bus.dropped} dropped` : ''}`;
}

/** "→", or "↔" for a gateway both ways. */
export function gatewayArrow(gateway: Pick<TopologyGateway, 'both'>): string {
  return gateway.both ? '↔' : '→';
}

/** "powertrain → body". */
export function gatewayTitle(gateway: TopologyGateway): string {
  return `${gateway.source} ${gatewayArrow(gateway)} ${gateway.destination}`;
}

/** "--accept 7E0", or "every frame". */
export function gatewaySettings(gateway: TopologyGateway): string {
  return gateway.settings === '' ? 'every frame' : gateway.settings;
}

/** "wired · 120 frames" (both ways: "120 → · 4 ←"), or the state and why. */
export function gatewayStatus(gateway: TopologyGateway): string {
  if (gateway.state !== 'wired') return gateway.detail === undefined ? gateway.state : `${gateway.state}: ${gateway.detail}`;
  return gateway.framesBack === undefined ? `${gateway.frames} frames` : `${gateway.frames} → · ${gateway.framesBack} ←`;
}

/** "can0 (host) · in". */
export function uplinkTitle(uplink: Uplink): string {
  return `${uplink.interface} (host) · ${uplink.direction}`;
}

/** "up · 40 frames" or "down". */
export function uplinkStatus(uplink: Uplink): string {
  return uplink.state === 'up' ? `up · ${uplink.frames} frames` : 'down';
}

/** "tunnel udp 192.0.2.1:20000". */
export function tunnelTitle(tunnel: TopologyTunnel): string {
  return `tunnel ${tunnel.transport} ${tunnel.peer ?? tunnel.listen ?? tunnel.name}`;
}

/** "up · in 10, out 12" (a TCP server: its peers), or "failed: why". */
export function tunnelStatus(tunnel: TopologyTunnel): string {
  if (tunnel.state !== 'up') return tunnel.detail === undefined ? tunnel.state : `${tunnel.state}: ${tunnel.detail}`;
  const peers = tunnel.peers === undefined ? '' : ` · ${tunnel.peers.length} peer${tunnel.peers.length === 1 ? '' : 's'}`;
  return `up${peers} · in ${tunnel.framesIn}, out ${tunnel.framesOut}`;
}
