// What a tunnel counts: frames, bytes and datagrams each way, and what it dropped, by cause.
import type { WireProblemCause } from '../cannelloni/codec.js';

/** Why frames or packets were not carried; each is counted apart. */
export type DropCause =
  | WireProblemCause
  /** A datagram or connection from an address the tunnel does not take. */
  | 'not-allowed'
  /** An FD frame for a classic bus (cannelloni drops those too, with a warning). */
  | 'fd-on-classic'
  /** Error frames stay on their bus, as cannelloni keeps them. */
  | 'error-frame'
  /** The bus side refused a frame (its interface down or gone). */
  | 'bus-refused'
  /** A TCP peer that made no progress reading for the stated time, disconnected. */
  | 'slow-peer'
  /** Frames for a TCP peer further behind than its queue holds: the oldest are dropped for that peer only. */
  | 'queue-full'
  /** Bus frames with nobody to send them to (no client connected, the server not reached yet). */
  | 'not-connected'
  /** A TCP server at its limit of clients. */
  | 'too-many-clients'
  /** The network refused a packet (no route, a full socket buffer). */
  | 'send-failed';

export interface TunnelCounters {
  /** Frames from the network put on the bus. */
  framesIn: number;
  /** Frames of the bus sent out (once per frame, however many peers got it). */
  framesOut: number;
  /** Bytes received and sent on the network (cannelloni's format, headers included). */
  bytesIn: number;
  bytesOut: number;
  /** UDP datagrams (TCP: 0). */
  packetsIn: number;
  packetsOut: number;
  /** UDP: datagrams missing from the sequence numbers (lost; taken off again if one comes late), and those that came late. */
  packetsLost: number;
  reordered: number;
  /**
   * UDP: datagrams whose sequence number came from behind without having been skipped: the far side restarted (its
   * numbers begin again at 0), or a datagram was duplicated, or more than 127 datagrams in a row were lost, which an
   * 8-bit sequence number cannot tell from a restart. The loss count starts again from there.
   */
  sequenceRestarts: number;
  /** TCP: connections made and ended. */
  connects: number;
  disconnects: number;
  dropped: Partial<Record<DropCause, number>>;
  /** Frames (not datagrams or connections) dropped, by reason: the part of `dropped` that counts frames. */
  droppedFrames: Partial<Record<FrameDropReason, number>>;
}

/** The causes that count frames (the others count datagrams or connections). */
export const FRAME_DROP_REASONS = ['queue-full', 'not-connected', 'fd-on-classic', 'error-frame', 'bus-refused'] as const;
export type FrameDropReason = (typeof FRAME_DROP_REASONS)[number];

function isFrameDrop(cause: DropCause): cause is FrameDropReason {
  return (FRAME_DROP_REASONS as readonly string[]).includes(cause);
}

export function newCounters(): TunnelCounters {
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
    packetsLost: 0,
    reordered: 0,
    sequenceRestarts: 0,
    connects: 0,
    disconnects: 0,
    dropped: {},
    droppedFrames: {},
  };
}

export function countDrop(counters: TunnelCounters, cause: DropCause, n = 1): void {
  counters.dropped[cause] = (counters.dropped[cause] ?? 0) + n;
  if (isFrameDrop(cause)) counters.droppedFrames[cause] = (counters.droppedFrames[cause] ?? 0) + n;
}
