// A live trace of one bus for the dashboard, as `cantainer dump` reads it: a raw socket on the bus's monitor in its
// namespace, filtered by the kernel, each frame a line of `candump -ta` (kernel receive time, bus, id, length,
// bytes). Lines go out in batches ten times a second; a batch holds at most MAX_LINES, and what a batch could not
// hold is counted and said, never silently lost.
import { busNamespace, MONITOR } from '../bus/plan.js';
import type { IdFilter } from '../can/idset.js';
import { formatCandump } from '../can/text.js';
import { errorMessage } from '../errors.js';
import type { KernelPort } from '../kernel/port.js';
import { Errno } from '../netlink/errno.js';
import type { EventStream } from './sse.js';

const FLUSH_MS = 100;
/** Lines a batch holds: about 2000 frames/s, more than a page can show anyway. */
const MAX_LINES = 200;

export interface TraceBatch {
  readonly lines: readonly string[];
  /** Frames that crossed since the last batch and are not in it. */
  readonly skipped: number;
}

export interface TraceTarget {
  readonly id: string;
  readonly name: string;
  readonly fd: boolean;
}

/** `(seconds.microseconds)`, as candump -ta stamps a line. */
function stamp(timeUs: number): string {
  const whole = Math.round(timeUs);
  const seconds = Math.floor(whole / 1_000_000);
  return `(${seconds}.${String(whole - seconds * 1_000_000).padStart(6, '0')})`;
}

/** Streams `bus`'s frames to `stream` until either ends. */
export function traceBus(kernel: KernelPort, bus: TraceTarget, filters: readonly IdFilter[] | undefined, stream: EventStream): void {
  const socket = kernel.canSocket(MONITOR, {
    netns: kernel.owned(busNamespace(bus.id)),
    fd: bus.fd,
    timestamps: true,
    receiveBufferBytes: 1 << 20,
    ...(filters === undefined ? {} : { filters }),
  });
  let lines: string[] = [];
  let skipped = 0;
  let extendedSeen = false;
  socket.listen(
    (frames, timesUs) => {
      frames.forEach((frame, i) => {
        if (lines.length >= MAX_LINES) skipped += 1;
        else lines.push(`${stamp(timesUs[i] ?? Date.now() * 1000)}${formatCandump(bus.name, frame, bus.name.length, extendedSeen)}`);
        extendedSeen ||= frame.extended;
      });
    },
    (error) => {
      // The monitor down for a moment (the daemon brings it up again): go on. Gone: the bus went.
      if ((error as { errno?: number }).errno === Errno.ENETDOWN) stream.send('notice', { text: `the monitor of ${bus.name} went down` });
      else {
        stream.send('end', { text: `the trace of ${bus.name} ended: ${errorMessage(error)}` });
        stream.close();
      }
    },
  );
  const flush = setInterval(() => {
    if (lines.length === 0 && skipped === 0) return;
    const batch: TraceBatch = { lines, skipped };
    lines = [];
    skipped = 0;
    stream.send('frames', batch);
  }, FLUSH_MS);
  stream.onClose(() => {
    clearInterval(flush);
    socket.close();
  });
}
