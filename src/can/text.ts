// CAN frames as can-utils writes them: cansend's compact syntax (123#DEADBEEF, 12345678#R, 123##1DEADBEEF for CAN
// FD with its flags nibble), candump's default long lines, and candump -L log lines (which canplayer reads).
import { InvalidValueError } from '../errors.js';
import { CANFD_BRS, CANFD_ESI, CANFD_FDF, CANFD_LENGTHS, classicFrame, fdFrame, type CanFrame } from './frame.js';

const SYNTAX =
  'ID#DATA as cansend takes it: 3 hex digits for a standard id, 8 for an extended one; data in hex (123#DEADBEEF, 123#11.22, 123#R, 12345678#R4); CAN FD: ID##FLAGS then data (123##1DEADBEEF, flags 1 BRS, 2 ESI)';

function bytes(field: string, text: string, hex: string): number[] {
  const clean = hex.replace(/\./gu, '');
  if (!/^([0-9A-Fa-f]{2})*$/u.test(clean)) throw new InvalidValueError(field, text, SYNTAX);
  return [...Buffer.from(clean, 'hex')];
}

/** Parses one frame in cansend's syntax. */
export function parseCansend(field: string, text: string): CanFrame {
  const match = /^([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})(##?)(.*)$/u.exec(text.trim());
  if (match === null) throw new InvalidValueError(field, text, SYNTAX);
  const [, idText = '', separator, rest = ''] = match;
  const extended = idText.length === 8;
  const id = Number.parseInt(idText, 16);
  try {
    if (separator === '##') {
      const flagsText = rest.slice(0, 1);
      if (!/^[0-9A-Fa-f]$/u.test(flagsText)) throw new InvalidValueError(field, text, SYNTAX);
      const flags = Number.parseInt(flagsText, 16);
      const data = bytes(field, text, rest.slice(1));
      if (!CANFD_LENGTHS.includes(data.length))
        throw new InvalidValueError(field, text, `${SYNTAX}; a CAN FD frame has ${CANFD_LENGTHS.join(', ')} bytes`);
      return fdFrame({ id, extended, brs: (flags & CANFD_BRS) !== 0, esi: (flags & CANFD_ESI) !== 0, data });
    }
    const remote = /^[Rr]([0-8])?$/u.exec(rest);
    if (remote !== null) return classicFrame({ id, extended, rtr: true, data: new Uint8Array(Number(remote[1] ?? '0')) });
    return classicFrame({ id, extended, data: bytes(field, text, rest) });
  } catch (error) {
    if (error instanceof InvalidValueError && error.field !== field)
      throw new InvalidValueError(field, text, `${SYNTAX}; ${error.message}`);
    throw error;
  }
}

function idText(frame: CanFrame): string {
  return frame.extended || frame.error
    ? (frame.id | (frame.error ? 0x20000000 : 0)).toString(16).toUpperCase().padStart(8, '0')
    : frame.id.toString(16).toUpperCase().padStart(3, '0');
}

const hex = (data: Uint8Array, separator: string): string =>
  [...data].map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(separator);

/** A frame in cansend's syntax, as candump -L writes it: FD flags with the FDF bit (4), as can-utils 2023 does. */
export function formatCansend(frame: CanFrame): string {
  if (frame.kind === 'fd')
    return `${idText(frame)}##${((frame.brs ? CANFD_BRS : 0) | (frame.esi ? CANFD_ESI : 0) | CANFD_FDF).toString(16).toUpperCase()}${hex(frame.data, '')}`;
  if (frame.rtr) return `${idText(frame)}#R${frame.data.length > 0 ? String(frame.data.length) : ''}`;
  return `${idText(frame)}#${hex(frame.data, '')}`;
}

/**
 * One line of candump's default output: interface, id, [length], data bytes. candump indents standard ids by five
 * spaces once it has shown an extended one, so that columns line up: pass `indentStandard` from then on.
 */
export function formatCandump(iface: string, frame: CanFrame, width = iface.length, indentStandard = false): string {
  const id = `${indentStandard && !frame.extended && !frame.error ? '     ' : ''}${idText(frame)}`;
  const length = frame.kind === 'fd' ? `[${String(frame.data.length).padStart(2, '0')}]` : ` [${frame.data.length}]`;
  const body =
    frame.kind === 'classic' && frame.rtr
      ? `${id}  ${length}  remote request`
      : `${id}  ${length} ${frame.data.length === 0 ? '' : ` ${hex(frame.data, ' ')}`}`;
  return `  ${iface.padStart(width)}  ${body.trimEnd()}`;
}

/** One line of candump -L: `(seconds.microseconds) interface frame`, which canplayer replays. */
export function formatCandumpLog(timeUs: number, iface: string, frame: CanFrame): string {
  const whole = Math.round(timeUs);
  const seconds = Math.floor(whole / 1_000_000);
  const micros = whole - seconds * 1_000_000;
  return `(${String(seconds).padStart(10, '0')}.${String(micros).padStart(6, '0')}) ${iface} ${formatCansend(frame)}`;
}

/** A line of a candump -L log: when, on which interface, which frame. */
export interface LogEntry {
  /** Milliseconds since the epoch (microseconds as a fraction). */
  readonly timeMs: number;
  readonly iface: string;
  readonly frame: CanFrame;
}

const LOG_LINE = /^\((\d+)\.(\d{6})\)\s+(\S+)\s+(\S+)(?:\s+[TR])?\s*$/u;

/**
 * Parses a candump -L log (as candump -L and `cantainer dump --log` write it): one frame per line, blank lines and
 * lines starting with # skipped. A bad line fails with its number.
 */
export function parseCandumpLog(text: string, source = 'log'): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = LOG_LINE.exec(line);
    if (match === null)
      throw new InvalidValueError(`${source} line ${i + 1}`, line, '(SECONDS.MICROSECONDS) INTERFACE FRAME, as candump -L writes it');
    const [, seconds = '0', micros = '0', iface = '', frame = ''] = match;
    entries.push({ timeMs: Number(seconds) * 1000 + Number(micros) / 1000, iface, frame: parseCansend(`${source} line ${i + 1}`, frame) });
  }
  return entries;
}
