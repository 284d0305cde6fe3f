// From a bus to the kernel objects it needs, as data: one pure function, so that the reconciler, `inspect`
// and the tests all agree on what "the bus is wired" means.
//
// Topology (proved in the lab, see README): in the bus's own hidden namespace, one vxcan host end per member and
// a monitor vcan; a can-gw rule from every member to every other member (a mesh, not a hub) and to the monitor,
// and from the monitor to every member. Every rule echoes (a vcan destination needs it), skips the
// incoming-interface check (ifindexes from other namespaces collide with ours) and carries a hop limit of 1, so a
// frame is delivered exactly once whatever the can_gw module's max_hops is. FD buses get FD rules too.
import { createHash } from 'node:crypto';
import type { CanGwRule } from '../netlink/cangw.js';
import { CAN_LINK_MTU } from '../netlink/link.js';
import { checkBus, type Bus, type MemberEnd } from './model.js';

export const MONITOR = 'monitor';

export interface VcanPlan {
  readonly kind: 'vcan';
  readonly name: string;
  readonly mtu: number;
}

export interface VxcanPlan {
  readonly kind: 'vxcan';
  /** The host end, in the bus namespace. */
  readonly name: string;
  readonly mtu: number;
  readonly memberId: string;
  /** The member's end, created with the pair wherever the member wants it. */
  readonly end: MemberEnd;
}

export type LinkPlan = VcanPlan | VxcanPlan;

/** A can-gw rule between links named in the bus namespace; ifindexes are resolved when it is applied. */
export interface RulePlan extends Omit<CanGwRule, 'sourceIndex' | 'destinationIndex'> {
  readonly source: string;
  readonly destination: string;
}

export interface BusPlan {
  readonly busId: string;
  readonly busName: string;
  /** Name of the bus's own namespace (in the kernel layer's namespace store). */
  readonly namespace: string;
  readonly mtu: number;
  readonly links: readonly LinkPlan[];
  readonly rules: readonly RulePlan[];
}

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** The namespace of a bus: derived from its id alone, so it is found again after a restart. */
export function busNamespace(busId: string): string {
  return `cbus-${shortHash(busId, 12)}`;
}

/** The host end of a member in the bus namespace (13 characters, within the kernel's 15). */
export function hostEndName(memberId: string): string {
  return `m${shortHash(memberId, 12)}`;
}

export function busMtu(bus: Pick<Bus, 'fd'>): number {
  return bus.fd ? CAN_LINK_MTU.fd : CAN_LINK_MTU.classic;
}

const RULE_FLAGS = { echo: true, allowToIncomingInterface: true, hopLimit: 1 } as const;

export function planBus(bus: Bus): BusPlan {
  checkBus(bus);
  const mtu = busMtu(bus);
  const ends: VxcanPlan[] = bus.members.map((member) => ({ kind: 'vxcan', name: hostEndName(member.id), mtu, memberId: member.id, end: member.end }));
  const names = new Set(ends.map((end) => end.name));
  if (names.size !== ends.length) throw new Error(`bus ${bus.name}: two member ids hash to the same interface name`);
  const frameKinds = bus.fd ? [false, true] : [false];
  const rules: RulePlan[] = [];
  const add = (source: string, destination: string): void => {
    for (const fd of frameKinds) rules.push({ source, destination, ...RULE_FLAGS, ...(fd ? { fd: true } : {}) });
  };
  for (const from of ends) {
    for (const to of ends) if (to !== from) add(from.name, to.name);
    add(from.name, MONITOR);
  }
  for (const to of ends) add(MONITOR, to.name);
  return { busId: bus.id, busName: bus.name, namespace: busNamespace(bus.id), mtu, links: [{ kind: 'vcan', name: MONITOR, mtu }, ...ends], rules };
}

/** The rule with the ifindexes of its links, or undefined when one of them is missing. */
export function resolveRule(rule: RulePlan, indexOf: (name: string) => number | undefined): CanGwRule | undefined {
  const sourceIndex = indexOf(rule.source);
  const destinationIndex = indexOf(rule.destination);
  if (sourceIndex === undefined || destinationIndex === undefined) return undefined;
  const { source, destination, ...rest } = rule;
  return { sourceIndex, destinationIndex, ...rest };
}
