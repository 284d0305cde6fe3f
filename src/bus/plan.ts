// From a bus to the kernel objects it needs, as data: one pure function, so that the reconciler, `inspect`
// and the tests all agree on what "the bus is wired" means.
//
// Topology (proved in the lab, see README): in the bus's own hidden namespace, one vxcan host end per member and
// a monitor vcan; a can-gw rule from every member to every other member (a mesh, not a hub) and to the monitor,
// and from the monitor to every member. Rules into the monitor echo (a vcan shows a frame only through local
// loopback); rules into vxcan ends do not (the peer gets the frame anyway, and a loopback copy on our end would
// only meet the bus's rules again there, to be dropped by the hop limit: work per delivery for nothing). Every
// rule skips the incoming-interface check (ifindexes from other namespaces collide with ours) and carries a hop
// limit of 1, so a frame is delivered exactly once whatever the can_gw module's max_hops is. FD buses get FD rules
// too.
//
// A timed bus has the same rules, but each starts at its sender's release vcan instead of the sender's end: the
// daemon's arbiter reads every sender's end and, when a frame has crossed the simulated wire, writes it once on that
// sender's release vcan, whose rules take it to everyone else. Host tools inject on a vcan of their own (INJECT).
import type { CanGwRule } from '../netlink/cangw.js';
import { shortHash } from './hash.js';
import { CAN_LINK_MTU } from '../netlink/link.js';
import { checkBus, parseIdList, type Bus, type MemberEnd } from './model.js';
import { selectionFilters, type IdSelection } from '../can/idset.js';
import { gatewayChecksums, gatewayModifications, type GatewayPort } from './gateway.js';
import { uplinkEndName, uplinkHostEndName, uplinkSelection, type UplinkPort } from './uplink.js';
import { tunnelEndName, tunnelPortName } from './tunnel.js';
import { membersOff, needsArbiter, type Fault } from './fault.js';

export const MONITOR = 'monitor';
/**
 * Where host tools put frames on a timed bus: there the monitor only shows what crossed (frames sent on it would be
 * seen again when the rules echo them back), so injected frames come in here and wait for the bus like any other.
 */
export const INJECT = 'inject';

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
  /** The interface whose uplink this pair is. */
  readonly uplinkOf?: string;
  /** The tunnel whose pair this is (its far end is in the bus namespace too). */
  readonly tunnelOf?: string;
  /** The member's end (or the gateway's end in the other bus), created with the pair where it belongs. */
  readonly end: PlanEnd;
}

export type LinkPlan = VcanPlan | VxcanPlan;

/** A can-gw rule between links named in the bus namespace; ifindexes are resolved when it is applied. */
export interface RulePlan extends Omit<CanGwRule, 'sourceIndex' | 'destinationIndex'> {
  readonly source: string;
  readonly destination: string;
}

/** What faults do to a sender's frames in the arbiter (bus/fault.ts): lost, delayed. */
export interface SenderFaults {
  /** The share of its frames lost, 0..1. */
  readonly drop?: number;
  readonly delayMs?: number;
  readonly jitterMs?: number;
}

/** A sender of a timed bus: the end its frames arrive on, and the vcan the arbiter puts them on once they crossed. */
export interface TimedSender {
  readonly end: string;
  readonly release: string;
  readonly faults?: SenderFaults;
}

/**
 * How a bus whose frames go through the daemon's arbiter is wired beside its links and rules: what the arbiter
 * reads and writes. A timed bus has its bit rates; an untimed bus with faults that lose or delay frames has none
 * (its frames take no bus time).
 */
export interface TimingPlan {
  readonly bitrate?: number;
  readonly dbitrate?: number;
  readonly senders: readonly TimedSender[];
}

export interface BusPlan {
  readonly busId: string;
  readonly busName: string;
  /** Name of the bus's own namespace (in the kernel layer's namespace store). */
  readonly namespace: string;
  readonly mtu: number;
  readonly links: readonly LinkPlan[];
  readonly rules: readonly RulePlan[];
  /** Ends of pairs in the daemon's namespace whose rules there are the bus's (its uplinks'). */
  readonly hostEnds: readonly string[];
  /** Rules in the daemon's namespace, between uplink interfaces and their pairs' ends. */
  readonly hostRules: readonly RulePlan[];
  /** A timed bus: its senders' frames go through the arbiter, and the rules start at their release vcans. */
  readonly timing?: TimingPlan;
}

/** The namespace of a bus: derived from its id alone, so it is found again after a restart. */
export function busNamespace(busId: string): string {
  return `cbus-${shortHash(busId, 12)}`;
}

/** The host end of a member in the bus namespace (13 characters, within the kernel's 15). */
export function hostEndName(memberId: string): string {
  return `m${shortHash(memberId, 12)}`;
}

/** Whether a bus's frames go through the daemon's arbiter: on a timed bus, and on any bus with faults that lose or delay them. */
export function throughArbiter(bus: Pick<Bus, 'timing' | 'faults'>): boolean {
  return bus.timing !== undefined || needsArbiter(bus.faults ?? []);
}

/** The vcan a timed bus's sender's frames are put on once they crossed (13 characters, like a member's end). */
export function releaseName(end: string): string {
  return `r${shortHash(`release\0${end}`, 12)}`;
}

export function busMtu(bus: Pick<Bus, 'fd'>): number {
  return bus.fd ? CAN_LINK_MTU.fd : CAN_LINK_MTU.classic;
}

const RULE_FLAGS = { allowToIncomingInterface: true, hopLimit: 1 } as const;

/** What a bus is joined to besides its members: the ports of its wired gateways, and its uplinks. */
export interface BusAttachments {
  readonly gateways?: readonly GatewayPort[];
  readonly uplinks?: readonly UplinkPort[];
}

/** An end in the bus namespace that frames come from and go to: a member's, the monitor, a gateway's, an uplink's. */
interface Participant {
  readonly name: string;
  /** The member whose end it is. */
  readonly memberId?: string;
  readonly sends: boolean;
  readonly receives: boolean;
  readonly kinds: readonly boolean[];
  readonly send: IdSelection;
  readonly receive: IdSelection;
  /** Frames going in are edited as this gateway says. */
  readonly gateway?: GatewayPort;
}

const ALL: IdSelection = { accept: [], reject: [] };

/** The pairs of a bus's members (part of its plan, without planning the rest). */
export function memberPairs(bus: Bus): Array<VxcanPlan & { readonly memberId: string }> {
  const mtu = busMtu(bus);
  return bus.members.map((member) => ({ kind: 'vxcan', name: hostEndName(member.id), mtu, memberId: member.id, end: member.end }));
}

/**
 * The kernel objects of a bus with its members, gateway ports and uplinks. Every end that brings frames in (a
 * member, the monitor where frames are injected, a gateway or uplink bringing frames in) sends to every end that
 * takes frames (every member, the monitor, gateways and uplinks taking frames out), never back to itself. Filters
 * (a sender's, a receiver's, a gateway's) become disjoint kernel filters, one rule each, so that a frame matches at
 * most one rule per path; a gateway's edits ride on the rules into its port. An uplink adds, in the daemon's
 * namespace, a rule each way between its interface and its pair's end there, when the interface exists.
 */
export function planBus(bus: Bus, attachments: BusAttachments = {}): BusPlan {
  checkBus(bus);
  const ports = attachments.gateways ?? [];
  const uplinks = attachments.uplinks ?? [];
  const mtu = busMtu(bus);
  const ends = memberPairs(bus);
  const gateways: VxcanPlan[] = ports.map((port) => ({
    kind: 'vxcan',
    name: port.name,
    mtu,
    gatewayKey: port.key,
    end: {
      name: port.peer.name,
      busNamespace: busNamespace(port.peer.namespaceOf),
      up: true,
      ...(port.peer.mtu === mtu ? {} : { mtu: port.peer.mtu }),
    },
  }));
  const uplinkEnds: VxcanPlan[] = uplinks.map(({ uplink }) => ({
    kind: 'vxcan',
    name: uplinkEndName(bus.id, uplink.interface),
    mtu,
    uplinkOf: uplink.interface,
    end: { name: uplinkHostEndName(bus.id, uplink.interface), up: true },
  }));
  const tunnels: VxcanPlan[] = (bus.tunnels ?? []).map((tunnel) => ({
    kind: 'vxcan',
    name: tunnelEndName(bus.id, tunnel.name),
    mtu,
    tunnelOf: tunnel.name,
    end: { name: tunnelPortName(bus.id, tunnel.name), busNamespace: busNamespace(bus.id), up: true },
  }));
  const pairs = [...ends, ...gateways, ...uplinkEnds, ...tunnels];
  // Every pair's near end is in the bus namespace, and a tunnel's far end too: no two may share a name.
  const names = [...pairs.map((pair) => pair.name), ...tunnels.map((pair) => pair.end.name)];
  if (new Set(names).size !== names.length)
    throw new Error(`bus ${bus.name}: two member, gateway, uplink or tunnel ids hash to the same interface name`);
  const busKinds = bus.fd ? [false, true] : [false];
  const faults = bus.faults ?? [];
  const timed = throughArbiter(bus);
  const off = membersOff(faults);
  const participants: Participant[] = [
    ...bus.members.map((member): Participant => ({
      name: hostEndName(member.id),
      memberId: member.id,
      // A member cut off (bus-off) neither sends nor receives: no rule starts or ends at it.
      sends: !off.has(member.id),
      receives: !off.has(member.id),
      kinds: busKinds,
      send: parseIdList(`member ${member.id} send`, member.send),
      receive: parseIdList(`member ${member.id} receive`, member.receive),
    })),
    { name: MONITOR, sends: !timed, receives: true, kinds: busKinds, send: ALL, receive: ALL },
    ...(timed ? [{ name: INJECT, sends: true, receives: false, kinds: busKinds, send: ALL, receive: ALL }] : []),
    ...ports.map((port): Participant => ({
      name: port.name,
      sends: port.incoming,
      receives: port.outgoing !== undefined,
      kinds: port.fd ? busKinds : [false],
      send: ALL,
      receive: port.outgoing?.selection ?? ALL,
      gateway: port,
    })),
    ...uplinks.map(({ uplink }): Participant => ({
      name: uplinkEndName(bus.id, uplink.interface),
      sends: uplink.direction !== 'out',
      receives: uplink.direction !== 'in',
      kinds: busKinds,
      send: ALL,
      receive: ALL,
    })),
    ...tunnels.map((pair): Participant => ({ name: pair.name, sends: true, receives: true, kinds: busKinds, send: ALL, receive: ALL })),
  ];
  // On a timed bus a sender's frames reach the others only once the arbiter puts them on its release vcan.
  const senders = participants
    .filter((from) => from.sends)
    .map((from): TimedSender => {
      const hits = senderFaults(faults, from.memberId);
      return { end: from.name, release: releaseName(from.name), ...(hits === undefined ? {} : { faults: hits }) };
    });
  const releaseOf = new Map(senders.map((sender) => [sender.end, sender.release]));
  const rules: RulePlan[] = [];
  for (const from of participants) {
    if (!from.sends) continue;
    for (const to of participants) {
      if (to === from || !to.receives) continue;
      rules.push(
        ...pathRules(
          timed ? (releaseOf.get(from.name) ?? from.name) : from.name,
          to.name,
          from.kinds.filter((fd) => to.kinds.includes(fd)),
          [from.send, to.receive],
          to.gateway,
          to.name === MONITOR,
        ),
      );
    }
  }
  const hostRules: RulePlan[] = [];
  for (const { uplink, present, fd } of uplinks) {
    if (!present) continue;
    const kinds = fd && bus.fd ? [false, true] : [false];
    const far = uplinkHostEndName(bus.id, uplink.interface);
    // The interface may be a vcan, and local sockets on a CAN interface see what is sent there: those rules echo.
    if (uplink.direction !== 'out') hostRules.push(...pathRules(uplink.interface, far, kinds, [uplinkSelection(uplink)], undefined, true));
    if (uplink.direction !== 'in') hostRules.push(...pathRules(far, uplink.interface, kinds, [uplinkSelection(uplink)], undefined, true));
  }
  const timedLinks: VcanPlan[] = timed
    ? [{ kind: 'vcan', name: INJECT, mtu }, ...senders.map((sender): VcanPlan => ({ kind: 'vcan', name: sender.release, mtu }))]
    : [];
  return {
    busId: bus.id,
    busName: bus.name,
    namespace: busNamespace(bus.id),
    mtu,
    links: [{ kind: 'vcan', name: MONITOR, mtu }, ...pairs, ...timedLinks],
    rules,
    hostEnds: uplinkEnds.map((end) => end.end.name),
    hostRules,
    ...(timed ? { timing: { ...bus.timing, senders } } : {}),
  };
}

/** What the bus's faults do to one sender's frames: the whole bus's, and its member's own; combined. */
function senderFaults(faults: readonly Fault[], memberId: string | undefined): SenderFaults | undefined {
  const hits = faults.filter((fault) => fault.member === undefined || fault.member === memberId);
  const kept = hits.reduce((share, fault) => share * (1 - (fault.drop ?? 0) / 100), 1);
  const delayMs = hits.reduce((sum, fault) => sum + (fault.delayMs ?? 0), 0);
  const jitterMs = hits.reduce((sum, fault) => sum + (fault.jitterMs ?? 0), 0);
  const result: SenderFaults = {
    ...(kept < 1 ? { drop: 1 - kept } : {}),
    ...(delayMs > 0 ? { delayMs } : {}),
    ...(jitterMs > 0 ? { jitterMs } : {}),
  };
  return Object.keys(result).length === 0 ? undefined : result;
}

/** The rules of one path for the frames all `selections` let through (one per disjoint filter), edited as a gateway says. */
function pathRules(
  source: string,
  destination: string,
  kinds: readonly boolean[],
  selections: readonly IdSelection[],
  port: GatewayPort | undefined,
  echo: boolean,
): RulePlan[] {
  const flags = echo ? { echo: true, ...RULE_FLAGS } : RULE_FLAGS;
  // Most paths of a bus (member to member, unfiltered) take this short way: a large bus has thousands of them.
  if (port === undefined && selections.every((selection) => selection.accept.length === 0 && selection.reject.length === 0)) {
    return kinds.map((fd) => (fd ? { source, destination, ...flags, fd: true } : { source, destination, ...flags }));
  }
  const filters = selectionFilters(selections);
  const rules: RulePlan[] = [];
  for (const fd of kinds) {
    const modifications = port?.outgoing === undefined ? undefined : gatewayModifications(port.outgoing.edits, fd);
    const checksums = modifications === undefined || port?.outgoing === undefined ? {} : gatewayChecksums(port.outgoing);
    for (const filter of filters) {
      rules.push({
        source,
        destination,
        ...flags,
        ...(fd ? { fd: true } : {}),
        ...(filter === undefined ? {} : { filter }),
        ...(modifications === undefined ? {} : { modifications }),
        ...checksums,
      });
    }
  }
  return rules;
}

/** The rule with the ifindexes of its links, or undefined when one of them is missing. */
export function resolveRule(rule: RulePlan, indexOf: (name: string) => number | undefined): CanGwRule | undefined {
  const sourceIndex = indexOf(rule.source);
  const destinationIndex = indexOf(rule.destination);
  if (sourceIndex === undefined || destinationIndex === undefined) return undefined;
  const { source, destination, ...rest } = rule;
  return { sourceIndex, destinationIndex, ...rest };
}
