// Frames through the fake kernel's links and can-gw rules, with the semantics of net/can/gw.c, af_can, vcan and
// vxcan that the bus plan relies on: a rule matches its source, frame kind (classic or FD) and filter (inverted
// filters included); frames that made max_hops hops are deleted; the first hop of a rule with a hop limit jumps
// the counter to max_hops - limit + 1; modifications (and, or, xor, set) then checksums (CRC8, then XOR); an
// echoing rule loops the frame back on its destination (a vcan only shows a frame to its sockets that way); a vxcan
// hands the frame to its peer with the hop counter reset. Used to prove exactly-once delivery of plans, not timing.
import type { NetnsTarget } from '../../src/kernel/port.js';
import { CAN_INV_FILTER } from '../../src/can/frame.js';
import type { CanGwRule, FrameModification } from '../../src/netlink/cangw.js';
import type { FakeKernel, FakeLink } from './fake-kernel.js';

export interface SimFrame {
  readonly canId: number;
  readonly fd: boolean;
  readonly len: number;
  /** 8 bytes (classic) or 64 (FD); bytes past `len` are zero. */
  readonly data: Uint8Array;
  readonly flags: number;
}

export function simFrame(canId: number, hex = '', fd = false): SimFrame {
  const bytes = Buffer.from(hex, 'hex');
  const data = new Uint8Array(fd ? 64 : 8);
  data.set(bytes);
  return { canId: canId >>> 0, fd, len: bytes.length, data, flags: 0 };
}

export interface Reception {
  /** The namespace's label and the link's name. */
  readonly at: string;
  readonly frame: SimFrame;
  /** The link whose sockets receive it. */
  readonly link: FakeLink;
}

function matches(rule: CanGwRule, frame: SimFrame): boolean {
  if ((rule.fd === true) !== frame.fd) return false;
  if (rule.filter === undefined) return true;
  const inverted = (rule.filter.id & CAN_INV_FILTER) !== 0;
  const mask = rule.filter.mask >>> 0;
  const equal = ((frame.canId ^ rule.filter.id) & mask & ~CAN_INV_FILTER) >>> 0 === 0;
  return inverted ? !equal : equal;
}

function modify(frame: SimFrame, rule: CanGwRule): SimFrame {
  let { canId, len, flags } = frame;
  const data = Uint8Array.from(frame.data);
  const apply = (mod: FrameModification | undefined, op: (a: number, b: number) => number): void => {
    if (mod === undefined) return;
    if (mod.fields.includes('id')) canId = op(canId, mod.canId) >>> 0;
    if (mod.fields.includes('len')) len = op(len, mod.len) & 0xff;
    if (mod.fields.includes('flags')) flags = op(flags, mod.flags) & 0xff;
    if (mod.fields.includes('data')) for (let i = 0; i < data.length; i++) data[i] = op(data[i] ?? 0, mod.data[i] ?? 0) & 0xff;
  };
  const mods = rule.modifications;
  apply(mods?.and, (a, b) => a & b);
  apply(mods?.or, (a, b) => a | b);
  apply(mods?.xor, (a, b) => a ^ b);
  apply(mods?.set, (_a, b) => b);
  const index = (i: number): number => (i < 0 ? len + i : i);
  const crc = rule.crc8Checksum;
  if (crc !== undefined) {
    let value = crc.initialValue;
    const [from, to] = [index(crc.fromIndex), index(crc.toIndex)];
    for (let i = from; from <= to ? i <= to : i >= to; i += from <= to ? 1 : -1) value = crc.table[value ^ (data[i] ?? 0)] ?? 0;
    data[index(crc.resultIndex)] = value ^ crc.finalXor;
  }
  const xor = rule.xorChecksum;
  if (xor !== undefined) {
    let value = xor.initialValue;
    const [from, to] = [index(xor.fromIndex), index(xor.toIndex)];
    for (let i = from; from <= to ? i <= to : i >= to; i += from <= to ? 1 : -1) value ^= data[i] ?? 0;
    data[index(xor.resultIndex)] = value;
  }
  return { ...frame, canId, len, flags, data };
}

interface Arrival {
  readonly link: FakeLink;
  readonly frame: SimFrame;
  readonly hops: number;
  /** Received by the link's own sockets (false for a sender's local loopback, which its socket does not see). */
  readonly shown: boolean;
}

/**
 * Sends `frame` from a socket on `ifname` in `netns` and returns every reception by a socket on any link, in the
 * order the softirq would handle them. The sender's own loopback is not a reception, as CAN_RAW's default.
 */
export function transmit(kernel: FakeKernel, netns: NetnsTarget, ifname: string, frame: SimFrame): Reception[] {
  const link = kernel.linkAt(netns, ifname);
  if (link === undefined) throw new Error(`no link ${ifname} in ${netns.label}`);
  const queue: Arrival[] = [];
  const receptions: Reception[] = [];
  const send = (on: FakeLink, sent: SimFrame, hops: number, loop: boolean, shownLocally: boolean): void => {
    if (!on.up) return;
    if (on.kind === 'vxcan') {
      if (on.peer?.up === true) queue.push({ link: on.peer, frame: sent, hops: 0, shown: true });
      if (loop) queue.push({ link: on, frame: sent, hops, shown: shownLocally });
    } else if (on.kind === 'vcan' && loop) {
      queue.push({ link: on, frame: sent, hops, shown: shownLocally });
    }
  };
  send(link, frame, 0, true, false);
  for (let guard = 0; queue.length > 0; guard++) {
    if (guard > 100_000) throw new Error('frames without end: a forwarding loop');
    const arrival = queue.shift() as Arrival;
    if (arrival.shown)
      receptions.push({ at: `${arrival.link.netns.target.label}/${arrival.link.name}`, frame: arrival.frame, link: arrival.link });
    // Counted as can-gw counts: deleted by the hop limit or a length that no longer fits, dropped when the
    // destination is down, handled when sent.
    for (const { rule, counters } of arrival.link.netns.rules) {
      if (rule.sourceIndex !== arrival.link.index || !matches(rule, arrival.frame)) continue;
      if (arrival.hops >= kernel.maxHops) {
        counters.deleted += 1;
        continue;
      }
      const destination = arrival.link.netns.byIndex(rule.destinationIndex);
      if (destination?.up !== true) {
        counters.dropped += 1;
        continue;
      }
      if (rule.allowToIncomingInterface !== true && destination === arrival.link) continue;
      let hops = arrival.hops + 1;
      if (rule.hopLimit !== undefined && hops === 1) hops = kernel.maxHops - rule.hopLimit + 1;
      const sent = rule.modifications === undefined ? arrival.frame : modify(arrival.frame, rule);
      if (sent.len > (sent.fd ? 64 : 8)) {
        counters.deleted += 1;
        continue;
      }
      counters.handled += 1;
      send(destination, sent, hops, rule.echo === true, true);
    }
  }
  return receptions;
}

/** Receptions counted per place, for exact assertions. */
export function countAt(receptions: readonly Reception[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { at } of receptions) counts[at] = (counts[at] ?? 0) + 1;
  return counts;
}
