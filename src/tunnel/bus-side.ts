// A tunnel's side on the bus: a raw CAN socket on the far end of its pair in the bus namespace. Frames from the
// network reach the bus through that socket (and can-gw takes them to every member but this one); the bus's frames
// come back through it, once each, to go out. Also what every carrier (UDP, TCP server, TCP client) offers.
import type { CanFrame } from '../can/frame.js';
import type { CanSocketPort } from '../kernel/port.js';
import { countDrop, type TunnelCounters } from './counters.js';
import type { RateLimitedLog } from './warnings.js';
import { errorMessage } from '../errors.js';

/** The bus side of a tunnel: what it may put on the bus, and the socket it goes through. */
export class BusSide {
  readonly #fd: boolean;
  readonly #counters: TunnelCounters;
  readonly #warnings: RateLimitedLog;
  readonly #fields: Readonly<Record<string, string>>;
  #socket: CanSocketPort | undefined;

  constructor(options: {
    readonly fd: boolean;
    readonly counters: TunnelCounters;
    readonly warnings: RateLimitedLog;
    readonly fields: Readonly<Record<string, string>>;
  }) {
    this.#fd = options.fd;
    this.#counters = options.counters;
    this.#warnings = options.warnings;
    this.#fields = options.fields;
  }

  get attached(): boolean {
    return this.#socket !== undefined;
  }

  /** Takes the socket to the bus (a new one after the pair was made again); frames from the bus go to `onFrames`. */
  attach(socket: CanSocketPort, onFrames: (frames: CanFrame[]) => void): void {
    this.#socket?.close();
    this.#socket = socket;
    socket.listen(
      (frames) => {
        // Error frames are the local controller's business: cannelloni does not forward them either.
        const carried = frames.filter((frame) => !frame.error);
        if (carried.length !== frames.length) countDrop(this.#counters, 'error-frame', frames.length - carried.length);
        if (carried.length > 0) onFrames(carried);
      },
      (error) => {
        // The pair went away (the bus was repaired or removed): the host attaches a new socket when it is back.
        this.#warnings.warn('bus-side', 'a tunnel lost its interface on the bus; it is attached again once the bus is wired', {
          ...this.#fields,
          error: error.message,
        });
        if (this.#socket === socket) this.detach();
      },
    );
  }

  detach(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  /** Puts frames from the network on the bus, in batches; returns those that went, for peers to share. */
  put(frames: readonly CanFrame[]): CanFrame[] {
    const eligible: CanFrame[] = [];
    for (const frame of frames) {
      if (frame.error) {
        countDrop(this.#counters, 'error-frame');
        continue;
      }
      if (frame.kind === 'fd' && !this.#fd) {
        countDrop(this.#counters, 'fd-on-classic');
        this.#warnings.warn(
          'fd-on-classic',
          'an FD frame came through a tunnel of a classic bus: dropped (create the bus with fd=true to carry FD frames)',
          { ...this.#fields, id: frame.id.toString(16) },
        );
        continue;
      }
      eligible.push(frame);
    }
    const socket = this.#socket;
    if (socket === undefined) {
      if (eligible.length > 0) countDrop(this.#counters, 'bus-refused', eligible.length);
      return [];
    }
    const sent: CanFrame[] = [];
    let at = 0;
    while (at < eligible.length) {
      const rest = at === 0 ? eligible : eligible.slice(at);
      try {
        const taken = socket.sendBatch(rest);
        if (taken === 0) throw new Error('the socket took no frame');
        for (let i = 0; i < taken; i++) sent.push(rest[i] as CanFrame);
        at += taken;
      } catch (error) {
        // The frame the kernel refused is dropped, counted; the next ones are tried.
        countDrop(this.#counters, 'bus-refused');
        this.#warnings.warn('bus-refused', 'the bus refused a frame from a tunnel', {
          ...this.#fields,
          error: errorMessage(error),
        });
        at += 1;
      }
    }
    this.#counters.framesIn += sent.length;
    return sent;
  }
}

/** A tunnel's network side, started and stopped by the host. */
export interface TunnelCarrier {
  /** Binds, listens or starts connecting; rejects when the address cannot be had (in use, not on this host). */
  start(): Promise<void>;
  /** Frames of the bus to send out. */
  send(frames: readonly CanFrame[]): void;
  /** Peers connected now (TCP), or undefined where there are none to count (UDP). */
  peers(): readonly string[] | undefined;
  close(): void;
}
