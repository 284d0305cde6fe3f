// The host interfaces uplinks join to buses, as the kernel has them now: whether each is there and CAN, what to tell
// the user about it, and whether it changed since its bus was last wired (an adapter unplugged and plugged in
// again, a vcan deleted and made again), so that the uplink watch rewires only when needed.
import { InvalidValueError } from '../errors.js';
import { CURRENT_NETNS, type KernelPort } from '../kernel/port.js';
import { checkUplinkUnclaimed } from '../bus/claims.js';
import type { Bus } from '../bus/model.js';
import type { Uplink, UplinkPort } from '../bus/uplink.js';
import { ARPHRD_CAN } from '../netlink/constants.js';
import { CAN_LINK_MTU, type Link } from '../netlink/link.js';

/** An uplink with whether its interface is there and what to know about it. */
export interface UplinkView {
  readonly bus: string;
  readonly uplink: Uplink;
  /** up: the interface is there and wired (frames cross while it is up); down: it is not there, or not CAN. */
  readonly state: 'up' | 'down';
  readonly detail?: string;
}

export class UplinkInterfaces {
  readonly #kernel: KernelPort;
  /** The interface of each uplink as last wired (index, type, MTU, or gone), to notice it come and go. */
  readonly #signatures = new Map<string, string>();

  constructor(kernel: KernelPort) {
    this.#kernel = kernel;
  }

  /** The uplink as the reconciler plans it: whether its interface is there, CAN, and FD on an FD bus. */
  port(bus: Bus, uplink: Uplink): UplinkPort {
    const link = this.#hostLink(uplink.interface);
    const present = link?.type === ARPHRD_CAN;
    return { uplink, present, fd: present && (link.mtu ?? 0) >= CAN_LINK_MTU.fd && bus.fd };
  }

  /** Notes what the bus's uplink interfaces are now: it was just wired against them. */
  remember(bus: Bus): void {
    for (const uplink of bus.uplinks ?? []) this.#signatures.set(`${bus.id}\0${uplink.interface}`, this.#signature(uplink.interface));
  }

  /** The uplinks of the bus whose interface changed since the bus was last wired. */
  moved(bus: Bus): Uplink[] {
    return (bus.uplinks ?? []).filter(
      (uplink) => this.#signatures.get(`${bus.id}\0${uplink.interface}`) !== this.#signature(uplink.interface),
    );
  }

  view(bus: Bus, uplink: Uplink): UplinkView {
    const link = this.#hostLink(uplink.interface);
    if (link === undefined)
      return {
        bus: bus.name,
        uplink,
        state: 'down',
        detail: `${uplink.interface} is not there; the bus goes on without it and the uplink is wired again when it comes back`,
      };
    if (link.type !== ARPHRD_CAN)
      return { bus: bus.name, uplink, state: 'down', detail: `${uplink.interface} is not a CAN interface (type ${link.type})` };
    const fd = (link.mtu ?? 0) >= CAN_LINK_MTU.fd;
    const notes = [
      ...(link.up ? [] : [`${uplink.interface} is down: frames cross once it is up (ip link set ${uplink.interface} up)`]),
      ...(bus.fd && !fd ? [`classic frames only: ${uplink.interface} is not FD (MTU ${link.mtu ?? '?'})`] : []),
    ];
    return { bus: bus.name, uplink, state: 'up', ...(notes.length === 0 ? {} : { detail: notes.join('; ') }) };
  }

  /** The interface exists, is CAN, and is no other bus's uplink nor an end cantainer made. */
  check(buses: Iterable<Bus>, bus: Bus, uplink: Uplink): void {
    const link = this.#hostLink(uplink.interface);
    if (link === undefined)
      throw new InvalidValueError(
        'interface',
        uplink.interface,
        'an existing CAN interface of this host (ip -details link show type can, vcan)',
      );
    if (link.type !== ARPHRD_CAN)
      throw new InvalidValueError('interface', uplink.interface, `a CAN interface; ${uplink.interface} has link type ${link.type}`);
    checkUplinkUnclaimed(buses, bus, uplink);
  }

  #signature(name: string): string {
    const link = this.#hostLink(name);
    return link === undefined ? 'gone' : `${link.index}:${link.type}:${link.mtu ?? '?'}`;
  }

  #hostLink(name: string): Link | undefined {
    const host = this.#kernel.route(CURRENT_NETNS);
    try {
      return host.findLink(name);
    } finally {
      host.close();
    }
  }
}
