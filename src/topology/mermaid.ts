// A topology as a Mermaid flowchart (GitHub and GitLab draw it in Markdown): buses as subroutine boxes, members,
// host interfaces and tunnels joined to them, gateways as arrows between buses with their settings.
import type { Topology } from '../control/protocol.js';
import { busCounters, busSummary, gatewaySettings, gatewayStatus, tunnelStatus, tunnelTitle, uplinkStatus, uplinkTitle } from './labels.js';
import { COLOURS } from './palette.js';

/** A label Mermaid takes whatever it holds: quoted, its quotes and markup characters as entities, lines as <br/>. */
function label(...lines: readonly string[]): string {
  const escape = (text: string): string =>
    text.replace(/[#"<>&]/gu, (c) => `#${c.codePointAt(0) ?? 0};`).replace(/[[\]{}()|]/gu, (c) => `#${c.codePointAt(0) ?? 0};`);
  return `"${lines.map(escape).join('<br/>')}"`;
}

export function renderMermaid(topology: Topology): string {
  const lines = ['flowchart LR'];
  const busIds = new Map(topology.buses.map((bus, i) => [bus.name, `b${i}`]));
  const down: string[] = [];
  topology.buses.forEach((bus, i) => {
    const id = `b${i}`;
    lines.push(`  ${id}[[${label(bus.name, busSummary(bus), busCounters(bus))}]]`);
    bus.members.forEach((member, j) => {
      const faults = member.faults ?? [];
      lines.push(
        `  ${id}m${j}(${label(member.name, member.interface ?? member.hostEnd, ...(faults.length === 0 ? [] : [`fault: ${faults.join(', ')}`]))})`,
        `  ${id}m${j} --- ${id}`,
      );
      if (faults.length > 0) down.push(`${id}m${j}`);
    });
    bus.uplinks.forEach((uplink, j) => {
      const arrow = uplink.direction === 'both' ? '<-->' : uplink.direction === 'in' ? '-->' : '<--';
      lines.push(`  ${id}u${j}[/${label(uplinkTitle(uplink), uplinkStatus(uplink))}/]`, `  ${id}u${j} ${arrow} ${id}`);
      if (uplink.state !== 'up') down.push(`${id}u${j}`);
    });
    bus.tunnels.forEach((tunnel, j) => {
      lines.push(`  ${id}t${j}{{${label(tunnelTitle(tunnel), tunnelStatus(tunnel))}}}`, `  ${id}t${j} <--> ${id}`);
      if (tunnel.state !== 'up') down.push(`${id}t${j}`);
    });
  });
  for (const gateway of topology.gateways) {
    const from = busIds.get(gateway.source);
    const to = busIds.get(gateway.destination);
    if (from === undefined || to === undefined) continue;
    const text = label(gatewaySettings(gateway), gatewayStatus(gateway));
    const wired = gateway.state === 'wired';
    lines.push(`  ${from} ${gateway.both ? '<' : ''}${wired ? '==' : '-.'} ${text} ${wired ? '==>' : '.->'} ${to}`);
  }
  lines.push(
    `  classDef bus fill:${COLOURS.busFill},stroke:${COLOURS.bus},stroke-width:3px`,
    `  classDef down stroke:${COLOURS.down},stroke-dasharray:5 3`,
  );
  if (topology.buses.length > 0) lines.push(`  class ${topology.buses.map((_bus, i) => `b${i}`).join(',')} bus`);
  if (down.length > 0) lines.push(`  class ${down.join(',')} down`);
  lines.push('');
  return lines.join('\n');
}
