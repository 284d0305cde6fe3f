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
import { checkBus, parseIdList, type Bus, type MemberEnd } from './model.js';
import { selectionFilters, type IdSelection } from '../can/idset.js';
import { gatewayChecksums, gatewayModifications, type GatewayPort } from './gateway.js';

export const MONITOR = 'monitor';

export interface VcanPlan {
  readonly kind: 'vcan';
  readonly name: string;
  readonly mtu: number;
}

/** The far end of a pair: where and how it is created. */
export interface PlanEnd extends MemberEnd {
  /** Created in the namespace of another bus (its namespace name): the far end of a gateway. */
  readonly busNamespace?: string;
  /** Its MTU when it differs from the near end's (a gateway between a classic and an FD bus). */
  readonly mtu?: number;
}

export interface VxcanPlan {
  readonly kind: 'vxcan';
  /** The near end, in the bus namespace. */
  readonly name: string;
  readonly mtu: number;
  /** The member whose pair this is; absent for a gateway's pair. */
  readonly memberId?: string;
  /** The gateway whose pair this is. */
  readonly gatewayKey?: string;
  /** The member's end (or the gateway's end in the other bus), created with the pair where it belongs. */
  readonly end: PlanEnd;
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

/**
 * The kernel objects of a bus with its members and the ports of its wired gateways. Sources are the members, the
 * monitor (frames injected there reach everyone) and the gateways bringing frames in; each sends to every member,
 * the monitor and every gateway taking frames out, never back to itself. Frames leave through a gateway only
 * through its filters (disjoint, so at most one rule per source matches a frame) with its edits.
 */
export function planBus(bus: Bus, ports: readonly GatewayPort[] = []): BusPlan {
  checkBus(bus);
  const mtu = busMtu(bus);
  const ends: VxcanPlan[] = bus.members.map((member) => ({ kind: 'vxcan', name: hostEndName(member.id), mtu, memberId: member.id, end: member.end }));
  const gateways: VxcanPlan[] = ports.map((port) => ({
    kind: 'vxcan',
    name: port.name,
    mtu,
    gatewayKey: port.key,
    end: { name: port.peer.name, busNamespace: busNamespace(port.peer.namespaceOf), up: true, ...(port.peer.mtu === mtu ? {} : { mtu: port.peer.mtu }) },
  }));
  const names = new Set([...ends, ...gateways].map((end) => end.name));
  if (names.size !== ends.length + gateways.length) throw new Error(`bus ${bus.name}: two member or gateway ids hash to the same interface name`);
  const busKinds = bus.fd ? [false, true] : [false];
  const rules: RulePlan[] = [];
  /** Rules for the frames all `selections` let through (one per disjoint filter), with a gateway's edits. */
  const add = (source: string, destination: string, kinds: readonly boolean[], selections: readonly IdSelection[], port?: GatewayPort): void => {
    const filters = selectionFilters(selections);
    for (const fd of kinds) {
      const modifications = port?.outgoing === undefined ? undefined : gatewayModifications(port.outgoing.edits, fd);
      const checksums = modifications === undefined || port?.outgoing === undefined ? {} : gatewayChecksums(port.outgoing);
      for (const filter of filters) {
        rules.push({ source, destination, ...RULE_FLAGS, ...(fd ? { fd: true } : {}), ...(filter === undefined ? {} : { filter }), ...(modifications === undefined ? {} : { modifications }), ...checksums });
      }
    }
  };
  const sends = new Map(bus.members.map((member, i) => [hostEndName(member.id), parseIdList(`bus.members[${i}].send`, member.send)]));
  const receives = new Map(bus.members.map((member, i) => [hostEndName(member.id), parseIdList(`bus.members[${i}].receive`, member.receive)]));
  const ALL: IdSelection = { accept: [], reject: [] };
  const sendOf = (name: string): IdSelection => sends.get(name) ?? ALL;
  const receiveOf = (name: string): IdSelection => receives.get(name) ?? ALL;
  const kindsOf = (port: GatewayPort): boolean[] => (port.fd ? busKinds : [false]);
  const leaving = (source: string, port: GatewayPort, kinds: readonly boolean[], selection: IdSelection): void => {
    if (port.outgoing === undefined) return;
    add(source, port.name, kinds.filter((fd) => !fd || port.fd), [selection, port.outgoing.selection], port);
  };
  for (const from of ends) {
    for (const to of ends) if (to !== from) add(from.name, to.name, busKinds, [sendOf(from.name), receiveOf(to.name)]);
    add(from.name, MONITOR, busKinds, [sendOf(from.name)]);
    for (const port of ports) leaving(from.name, port, busKinds, sendOf(from.name));
  }
  for (const to of ends) add(MONITOR, to.name, busKinds, [receiveOf(to.name)]);
  for (const port of ports) leaving(MONITOR, port, busKinds, ALL);
  for (const port of ports) {
    if (!port.incoming) continue;
    for (const to of ends) add(port.name, to.name, kindsOf(port), [receiveOf(to.name)]);
    add(port.name, MONITOR, kindsOf(port), []);
    for (const other of ports) if (other !== port) leaving(port.name, other, kindsOf(port), ALL);
  }
  return { busId: bus.id, busName: bus.name, namespace: busNamespace(bus.id), mtu, links: [{ kind: 'vcan', name: MONITOR, mtu }, ...ends, ...gateways], rules };
}

/** The rule with the ifindexes of its links, or undefined when one of them is missing. */
export function resolveRule(rule: RulePlan, indexOf: (name: string) => number | undefined): CanGwRule | undefined {
  const sourceIndex = indexOf(rule.source);
  const destinationIndex = indexOf(rule.destination);
  if (sourceIndex === undefined || destinationIndex === undefined) return undefined;
  const { source, destination, ...rest } = rule;
  return { sourceIndex, destinationIndex, ...rest };
}
