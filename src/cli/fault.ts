// `cantainer fault add|rm|ls`: faults on demand on a bus, timed or not: frames lost, delayed, or a member cut off
// (bus-off), for a while or until removed; kept across daemon restarts until they end.
import type { Command } from 'commander';
import { InvalidValueError } from '../errors.js';
import { parseDuration } from '../bus/fault.js';
import { DEFAULT_CONTROL_SOCKET, type FaultEntry } from '../control/protocol.js';
import { CONTROL_SOCKET_OPTION, callDaemon, controlSocketPath, listCommand } from './client.js';
import type { CliIo } from './output.js';

/** A number from an option: `10`, `2.5`, and for a percentage `10%`. */
function numberOption(field: string, text: string, allowed: string, percent = false): number {
  const body = percent ? text.replace(/%$/u, '') : text;
  const value = /^\d+(\.\d+)?$/u.test(body) ? Number(body) : Number.NaN;
  if (!Number.isFinite(value)) throw new InvalidValueError(field, text, allowed);
  return value;
}

function who(entry: FaultEntry): string {
  if (entry.member === undefined) return 'the whole bus';
  return entry.container ?? entry.member.slice(0, 12);
}

function faultLine(entry: FaultEntry): string {
  return `fault ${entry.id} on ${entry.bus}, ${who(entry)}: ${entry.detail}`;
}

interface AddOptions {
  member?: string;
  drop?: string;
  delay?: string;
  jitter?: string;
  off?: boolean;
  for?: string;
  json?: boolean;
  controlSocket?: string;
}

export function registerFaultCommands(program: Command, io: CliIo): void {
  const fault = program
    .command('fault')
    .description(
      "faults on demand on a bus, timed or not: frames lost or delayed (on the whole bus, or on what one member sends), or a member cut off the bus (it neither sends nor receives, like bus-off); for a while or until removed, kept across the daemon's restarts",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  cantainer fault add powertrain --drop 10\n  cantainer fault add powertrain --member engine --delay 20 --jitter 5 --for 30s\n  cantainer fault add powertrain --member brakes --off --for 2m\n  cantainer fault ls\n  cantainer fault rm powertrain f2\n  cantainer fault rm powertrain',
    );

  fault
    .command('add')
    .description('add a fault to bus BUS: exactly one of --drop, --delay and --off')
    .argument('<bus>', 'the bus (its network name)')
    .option('--member <name>', "only what this member sends (with --off: the member itself): its container's name or its id")
    .option('--drop <percent>', 'lose this share of the frames, above 0 up to 100 (10 or 10%)')
    .option('--delay <ms>', 'deliver the frames this many milliseconds late (up to 60000)')
    .option('--jitter <ms>', "with --delay: vary each frame's delay by up to this much either way; a sender's frames stay in order")
    .option('--off', 'cut the member off the bus: it neither sends nor receives (needs --member)')
    .option('--for <duration>', 'end the fault after this long: 30s, 5m, 2h, 1500ms (default: until removed)')
    .option('--json', 'print the fault as JSON')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (bus: string, options: AddOptions) => {
      const answer = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Fault.Add', {
        bus,
        ...(options.member === undefined ? {} : { member: options.member }),
        ...(options.drop === undefined ? {} : { drop: numberOption('--drop', options.drop, 'a percentage above 0, up to 100', true) }),
        ...(options.delay === undefined ? {} : { delayMs: numberOption('--delay', options.delay, 'milliseconds above 0, up to 60000') }),
        ...(options.jitter === undefined ? {} : { jitterMs: numberOption('--jitter', options.jitter, 'milliseconds, up to the delay') }),
        ...(options.off === true ? { off: true } : {}),
        ...(options.for === undefined ? {} : { forMs: parseDuration('--for', options.for) }),
      });
      io.out(options.json === true ? `${JSON.stringify(answer.fault, null, 2)}\n` : `${faultLine(answer.fault)}\n`);
    });

  fault
    .command('rm')
    .description('remove faults of bus BUS by id (f1, f2, ...), or all of them when none is named')
    .argument('<bus>', 'the bus (its network name)')
    .argument('[ids...]', 'the faults (cantainer fault ls lists them)')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (bus: string, ids: string[], options: { controlSocket?: string }) => {
      const answer = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Fault.Remove', { bus, ids });
      io.out(
        answer.removed.length === 0 ? `bus ${bus} had no fault\n` : answer.removed.map((entry) => `removed ${faultLine(entry)}\n`).join(''),
      );
    });

  listCommand(fault, io, {
    description: 'list the faults: bus, id, whom they hit, what they do, until when',
    method: 'Fault.List',
    head: ['BUS', 'FAULT', 'WHO', 'WHAT', 'UNTIL'],
    row: (entry) => [entry.bus, entry.id, who(entry), entry.detail.replace(/ until .*$/u, ''), entry.until ?? 'removed'],
  });
}
