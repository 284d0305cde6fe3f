// A topology as a Graphviz DOT graph (`cantainer topology --format dot | dot -Tpng`): buses as bold boxes, members,
// host interfaces and tunnels joined to them, gateways as arrows between buses with their settings.
import type { Topology } from '../control/protocol.js';
import { busCounters, busSummary, gatewaySettings, gatewayStatus, tunnelStatus, tunnelTitle, uplinkStatus, uplinkTitle } from './labels.js';
import { COLOURS } from './palette.js';

/** A DOT string: quoted, with its quotes and backslashes escaped and lines as \n. */
function quote(text: string): string {
  return `"${text.replace(/\\/gu, '\\\\').replace(/"/gu, '\\"').replace(/\n/gu, '\\n')}"`;
}

function attributes(values: Readonly<Record<string, string>>): string {
  return `[${Object.entries(values)
    .map(([key, value]) => `${key}=${quote(value)}`)
    .join(', ')}]`;
}

export function renderDot(topology: Topology): string {
  const lines = [
    'digraph cantainer {',
    '  graph [rankdir="LR", fontname="sans-serif"];',
    '  node [shape="box", style="rounded", fontname="sans-serif"];',
    '  edge [fontname="sans-serif"];',
  ];
  for (const bus of topology.buses) {
    const id = `bus:${bus.name}`;
    lines.push(
      `  ${quote(id)} ${attributes({
        label: `${bus.name}\n${busSummary(bus)}\n${busCounters(bus)}`,
        shape: 'box',
        style: 'bold,filled',
        color: COLOURS.bus,
        fillcolor: COLOURS.busFill,
      })};`,
    );
    for (const member of bus.members) {
      const node = `member:${bus.name}/${member.id}`;
      const faulty = (member.faults ?? []).length > 0;
      lines.push(
        `  ${quote(node)} ${attributes({
          label: `${member.name}\n${member.interface ?? member.hostEnd}${faulty ? `\nfault: ${(member.faults ?? []).join(', ')}` : ''}`,
          ...(faulty ? { color: COLOURS.down, style: 'rounded,dashed' } : {}),
        })};`,
        `  ${quote(node)} -> ${quote(id)} [dir="none"];`,
      );
    }
    for (const uplink of bus.uplinks) {
      const node = `uplink:${bus.name}/${uplink.interface}`;
      lines.push(
        `  ${quote(node)} ${attributes({
          label: `${uplinkTitle(uplink)}\n${uplinkStatus(uplink)}`,
          shape: 'component',
          color: uplink.state === 'up' ? COLOURS.uplink : COLOURS.down,
          ...(uplink.state === 'up' ? {} : { style: 'dashed' }),
        })};`,
        `  ${quote(node)} -> ${quote(id)} [dir="${uplink.direction === 'both' ? 'both' : uplink.direction === 'in' ? 'forward' : 'back'}"];`,
      );
    }
    for (const tunnel of bus.tunnels) {
      const node = `tunnel:${bus.name}/${tunnel.name}`;
      lines.push(
        `  ${quote(node)} ${attributes({
          label: `${tunnelTitle(tunnel)}\n${tunnelStatus(tunnel)}`,
          shape: 'cds',
          color: tunnel.state === 'up' ? COLOURS.tunnel : COLOURS.down,
          ...(tunnel.state === 'up' ? {} : { style: 'dashed' }),
        })};`,
        `  ${quote(node)} -> ${quote(id)} [dir="both"];`,
      );
    }
  }
  for (const gateway of topology.gateways) {
    lines.push(
      `  ${quote(`bus:${gateway.source}`)} -> ${quote(`bus:${gateway.destination}`)} ${attributes({
        label: `${gatewaySettings(gateway)}\n${gatewayStatus(gateway)}`,
        color: gateway.state === 'wired' ? COLOURS.gateway : COLOURS.down,
        style: gateway.state === 'wired' ? 'bold' : 'dashed',
        dir: gateway.both ? 'both' : 'forward',
      })};`,
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}
