// What a bus may take that no other bus of the host may hold at the same time: a tunnel's listen address and port,
// and a host interface as an uplink. Pure decisions over the buses as stored.
import { BusConflictError, InvalidValueError } from '../errors.js';
import type { Bus } from './model.js';
import { listenKey, type Tunnel } from './tunnel.js';
import { uplinkHostEndName, type Uplink } from './uplink.js';

/** No two tunnels of this host listen on the same transport, address and port (the same tunnel again is fine). */
export function checkListenFree(buses: Iterable<Bus>, busId: string, tunnel: Tunnel): void {
  const key = listenKey(tunnel);
  if (key === undefined) return;
  for (const other of buses) {
    const taken = (other.tunnels ?? []).find((t) => (other.id !== busId || t.name !== tunnel.name) && listenKey(t) === key);
    if (taken !== undefined)
      throw new BusConflictError(
        `tunnel ${taken.name} of bus ${other.name} listens on ${tunnel.transport === 'udp' ? 'UDP' : 'TCP'} ${tunnel.listen ?? ''} already`,
        'one tunnel per address and port: choose another port, or remove that tunnel (cantainer tunnel rm)',
      );
  }
}

/** An interface joins one bus, and never one cantainer made itself (a member's or an uplink's end). */
export function checkUplinkUnclaimed(buses: Iterable<Bus>, bus: Bus, uplink: Uplink): void {
  for (const other of buses) {
    if (other.id !== bus.id && other.uplinks?.some((u) => u.interface === uplink.interface) === true)
      throw new BusConflictError(
        `${uplink.interface} is an uplink of bus ${other.name} already`,
        `an interface joins one bus; to join buses, use a gateway (cantainer gateway add ${other.name} ${bus.name})`,
      );
    const ours = [
      ...other.members.filter((member) => member.end.netns === undefined).map((member) => member.end.name),
      ...(other.uplinks ?? []).map((u) => uplinkHostEndName(other.id, u.interface)),
    ];
    if (ours.includes(uplink.interface))
      throw new InvalidValueError(
        'interface',
        uplink.interface,
        `an interface cantainer did not make (${uplink.interface} is an end of bus ${other.name})`,
      );
  }
}
