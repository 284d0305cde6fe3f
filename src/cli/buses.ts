// `cantainer ls`, `inspect`, `send` and `dump`: the buses of this host as the daemon knows them, and their frames
// read from and written to each bus's monitor interface (no container joins the bus for that).
import type { Command } from 'commander';
import { InvalidValueError } from '../errors.js';
import type { IdFilter } from '../can/idset.js';
import { socketFilters } from '../bus/model.js';
import { readFileSync } from 'node:fs';
import { formatCandump, formatCandumpLog, formatCansend, parseCandumpLog, parseCansend } from '../can/text.js';
import { MONITOR } from '../bus/plan.js';
import { bitrateText, LOAD_WINDOW_US, percentText } from '../bus/timing.js';
import { DEFAULT_CONTROL_SOCKET, type BusDetail, type TimingSummary } from '../control/protocol.js';
import { KernelError, systemKernel, type CanSocketPort } from '../kernel/index.js';
import { Errno } from '../netlink/errno.js';
import { eventText } from '../control/event-text.js';
import { CONTROL_SOCKET_OPTION, callDaemon, collect, controlSocketPath, followDaemon, listCommand } from './client.js';
import { table, type CliIo } from './output.js';

/** A spanned bus in `inspect`: this node's part, the hub, the nodes the hub takes, the tunnel's state and counters. */
function spanLines(span: NonNullable<BusDetail['span']>): string[] {
  const part = span.role === undefined ? 'no hub known yet' : span.role === 'hub' ? 'this node is the hub' : 'this node is a spoke';
  const lines = [`span ${span.mode}: ${part}${span.hub === undefined ? '' : `, hub ${span.hub}`}`];
  if (span.nodes !== undefined)
    lines.push(`  nodes that may connect: ${span.nodes.length === 0 ? 'none (no other node has the network)' : span.nodes.join(', ')}`);
  const tunnel = span.tunnel;
  if (tunnel !== undefined) {
    const counters = tunnel.counters;
    lines.push(
      `  tunnel ${tunnel.transport} ${tunnel.state}${tunnel.detail === undefined ? '' : ` (${tunnel.detail})`}` +
        (tunnel.peers === undefined ? '' : `, peers ${tunnel.peers.length === 0 ? '-' : tunnel.peers.join(', ')}`) +
        (counters === undefined
          ? ''
          : `, frames in ${counters.framesIn}, out ${counters.framesOut}, dropped ${Object.values(counters.droppedFrames).reduce((sum, n) => sum + n, 0)}, connects ${counters.connects}, disconnects ${counters.disconnects}`),
    );
  }
  return lines;
}

/** 500000 → 500k, 1000000 → 1M: a bit rate in a table. */
function shortBitrate(bitrate: number): string {
  return bitrate >= 1_000_000 && bitrate % 1000 === 0 ? `${bitrate / 1_000_000}M` : `${bitrate / 1000}k`;
}

function timedDrops(timing: TimingSummary | undefined): number {
  return Object.values(timing?.dropped ?? {}).reduce((sum, n) => sum + n, 0);
}

/** A timed bus in `inspect`: its bit rates, its load, what it carried, lost and has waiting. */
function timingLines(timing: TimingSummary): string[] {
  const rates = `${bitrateText(timing.bitrate)}${timing.dbitrate === undefined ? '' : `, data phase ${bitrateText(timing.dbitrate)}`}`;
  const traffic =
    timing.load === undefined
      ? 'its arbiter is not running'
      : `load ${percentText(timing.load)} over the last ${LOAD_WINDOW_US / 1_000_000} s, ${timing.frames ?? 0} frames crossed, ${timing.waiting ?? 0} waiting, ` +
        `dropped for lack of bus time ${timing.dropped?.['bus-full'] ?? 0}, by faults ${timing.dropped?.fault ?? 0}, unwired ${timing.dropped?.unwired ?? 0}`;
  return [`timed bus ${rates}: ${traffic}`, `  host tools send on interface ${timing.inject}`];
}

function inspectText(bus: BusDetail): string {
  const lines = [
    `bus ${bus.name}  (${bus.fd ? 'CAN FD' : 'classic CAN'}, id ${bus.id})`,
    `namespace ${bus.namespace}, monitor interface ${MONITOR}`,
    `frames ${bus.frames}, dropped ${bus.dropped}`,
    '',
  ];
  if (bus.timing !== undefined) lines.push(...timingLines(bus.timing), '');
  if (bus.faults !== undefined) {
    lines.push(`faults (${bus.faults.length})`);
    for (const f of bus.faults)
      lines.push(`  ${f.id}  ${f.member === undefined ? 'the whole bus' : (f.container ?? f.member.slice(0, 12))}: ${f.detail}`);
    lines.push('');
  }
  if (bus.span !== undefined) lines.push(...spanLines(bus.span), '');
  lines.push(`members (${bus.members.length})`);
  const filters = (m: BusDetail['members'][number]): string =>
    [m.send === undefined ? '' : `send ${m.send.join(',')}`, m.receive === undefined ? '' : `receive ${m.receive.join(',')}`]
      .filter(Boolean)
      .join('; ') || '-';
  lines.push(
    table(
      ['CONTAINER', 'INTERFACE', 'HOST END', 'FILTERS', 'MEMBER'],
      bus.members.map((m) => [m.container ?? '-', m.interface ?? '-', m.hostEnd, filters(m), m.id.slice(0, 12)]),
    ).trimEnd(),
    '',
  );
  lines.push(`gateways (${bus.gateways.length})`);
  for (const g of bus.gateways)
    lines.push(`  ${g.source} ${g.both ? '<->' : '->'} ${g.destination}  ${g.state}${g.detail === undefined ? '' : ` (${g.detail})`}`);
  lines.push('', `uplinks (${bus.uplinks.length})`);
  for (const u of bus.uplinks) lines.push(`  ${u.interface} ${u.direction}  ${u.state}${u.detail === undefined ? '' : ` (${u.detail})`}`);
  lines.push('', `rules (${bus.rules.length})`);
  lines.push(
    table(
      ['SOURCE', 'DESTINATION', 'KIND', 'FILTER', 'HANDLED', 'DROPPED', 'DELETED'],
      bus.rules.map((r) => [
        r.source,
        r.destination,
        r.fd ? 'fd' : 'classic',
        r.filter ?? '-',
        String(r.handled),
        String(r.dropped),
        String(r.deleted),
      ]),
    ).trimEnd(),
  );
  lines.push(
    '',
    bus.drift.length === 0
      ? 'drift: none (the kernel holds exactly the plan)'
      : `drift (${bus.drift.length}, repaired by the daemon's next change or restart):\n${bus.drift.map((d) => `  ${d}`).join('\n')}`,
  );
  return `${lines.join('\n')}\n`;
}

/** Runs `body` until it ends or Ctrl-C (or SIGTERM) asks it to stop: `run.stopped` turns true then. */
async function untilInterrupted<T>(
  body: (run: { readonly stopped: boolean }) => Promise<T>,
  onStop: () => void = () => undefined,
): Promise<T> {
  const run = { stopped: false };
  const interrupt = (): void => {
    run.stopped = true;
    onStop();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await body(run);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/**
 * The bus of that name (from the daemon) and a socket in the bus's namespace: on its monitor to watch it, and to send
 * on it too, but on a timed bus on its inject interface, where frames wait for the bus like any member's.
 */
async function openMonitor(
  name: string,
  controlSocket: string | undefined,
  options: { filters?: readonly IdFilter[]; timestamps?: boolean; send?: boolean } = {},
): Promise<{ bus: BusDetail; socket: CanSocketPort }> {
  const { filters, timestamps = false } = options;
  const bus = await callDaemon(controlSocketPath(controlSocket, DEFAULT_CONTROL_SOCKET), 'Bus.Inspect', { bus: name });
  const socket = systemKernel().canSocket(options.send === true ? (bus.sendOn ?? MONITOR) : MONITOR, {
    netns: { label: bus.name, path: bus.namespace },
    fd: bus.fd,
    timestamps,
    ...(filters === undefined ? {} : { filters }),
  });
  return { bus, socket };
}

/** The longest interface name the kernel takes (IFNAMSIZ less the NUL): canplayer refuses longer ones in a log. */
const IFNAME_MAX = 15;

function checkLogInterface(name: string): void {
  if (!/^[^\s/:]{1,15}$/u.test(name) || name === '.' || name === '..')
    throw new InvalidValueError('--interface', name, `an interface name: 1..${IFNAME_MAX} characters, no spaces, "/" or ":"`);
}

/** `--count N`: how many to take before stopping, 1 or more (all, until Ctrl-C, when absent). */
function countOption(text: string | undefined, what: string): number {
  if (text === undefined) return Infinity;
  const count = Number(text);
  if (!/^\d+$/u.test(text) || !Number.isSafeInteger(count) || count < 1)
    throw new InvalidValueError('--count', text, `a whole number of ${what}, 1 or more`);
  return count;
}

export function registerBusCommands(program: Command, io: CliIo, status: { code: number }): void {
  listCommand(program, io, {
    description:
      "list the buses: name, network id, FD, members, gateways, uplinks, frames carried and dropped, and this node's part in a span across nodes",
    method: 'Bus.List',
    head: ['NAME', 'ID', 'FD', 'BITRATE', 'LOAD', 'MEMBERS', 'GATEWAYS', 'UPLINKS', 'FRAMES', 'DROPPED', 'SPAN'],
    row: (b) => [
      b.name,
      b.id.slice(0, 12),
      b.fd ? 'yes' : 'no',
      b.timing === undefined ? '-' : shortBitrate(b.timing.bitrate),
      b.timing?.load === undefined ? '-' : percentText(b.timing.load),
      String(b.members),
      String(b.gateways),
      String(b.uplinks),
      String(b.frames),
      String(b.dropped + timedDrops(b.timing)),
      b.span === undefined ? '-' : `${b.span.mode}${b.span.role === undefined ? ' (no hub yet)' : ` ${b.span.role}`}`,
    ],
  });

  program
    .command('inspect')
    .description(
      "one bus in detail: members (container and interface, from Docker's API), gateways, uplinks, every kernel rule with its counters, and drift between the state and the kernel",
    )
    .argument('<bus>', 'the bus (its network name)')
    .option('--json', 'print it as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (name: string, options: { json?: boolean; controlSocket?: string }) => {
      const bus = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Bus.Inspect', {
        bus: name,
      });
      io.out(options.json === true ? `${JSON.stringify(bus, null, 2)}\n` : inspectText(bus));
      if (bus.drift.length > 0) status.code = 3;
    });

  program
    .command('send')
    .description('put frames on a bus (cansend syntax): every member receives each once, as if a member had sent it')
    .argument('<bus>', 'the bus (its network name)')
    .argument('<frames...>', 'frames: 123#DEADBEEF, 12345678#R, 123##1DEADBEEF (FD, flags 1 BRS, 2 ESI)')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (name: string, texts: string[], options: { controlSocket?: string }) => {
      const frames = texts.map((text, i) => parseCansend(`frame ${i + 1}`, text));
      const { bus, socket } = await openMonitor(name, options.controlSocket, { send: true });
      try {
        if (!bus.fd && frames.some((frame) => frame.kind === 'fd'))
          throw new InvalidValueError('frames', texts.join(' '), `classic frames: bus ${bus.name} is not FD`);
        for (const frame of frames) socket.send(frame);
      } finally {
        socket.close();
      }
    });

  program
    .command('events')
    .description(
      'follow the lifecycle of the buses as it happens: buses created and removed, members joining and leaving, gateways and uplinks added, removed, wired, up and down',
    )
    .option('--json', 'one JSON object per line, for tools')
    .option('--count <n>', 'stop after this many events')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (options: { json?: boolean; count?: string; controlSocket?: string }) => {
      const count = countOption(options.count, 'events');
      let seen = 0;
      const following = followDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Events.Stream', (event) => {
        io.out(options.json === true ? `${JSON.stringify(event)}\n` : `${eventText(event)}\n`);
        seen += 1;
        return seen < count;
      });
      await untilInterrupted(() => following.done, following.stop);
    });

  program
    .command('replay')
    .description('play a candump -L log into a bus, keeping its timing: every member receives each frame once')
    .argument('<bus>', 'the bus (its network name)')
    .argument('<file>', 'a candump -L log (candump -L, cantainer dump --log)')
    .option('--loop', 'start over at the end, until Ctrl-C')
    .option('--speed <x>', 'play faster (2) or slower (0.5); 0 sends as fast as possible', '1')
    .option('--interface <name>', 'only the frames logged on this interface (a log may hold several)')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (name: string, file: string, options: { loop?: boolean; speed: string; interface?: string; controlSocket?: string }) => {
      const speed = Number(options.speed);
      if (!Number.isFinite(speed) || speed < 0)
        throw new InvalidValueError('--speed', options.speed, 'a number 0 or above (0: as fast as possible)');
      const entries = parseCandumpLog(readFileSync(file, 'utf8'), file).filter(
        (entry) => options.interface === undefined || entry.iface === options.interface,
      );
      if (entries.length === 0) throw new InvalidValueError(file, options.interface ?? '', 'a log with frames (on that interface)');
      const { bus, socket } = await openMonitor(name, options.controlSocket, { send: true });
      try {
        const fd = entries.find((entry) => entry.frame.kind === 'fd');
        if (!bus.fd && fd !== undefined)
          throw new InvalidValueError(file, formatCansend(fd.frame), `classic frames only: bus ${bus.name} is not FD`);
        await untilInterrupted(async (run) => {
          do {
            const start = performance.now();
            const first = entries[0]?.timeMs ?? 0;
            for (const entry of entries) {
              if (run.stopped) break;
              const due = speed === 0 ? 0 : (entry.timeMs - first) / speed - (performance.now() - start);
              if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
              socket.send(entry.frame);
            }
          } while (options.loop === true && !run.stopped);
        });
      } finally {
        socket.close();
      }
    });

  program
    .command('dump')
    .description(
      "trace a bus live in candump's format (--log: candump -L lines, which canplayer replays), read from its monitor interface; stops on Ctrl-C or after --count frames",
    )
    .argument('<bus>', 'the bus (its network name)')
    .option(
      '--filter <id/mask>',
      'show only these ids (hex as candump: 123, 100/700, 18DAF110/1FFFFF00); ! before ids to leave out (!7DF); repeatable',
      collect,
    )
    .option('--log', "write candump -L log lines: (seconds.microseconds) interface frame, with the kernel's receive times")
    .option(
      '--interface <name>',
      `the interface named in --log lines (default: the bus's name, cut to ${IFNAME_MAX} characters, as canplayer takes them)`,
    )
    .option('--count <n>', 'stop after this many frames')
    .option('--timeout <seconds>', 'stop after this many seconds without a frame')
    .option(...CONTROL_SOCKET_OPTION)
    .action(
      async (
        name: string,
        options: { filter?: string[]; log?: boolean; interface?: string; count?: string; timeout?: string; controlSocket?: string },
      ) => {
        const count = countOption(options.count, 'frames');
        if (options.interface !== undefined) checkLogInterface(options.interface);
        const quietMs = options.timeout === undefined ? Infinity : Number(options.timeout) * 1000;
        if (Number.isNaN(quietMs) || quietMs <= 0) throw new InvalidValueError('--timeout', options.timeout, 'a number of seconds above 0');
        const filters = socketFilters('--filter', options.filter ?? []);
        const { bus, socket } = await openMonitor(name, options.controlSocket, {
          ...(filters === undefined ? {} : { filters }),
          timestamps: options.log === true,
        });
        const logInterface = options.interface ?? bus.name.slice(0, IFNAME_MAX);
        try {
          await untilInterrupted(async (run) => {
            let seen = 0;
            let quietSince = Date.now();
            let extendedSeen = false;
            while (!run.stopped && seen < count) {
              let stamped;
              try {
                stamped = await socket.receiveStamped(Math.min(200, quietMs));
              } catch (error) {
                // The monitor went down (someone took it down; the daemon brings it up again): go on reading.
                if (!(error instanceof KernelError && error.errno === Errno.ENETDOWN)) throw error;
                io.err(`cantainer: the monitor of bus ${bus.name} went down; waiting for it to come back\n`);
                continue;
              }
              if (stamped === undefined) {
                if (Date.now() - quietSince >= quietMs) break;
                continue;
              }
              const { frame, timeUs } = stamped;
              quietSince = Date.now();
              seen += 1;
              io.out(
                `${options.log === true ? formatCandumpLog(timeUs, logInterface, frame) : formatCandump(bus.name, frame, bus.name.length, extendedSeen)}\n`,
              );
              extendedSeen ||= frame.extended;
            }
          });
        } finally {
          socket.close();
        }
      },
    );
}
