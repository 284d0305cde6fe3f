// Faults over the control socket: `cantainer fault add|rm|ls`. A member is named as users know it: its container's
// name (from Docker, or kept with it by the CNI and netavark plugins), or its id (or the first 12 characters of it).
import { InvalidValueError, UnknownBusError } from '../errors.js';
import type { Bus } from '../bus/model.js';
import { describeFault, type Fault } from '../bus/fault.js';
import { optionalBoolean, optionalNumber, optionalText, strings, text } from './body.js';
import type { ControlContext, ControlHandler, ControlHandlers } from './context.js';
import { CONTAINER_ANNOTATION, type FaultEntry } from './protocol.js';

type Containers = ReadonlyMap<string, { readonly container: string }>;

async function containersOf(context: ControlContext, bus: Bus): Promise<Containers> {
  return context.memberContainers === undefined ? new Map() : await context.memberContainers(bus.id).catch(() => new Map());
}

function containerOf(bus: Bus, memberId: string, containers: Containers): string | undefined {
  const found = containers.get(memberId)?.container.replace(/^\//u, '');
  return found ?? bus.members.find((member) => member.id === memberId)?.annotations?.[CONTAINER_ANNOTATION];
}

/** The member a user names: by container name, by id, or by the first 12 characters of its id. */
function resolveMember(bus: Bus, name: string, containers: Containers): string {
  const matches = bus.members.filter(
    (member) =>
      member.id === name ||
      (name.length >= 12 && member.id.startsWith(name)) ||
      containerOf(bus, member.id, containers) === name.replace(/^\//u, ''),
  );
  if (matches.length === 1 && matches[0] !== undefined) return matches[0].id;
  throw new InvalidValueError(
    '--member',
    name,
    `${matches.length === 0 ? '' : 'one member, not several: '}a member of bus ${bus.name} by its container's name or its id (cantainer inspect ${bus.name} lists them)`,
  );
}

export function faultEntry(bus: Bus, fault: Fault, containers: Containers): FaultEntry {
  const container = fault.member === undefined ? undefined : containerOf(bus, fault.member, containers);
  return { bus: bus.name, ...fault, ...(container === undefined ? {} : { container }), detail: describeFault(fault) };
}

function knownBus(context: ControlContext, name: string): Bus {
  const bus = context.buses.byName(name);
  if (bus === undefined) throw new UnknownBusError(name, 'name');
  return bus;
}

const addFault: ControlHandler<'Fault.Add'> = async (body, context) => {
  const bus = knownBus(context, text(body, 'bus'));
  const containers = await containersOf(context, bus);
  const memberName = optionalText(body, 'member');
  const drop = optionalNumber(body, 'drop');
  const delayMs = optionalNumber(body, 'delayMs');
  const jitterMs = optionalNumber(body, 'jitterMs');
  const off = optionalBoolean(body, 'off');
  const forMs = optionalNumber(body, 'forMs');
  if (off === false) throw new InvalidValueError('off', off, 'true, or leave it out');
  if (forMs !== undefined && !(forMs > 0)) throw new InvalidValueError('--for', forMs, 'a duration above 0');
  const fault = await context.buses.addFault(bus.name, {
    ...(memberName === undefined ? {} : { member: resolveMember(bus, memberName, containers) }),
    ...(drop === undefined ? {} : { drop }),
    ...(delayMs === undefined ? {} : { delayMs }),
    ...(jitterMs === undefined ? {} : { jitterMs }),
    ...(off === true ? { off: true } : {}),
    ...(forMs === undefined ? {} : { forMs }),
  });
  return { fault: faultEntry(knownBus(context, bus.name), fault, containers) };
};

const removeFaults: ControlHandler<'Fault.Remove'> = async (body, context) => {
  const bus = knownBus(context, text(body, 'bus'));
  const containers = await containersOf(context, bus);
  const removed = await context.buses.removeFaults(bus.name, strings(body, 'ids') ?? []);
  return { removed: removed.map((fault) => faultEntry(bus, fault, containers)) };
};

const listFaults: ControlHandler<'Fault.List'> = async (body, context) => {
  const only = optionalText(body, 'bus');
  if (only !== undefined) knownBus(context, only);
  const faults: FaultEntry[] = [];
  for (const bus of context.buses.list()) {
    if ((bus.faults ?? []).length === 0 || (only !== undefined && bus.name !== only)) continue;
    const containers = await containersOf(context, bus);
    for (const fault of bus.faults ?? []) faults.push(faultEntry(bus, fault, containers));
  }
  return { faults };
};

export const FAULT_HANDLERS: ControlHandlers<'Fault.Add' | 'Fault.Remove' | 'Fault.List'> = {
  'Fault.Add': addFault,
  'Fault.Remove': removeFaults,
  'Fault.List': listFaults,
};
