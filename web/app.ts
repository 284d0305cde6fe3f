// The dashboard's page: the topology pushed by the daemon every second (server-sent events), drawn as the daemon's
// SVG and as tables, with rates computed here from successive counters; the buses' events; a live trace of one bus.
// Read-only: it only reads. Text goes in as text (never as markup), so names cannot inject anything.
import type { BusEvent } from '../src/service/events.js';
import type { Topology, TopologyBus } from '../src/control/protocol.js';
import { eventText } from '../src/control/event-text.js';
import { percentText } from '../src/bus/timing.js';
import { busBitrates, busSummary, gatewaySettings, gatewayTitle, tunnelTitle, uplinkTitle } from '../src/topology/labels.js';

interface TopologyUpdate {
  readonly time: number;
  readonly shape: string;
  readonly topology: Topology;
}

interface TraceBatch {
  readonly lines: readonly string[];
  readonly skipped: number;
}

const MAX_EVENTS = 200;
const MAX_TRACE_LINES = 500;

/** The page's element `id`, of the kind asked for. */
function element<T extends HTMLElement>(id: string, kind: abstract new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`the page has no ${kind.name} #${id}`);
  return found;
}

/** Counters by key ("bus:NAME", "member:BUS/ID", ...), to compute rates from the last update. */
type Counters = Map<string, number>;

function counters(topology: Topology): Counters {
  const found: Counters = new Map();
  for (const bus of topology.buses) {
    found.set(`bus:${bus.name}`, bus.frames);
    found.set(`dropped:${bus.name}`, bus.dropped);
    for (const member of bus.members) found.set(`member:${bus.name}/${member.id}`, member.frames);
    for (const uplink of bus.uplinks) found.set(`uplink:${bus.name}/${uplink.interface}`, uplink.frames);
    for (const tunnel of bus.tunnels) {
      found.set(`tunnel-in:${bus.name}/${tunnel.name}`, tunnel.framesIn);
      found.set(`tunnel-out:${bus.name}/${tunnel.name}`, tunnel.framesOut);
    }
  }
  for (const gateway of topology.gateways) {
    found.set(`gateway:${gateway.source}/${gateway.destination}`, gateway.frames);
    if (gateway.framesBack !== undefined) found.set(`gateway-back:${gateway.source}/${gateway.destination}`, gateway.framesBack);
  }
  return found;
}

/** Frames a second between two readings; a counter that went back (a bus wired again) counts from zero. */
class Rates {
  #before: { time: number; counters: Counters } | undefined;
  #now = new Map<string, number>();

  update(time: number, current: Counters): void {
    const before = this.#before;
    this.#now = new Map();
    if (before !== undefined && time > before.time) {
      const seconds = (time - before.time) / 1000;
      for (const [key, value] of current) {
        const last = before.counters.get(key);
        if (last !== undefined) this.#now.set(key, (value >= last ? value - last : value) / seconds);
      }
    }
    this.#before = { time, counters: current };
  }

  /** "12.5", or "–" before two readings. */
  number(key: string): string {
    const rate = this.#now.get(key);
    return rate === undefined ? '–' : rate.toFixed(rate > 0 && rate < 10 ? 1 : 0);
  }

  /** "12.5 frames/s", or "–" before two readings. */
  text(key: string): string {
    const rate = this.number(key);
    return rate === '–' ? rate : `${rate} frames/s`;
  }
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

function fillTable(id: string, rows: ReadonlyArray<readonly HTMLTableCellElement[]>, empty: string): void {
  const body = element(id, HTMLTableElement).tBodies[0];
  if (body === undefined) return;
  const width = element(id, HTMLTableElement).tHead?.rows[0]?.cells.length ?? 1;
  body.replaceChildren(
    ...(rows.length === 0
      ? [
          (() => {
            const tr = document.createElement('tr');
            const td = cell(empty, 'empty');
            td.colSpan = width;
            tr.append(td);
            return tr;
          })(),
        ]
      : rows.map((cells) => {
          const tr = document.createElement('tr');
          tr.append(...cells);
          return tr;
        })),
  );
}

function stateCell(state: string): HTMLTableCellElement {
  return cell(state, `state-${state.split(/[\s:]/u)[0] ?? state}`);
}

function busRows(topology: Topology, rates: Rates): HTMLTableCellElement[][] {
  return topology.buses.map((bus) => [
    cell(bus.name),
    cell(bus.fd ? 'CAN FD' : 'classic CAN'),
    cell(busBitrates(bus)),
    cell(bus.load === undefined ? '–' : percentText(bus.load), 'number'),
    cell(String(bus.members.length), 'number'),
    cell(rates.number(`bus:${bus.name}`), 'number'),
    cell(String(bus.frames), 'number'),
    cell(String(bus.dropped), bus.dropped > 0 ? 'number fault' : 'number'),
    cell(bus.faults.join(', ') || '–', bus.faults.length > 0 ? 'fault' : undefined),
    // Differences between the bus's plan and the kernel: the daemon puts them back within 30 s.
    cell(bus.drift === 0 ? 'none' : `${bus.drift} changes`, bus.drift === 0 ? undefined : 'fault'),
  ]);
}

function memberRows(topology: Topology, rates: Rates): HTMLTableCellElement[][] {
  return topology.buses.flatMap((bus) =>
    bus.members.map((member) => [
      cell(bus.name),
      cell(member.name),
      cell(member.interface ?? '–'),
      cell(rates.number(`member:${bus.name}/${member.id}`), 'number'),
      cell(String(member.frames), 'number'),
      cell((member.faults ?? []).join(', ') || '–', (member.faults ?? []).length > 0 ? 'fault' : undefined),
    ]),
  );
}

function gatewayRows(topology: Topology, rates: Rates): HTMLTableCellElement[][] {
  return topology.gateways.map((gateway) => {
    const key = `${gateway.source}/${gateway.destination}`;
    return [
      cell(gatewayTitle(gateway)),
      cell(gatewaySettings(gateway)),
      stateCell(gateway.detail === undefined ? gateway.state : `${gateway.state}: ${gateway.detail}`),
      cell(
        gateway.both ? `${rates.number(`gateway:${key}`)} → · ${rates.number(`gateway-back:${key}`)} ←` : rates.number(`gateway:${key}`),
        'number',
      ),
      cell(gateway.framesBack === undefined ? String(gateway.frames) : `${gateway.frames} → · ${gateway.framesBack} ←`, 'number'),
    ];
  });
}

function linkRows(topology: Topology, rates: Rates): HTMLTableCellElement[][] {
  return topology.buses.flatMap((bus: TopologyBus) => [
    ...bus.uplinks.map((uplink) => [
      cell(bus.name),
      cell(uplinkTitle(uplink)),
      stateCell(uplink.state),
      cell(rates.number(`uplink:${bus.name}/${uplink.interface}`), 'number'),
      cell('–', 'number'),
    ]),
    ...bus.tunnels.map((tunnel) => [
      cell(bus.name),
      cell(`${tunnelTitle(tunnel)} (${tunnel.name})${tunnel.peers === undefined ? '' : `, peers: ${tunnel.peers.join(', ') || 'none'}`}`),
      stateCell(tunnel.detail === undefined ? tunnel.state : `${tunnel.state}: ${tunnel.detail}`),
      cell(rates.number(`tunnel-in:${bus.name}/${tunnel.name}`), 'number'),
      cell(rates.number(`tunnel-out:${bus.name}/${tunnel.name}`), 'number'),
    ]),
  ]);
}

/** The figures the picture shows live, by the `data-live` keys the daemon's SVG gives them. */
function liveTexts(topology: Topology, rates: Rates): Map<string, string> {
  const texts = new Map<string, string>();
  for (const bus of topology.buses) {
    const faults = bus.faults.length > 0 ? ` · fault: ${bus.faults.join(', ')}` : '';
    const drift = bus.drift > 0 ? ` · drift ${bus.drift}` : '';
    texts.set(`bus:${bus.name}`, `${busSummary(bus)} · ${rates.text(`bus:${bus.name}`)} · ${bus.dropped} dropped${faults}${drift}`);
    for (const member of bus.members) texts.set(`member:${bus.name}/${member.id}`, `${rates.text(`member:${bus.name}/${member.id}`)} sent`);
    for (const uplink of bus.uplinks)
      texts.set(`uplink:${bus.name}/${uplink.interface}`, `${rates.text(`uplink:${bus.name}/${uplink.interface}`)} in`);
    for (const tunnel of bus.tunnels)
      texts.set(
        `tunnel:${bus.name}/${tunnel.name}`,
        `in ${rates.number(`tunnel-in:${bus.name}/${tunnel.name}`)}/s, out ${rates.number(`tunnel-out:${bus.name}/${tunnel.name}`)}/s`,
      );
  }
  for (const gateway of topology.gateways) {
    const key = `${gateway.source}/${gateway.destination}`;
    texts.set(`gateway:${key}`, gateway.state === 'wired' ? rates.text(`gateway:${key}`) : gateway.state);
  }
  return texts;
}

class Dashboard {
  readonly #rates = new Rates();
  #shape = '';
  #latest: Topology | undefined;
  #picture: Promise<void> = Promise.resolve();

  update(update: TopologyUpdate): void {
    this.#latest = update.topology;
    this.#rates.update(update.time, counters(update.topology));
    if (update.shape !== this.#shape) {
      this.#shape = update.shape;
      this.#picture = this.#drawPicture();
      this.#busChoices(update.topology);
    }
    fillTable('buses', busRows(update.topology, this.#rates), 'no buses');
    fillTable('members', memberRows(update.topology, this.#rates), 'no members');
    fillTable('gateways', gatewayRows(update.topology, this.#rates), 'no gateways');
    fillTable('links', linkRows(update.topology, this.#rates), 'no host interfaces or tunnels');
    void this.#picture.then(() => {
      this.#liveFigures();
    });
    document.body.dataset.updated = String(update.time);
  }

  async #drawPicture(): Promise<void> {
    const answer = await fetch('/api/topology.svg', { cache: 'no-store' });
    if (!answer.ok) return;
    const svg = new DOMParser().parseFromString(await answer.text(), 'image/svg+xml').documentElement;
    element('picture', HTMLElement).replaceChildren(document.importNode(svg, true));
  }

  #liveFigures(): void {
    if (this.#latest === undefined) return;
    const texts = liveTexts(this.#latest, this.#rates);
    for (const node of element('picture', HTMLElement).querySelectorAll<SVGTextElement>('[data-live]')) {
      const text = texts.get(node.dataset.live ?? '');
      if (text !== undefined) node.textContent = text;
    }
  }

  #busChoices(topology: Topology): void {
    const select = element('trace-bus', HTMLSelectElement);
    const chosen = select.value;
    select.replaceChildren(
      ...topology.buses.map((bus) => {
        const option = document.createElement('option');
        option.value = bus.name;
        option.textContent = bus.name;
        return option;
      }),
    );
    if (topology.buses.some((bus) => bus.name === chosen)) select.value = chosen;
  }
}

function showEvent(event: BusEvent): void {
  const list = element('events', HTMLOListElement);
  const item = document.createElement('li');
  item.textContent = eventText(event);
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild?.remove();
}

function setStatus(state: 'connecting' | 'live' | 'reconnecting', text: string): void {
  const status = element('status', HTMLElement);
  status.dataset.state = state;
  status.textContent = text;
}

/** The live trace: started, paused and resumed by its button; lines kept up to MAX_TRACE_LINES. */
class Trace {
  #source: EventSource | undefined;
  readonly #lines = element('trace', HTMLPreElement);
  readonly #button = element('trace-toggle', HTMLButtonElement);
  readonly #status = element('trace-status', HTMLElement);
  #shown: string[] = [];

  constructor() {
    element('trace-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.#source === undefined) this.start();
      else this.pause();
    });
    element('trace-clear', HTMLElement).addEventListener('click', () => {
      this.#shown = [];
      this.#lines.textContent = '';
    });
    this.#button.setAttribute('aria-pressed', 'false');
  }

  start(): void {
    const bus = element('trace-bus', HTMLSelectElement).value;
    if (bus === '') {
      this.#status.textContent = 'no bus to trace';
      return;
    }
    const filter = element('trace-filter', HTMLInputElement).value.trim();
    const url = `/api/trace?bus=${encodeURIComponent(bus)}${filter === '' ? '' : `&filter=${encodeURIComponent(filter)}`}`;
    const source = new EventSource(url);
    this.#source = source;
    this.#button.textContent = 'Pause';
    this.#button.setAttribute('aria-pressed', 'true');
    this.#status.textContent = `tracing ${bus}${filter === '' ? '' : ` (${filter})`}`;
    source.addEventListener('frames', (message) => {
      const batch = JSON.parse((message as MessageEvent<string>).data) as TraceBatch;
      this.#append(batch.skipped > 0 ? [...batch.lines, `… ${batch.skipped} more frames not shown`] : batch.lines);
    });
    for (const kind of ['end', 'notice'])
      source.addEventListener(kind, (message) => {
        const { text } = JSON.parse((message as MessageEvent<string>).data) as { text: string };
        this.#status.textContent = text;
        if (kind === 'end') this.pause(text);
      });
    source.addEventListener('error', () => {
      if (source.readyState !== EventSource.CLOSED) return;
      // Refused (an unknown bus, a bad filter): the answer says why.
      void fetch(url)
        .then(async (answer) => (answer.ok ? 'the trace ended' : (await answer.text()).trim()))
        .then((why) => {
          this.pause(why);
        });
    });
  }

  pause(why?: string): void {
    this.#source?.close();
    this.#source = undefined;
    this.#button.textContent = 'Start';
    this.#button.setAttribute('aria-pressed', 'false');
    this.#status.textContent = why ?? 'paused';
  }

  #append(lines: readonly string[]): void {
    this.#shown.push(...lines);
    if (this.#shown.length > MAX_TRACE_LINES) this.#shown = this.#shown.slice(-MAX_TRACE_LINES);
    const atEnd = this.#lines.scrollTop + this.#lines.clientHeight >= this.#lines.scrollHeight - 4;
    this.#lines.textContent = `${this.#shown.join('\n')}\n`;
    if (atEnd) this.#lines.scrollTop = this.#lines.scrollHeight;
  }
}

function main(): void {
  const dashboard = new Dashboard();
  new Trace();
  const live = new EventSource('/api/live');
  live.addEventListener('open', () => {
    setStatus('live', 'live');
  });
  live.addEventListener('error', () => {
    setStatus('reconnecting', 'reconnecting to the daemon…');
  });
  live.addEventListener('hello', (message) => {
    const hello = JSON.parse((message as MessageEvent<string>).data) as { version: string; startedAt?: string };
    element('version', HTMLElement).textContent =
      `cantainer ${hello.version}${hello.startedAt === undefined ? '' : `, daemon up since ${hello.startedAt}`}`;
  });
  live.addEventListener('topology', (message) => {
    dashboard.update(JSON.parse((message as MessageEvent<string>).data) as TopologyUpdate);
  });
  live.addEventListener('bus-event', (message) => {
    showEvent(JSON.parse((message as MessageEvent<string>).data) as BusEvent);
  });
}

main();
