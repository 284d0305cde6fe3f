// ECUs for unit tests on the fake kernel: members whose end is can0 in a namespace of their own, and what every
// ECU, monitor and host interface hears when one of them sends (through the frame simulator).
import type { Member } from '../../src/bus/model.js';
import { busNamespace } from '../../src/bus/plan.js';
import { CURRENT_NETNS, type CanSocketPort } from '../../src/kernel/port.js';
import type { FakeKernel } from './fake-kernel.js';
import { countAt, transmit, type SimFrame } from './frame-sim.js';

export function ecu(kernel: FakeKernel, name: string): Member {
  if (!kernel.hasPath(`/ecu/${name}`)) kernel.addForeignNamespace(`/ecu/${name}`, name);
  return { id: name, end: { name: 'can0', netns: `/ecu/${name}`, up: true } };
}

/** A raw socket on ECU `name`'s can0, added to `opened` for the test to close. */
export function ecuSocket(kernel: FakeKernel, name: string, opened: CanSocketPort[]): CanSocketPort {
  const socket = kernel.canSocket('can0', { netns: { label: name, path: `/ecu/${name}` } });
  opened.push(socket);
  return socket;
}

/** Where a frame sent by ECU `from` (or by a socket on a host interface, `host/vcan0`) is heard, and how often. */
export function heard(kernel: FakeKernel, from: string, frame: SimFrame, hostInterfaces: readonly string[] = []): Record<string, number> {
  const [place, ifname] = from.startsWith('host/') ? [CURRENT_NETNS, from.slice(5)] : [{ label: from, path: `/ecu/${from}` }, 'can0'];
  const all = countAt(transmit(kernel, place, ifname, frame));
  // Only what sockets of ECUs, monitors and the named host interfaces hear: pair ends are nobody's.
  return Object.fromEntries(
    Object.entries(all).filter(
      ([at]) => at.endsWith('/can0') || at.endsWith('/monitor') || hostInterfaces.some((name) => at === `host/${name}`),
    ),
  );
}

export const monitorOf = (busId: string): string => `${busNamespace(busId)}/monitor`;
