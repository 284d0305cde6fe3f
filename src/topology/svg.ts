// A topology as an SVG picture, laid out here rather than by a graph library: a CAN bus is drawn as engineers draw
// one, a line with its nodes on stubs. Each bus is a band: its members above its line, its host interfaces and
// tunnels below; gateways stand in columns to the right of every band, each joining the lines of its two buses with
// arrows the way frames go. The layout is a pure function of the topology (the same topology gives the same bytes),
// and every live figure is a <text> with a `data-live` key the dashboard rewrites as counters move.
import type { Topology, TopologyBus, TopologyGateway } from '../control/protocol.js';
import {
  busCounters,
  busSummary,
  gatewaySettings,
  gatewayStatus,
  gatewayTitle,
  tunnelStatus,
  tunnelTitle,
  uplinkStatus,
  uplinkTitle,
} from './labels.js';
import { COLOURS } from './palette.js';

const MARGIN = 24;
const BOX_W = 196;
const BOX_H = 64;
const BOX_GAP = 16;
const STUB = 28;
const TITLE_H = 52;
const BAND_GAP = 36;
const GATEWAY_W = 200;
const GATEWAY_H = 72;
const GATEWAY_GAP = 24;
/** Characters that fit a box's line at 14 px (about 8 px a character). */
const BOX_CHARS = 22;

/** Text for XML: its markup characters as entities. */
export function xml(text: string): string {
  return text.replace(/[<>&"']/gu, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A line cut to `max` characters (graphemes: names may hold any), with an ellipsis when cut. */
function fit(text: string, max = BOX_CHARS): string {
  const graphemes = Array.from(new Intl.Segmenter().segment(text), (part) => part.segment);
  return graphemes.length <= max ? text : `${graphemes.slice(0, max - 1).join('')}…`;
}

interface Line {
  readonly text: string;
  readonly bold?: boolean;
  readonly live?: string;
  readonly colour?: string;
}

function textLines(x: number, y: number, lines: readonly Line[], size = 14, max = BOX_CHARS): string {
  return lines
    .map((line, i) => {
      const attrs = [
        `x="${x}"`,
        `y="${y + i * (size + 5)}"`,
        `font-size="${size}"`,
        ...(line.bold === true ? ['font-weight="600"'] : []),
        ...(line.colour === undefined ? [] : [`fill="${line.colour}"`]),
        ...(line.live === undefined ? [] : [`data-live="${xml(line.live)}"`]),
      ];
      return `<text ${attrs.join(' ')}>${xml(fit(line.text, max))}</text>`;
    })
    .join('');
}

interface BoxStyle {
  readonly stroke: string;
  readonly fill: string;
  readonly dashed?: boolean;
  readonly radius?: number;
}

/** A box with a tooltip (the whole text, which the box may cut), its lines, and a key the dashboard finds it by. */
function box(key: string, x: number, y: number, w: number, h: number, style: BoxStyle, title: string, lines: readonly Line[]): string {
  return (
    `<g data-key="${xml(key)}"><title>${xml(title)}</title>` +
    `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${style.radius ?? 8}" fill="${style.fill}" stroke="${style.stroke}" stroke-width="2"${style.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>` +
    textLines(x + 10, y + 20, lines) +
    '</g>'
  );
}

interface Band {
  readonly bus: TopologyBus;
  readonly top: number;
  /** The y of the bus's line. */
  readonly line: number;
  readonly height: number;
  /** Where its members and host boxes end. */
  readonly right: number;
}

function bands(topology: Topology): Band[] {
  let top = MARGIN;
  return topology.buses.map((bus) => {
    const above = bus.members.length;
    const below = bus.uplinks.length + bus.tunnels.length;
    const line = top + TITLE_H + (above > 0 ? BOX_H + STUB : 12);
    const height = line - top + (below > 0 ? STUB + BOX_H : 12);
    const right = MARGIN + Math.max(above, below, 2) * (BOX_W + BOX_GAP);
    const band = { bus, top, line, height, right };
    top += height + BAND_GAP;
    return band;
  });
}

function memberBoxes(band: Band): string {
  const { bus } = band;
  return bus.members
    .map((member, i) => {
      const x = MARGIN + i * (BOX_W + BOX_GAP);
      const y = band.line - STUB - BOX_H;
      const faults = member.faults ?? [];
      const lines: Line[] = [
        { text: member.name, bold: true },
        { text: member.interface === undefined ? `end ${member.hostEnd}` : `${member.interface}${faults.length > 0 ? ' · fault' : ''}` },
        { text: `${member.frames} frames sent`, live: `member:${bus.name}/${member.id}`, colour: COLOURS.muted },
      ];
      const title = [
        `member ${member.name} (${member.id})`,
        `interface ${member.interface ?? 'unknown'}, end ${member.hostEnd}`,
        ...faults.map((f) => `fault: ${f}`),
      ].join('\n');
      const stroke = faults.length > 0 ? COLOURS.down : COLOURS.member;
      return (
        box(`member:${bus.name}/${member.id}`, x, y, BOX_W, BOX_H, { stroke, fill: '#FFFFFF', dashed: faults.length > 0 }, title, lines) +
        `<line x1="${x + BOX_W / 2}" y1="${y + BOX_H}" x2="${x + BOX_W / 2}" y2="${band.line}" stroke="${COLOURS.member}" stroke-width="2"/>` +
        `<circle cx="${x + BOX_W / 2}" cy="${band.line}" r="4" fill="${COLOURS.bus}"/>`
      );
    })
    .join('');
}

function hostBoxes(band: Band): string {
  const { bus } = band;
  const y = band.line + STUB;
  const stub = (x: number, colour: string): string =>
    `<line x1="${x + BOX_W / 2}" y1="${band.line}" x2="${x + BOX_W / 2}" y2="${y}" stroke="${colour}" stroke-width="2"/>` +
    `<circle cx="${x + BOX_W / 2}" cy="${band.line}" r="4" fill="${COLOURS.bus}"/>`;
  const uplinks = bus.uplinks.map((uplink, i) => {
    const x = MARGIN + i * (BOX_W + BOX_GAP);
    const colour = uplink.state === 'up' ? COLOURS.uplink : COLOURS.down;
    const key = `uplink:${bus.name}/${uplink.interface}`;
    return (
      stub(x, colour) +
      box(
        key,
        x,
        y,
        BOX_W,
        BOX_H,
        { stroke: colour, fill: '#FFFFFF', dashed: uplink.state !== 'up', radius: 2 },
        `uplink ${uplinkTitle(uplink)}: ${uplinkStatus(uplink)}`,
        [
          { text: uplinkTitle(uplink), bold: true },
          { text: uplink.state, colour: uplink.state === 'up' ? COLOURS.text : COLOURS.down },
          { text: `${uplink.frames} frames in`, live: key, colour: COLOURS.muted },
        ],
      )
    );
  });
  const tunnels = bus.tunnels.map((tunnel, i) => {
    const x = MARGIN + (bus.uplinks.length + i) * (BOX_W + BOX_GAP);
    const colour = tunnel.state === 'up' ? COLOURS.tunnel : COLOURS.down;
    const key = `tunnel:${bus.name}/${tunnel.name}`;
    const title = [`${tunnelTitle(tunnel)} (${tunnel.name})`, tunnelStatus(tunnel), ...(tunnel.peers ?? []).map((p) => `peer ${p}`)].join(
      '\n',
    );
    return (
      stub(x, colour) +
      box(key, x, y, BOX_W, BOX_H, { stroke: colour, fill: '#FFFFFF', dashed: tunnel.state !== 'up', radius: 18 }, title, [
        { text: tunnelTitle(tunnel), bold: true },
        {
          text: tunnel.state === 'up' ? `up${tunnel.peers === undefined ? '' : ` · ${tunnel.peers.length} peers`}` : tunnel.state,
          colour: tunnel.state === 'up' ? COLOURS.text : COLOURS.down,
        },
        { text: `in ${tunnel.framesIn}, out ${tunnel.framesOut}`, live: key, colour: COLOURS.muted },
      ])
    );
  });
  return [...uplinks, ...tunnels].join('');
}

function busLine(band: Band, end: number): string {
  const { bus } = band;
  const key = `bus:${bus.name}`;
  return (
    `<g data-key="${xml(key)}"><title>${xml(`bus ${bus.name} (${bus.id})\n${busSummary(bus)}\n${busCounters(bus)}${bus.faults.map((f) => `\nfault: ${f}`).join('')}`)}</title>` +
    textLines(
      MARGIN,
      band.top + 22,
      [
        { text: bus.name, bold: true },
        {
          text: `${busSummary(bus)} · ${busCounters(bus)}${bus.faults.length > 0 ? ` · fault: ${bus.faults.join(', ')}` : ''}${bus.drift > 0 ? ` · drift ${bus.drift}` : ''}`,
          live: key,
          colour: COLOURS.muted,
        },
      ],
      18,
      120,
    ) +
    `<line x1="${MARGIN}" y1="${band.line}" x2="${end}" y2="${band.line}" stroke="${COLOURS.bus}" stroke-width="7" stroke-linecap="round"/>` +
    '</g>'
  );
}

function gatewayColumn(gateway: TopologyGateway, from: Band, to: Band, x: number): string {
  const wired = gateway.state === 'wired';
  const colour = wired ? COLOURS.gateway : COLOURS.down;
  const centre = x + GATEWAY_W / 2;
  const middle = (from.line + to.line) / 2;
  const boxTop = middle - GATEWAY_H / 2;
  const dash = wired ? '' : ' stroke-dasharray="6 4"';
  // Each half runs from a bus line to the box; the arrowhead is where frames arrive.
  const half = (line: number, towardsBus: boolean): string => {
    const boxEdge = line < middle ? boxTop : boxTop + GATEWAY_H;
    const [y1, y2] = towardsBus ? [boxEdge, line] : [line, boxEdge];
    return `<line x1="${centre}" y1="${y1}" x2="${centre}" y2="${y2}" stroke="${colour}" stroke-width="3"${dash}${towardsBus || gateway.both ? ' marker-end="url(#arrow)"' : ''}/>`;
  };
  const key = `gateway:${gateway.source}/${gateway.destination}`;
  const title = `gateway ${gatewayTitle(gateway)}\n${gatewaySettings(gateway)}\n${gatewayStatus(gateway)}`;
  return (
    (gateway.both ? half(from.line, true) : half(from.line, false)) +
    half(to.line, true) +
    `<circle cx="${centre}" cy="${from.line}" r="5" fill="${colour}"/><circle cx="${centre}" cy="${to.line}" r="5" fill="${colour}"/>` +
    box(key, x, boxTop, GATEWAY_W, GATEWAY_H, { stroke: colour, fill: COLOURS.gatewayFill, dashed: !wired, radius: 4 }, title, [
      { text: gatewayTitle(gateway), bold: true },
      { text: gatewaySettings(gateway) },
      { text: gatewayStatus(gateway), live: key, colour: wired ? COLOURS.muted : COLOURS.down },
    ])
  );
}

/** The topology drawn: a standalone SVG document (width and height in pixels, scalable by its viewBox). */
export function renderSvg(topology: Topology): string {
  const laid = bands(topology);
  const byName = new Map(laid.map((band) => [band.bus.name, band]));
  const gateways = topology.gateways.flatMap((gateway) => {
    const from = byName.get(gateway.source);
    const to = byName.get(gateway.destination);
    return from === undefined || to === undefined || from === to ? [] : [{ gateway, from, to }];
  });
  const rowsEnd = Math.max(MARGIN + 2 * (BOX_W + BOX_GAP), ...laid.map((band) => band.right));
  const columnX = (i: number): number => rowsEnd + GATEWAY_GAP + i * (GATEWAY_W + GATEWAY_GAP);
  // A bus's line runs to the last gateway column that joins it.
  const lineEnd = new Map(laid.map((band) => [band.bus.name, band.right - BOX_GAP]));
  gateways.forEach(({ from, to }, i) => {
    for (const band of [from, to]) lineEnd.set(band.bus.name, Math.max(lineEnd.get(band.bus.name) ?? 0, columnX(i) + GATEWAY_W / 2 + 12));
  });
  const width = gateways.length === 0 ? rowsEnd + MARGIN : columnX(gateways.length) + MARGIN;
  const last = laid.at(-1);
  const height = last === undefined ? 2 * MARGIN + 40 : last.top + last.height + MARGIN;
  const body =
    laid.length === 0
      ? textLines(MARGIN, MARGIN + 24, [{ text: 'no buses', colour: COLOURS.muted }], 18)
      : [
          ...laid.map((band) => busLine(band, lineEnd.get(band.bus.name) ?? band.right)),
          ...laid.map((band) => memberBoxes(band) + hostBoxes(band)),
          ...gateways.map(({ gateway, from, to }, i) => gatewayColumn(gateway, from, to, columnX(i))),
        ].join('\n');
  const summary = `${topology.buses.length} bus${topology.buses.length === 1 ? '' : 'es'}, ${topology.gateways.length} gateway${topology.gateways.length === 1 ? '' : 's'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="topology-title" font-family="system-ui, 'DejaVu Sans', sans-serif" fill="${COLOURS.text}">`,
    `<title id="topology-title">${xml(`CAN buses: ${summary}`)}</title>`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="${COLOURS.gateway}"/></marker></defs>`,
    `<rect width="${width}" height="${height}" fill="#FFFFFF"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
