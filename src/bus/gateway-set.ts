// The set of gateways of a host: adding one (what it replaces, what it conflicts with, the cycles it would close),
// finding the one to remove, and which buses a change of the set touches. Pure decisions; the service applies them.
import { BusConflictError } from '../errors.js';
import { describeGateway, findCycle, gatewayKey, type Gateway } from './gateway.js';
import type { Bus } from './model.js';

/**
 * `gateways` with `gateway` added, replacing one from the same source to the same destination. `busName` names a
 * bus by id, for the message when the gateway in the way is part of a bus's settings.
 */
export function withGateway(gateways: readonly Gateway[], gateway: Gateway, busName: (id: string) => string | undefined): Gateway[] {
  const key = gatewayKey(gateway);
  const others = gateways.filter((existing) => gatewayKey(existing) !== key);
  const same = gateways.filter((existing) => gatewayKey(existing) === key);
  for (const existing of same) {
    if (existing.declaredBy !== gateway.declaredBy) {
      const owner =
        existing.declaredBy === undefined
          ? 'added by hand (cantainer gateway add)'
          : `part of bus ${busName(existing.declaredBy) ?? existing.declaredBy}'s settings`;
      throw new BusConflictError(
        `${gateway.source} and ${gateway.destination} are joined already by the gateway ${describeGateway(existing)}, ${owner}`,
        'remove that gateway first',
      );
    }
    const sameDirection = existing.source === gateway.source && existing.destination === gateway.destination;
    if (!sameDirection && (existing.both || gateway.both) && !(existing.both && gateway.both)) {
      throw new BusConflictError(
        `${gateway.source} and ${gateway.destination} are joined already by the gateway ${describeGateway(existing)}`,
        `remove it first (cantainer gateway rm ${existing.source} ${existing.destination}), or add this one with --both to replace it`,
      );
    }
  }
  // The same direction (or both ways) is replaced; the other direction stays beside it.
  const kept = same.filter(
    (existing) => !gateway.both && !existing.both && !(existing.source === gateway.source && existing.destination === gateway.destination),
  );
  const next = [...others, ...kept, gateway];
  const cycle = findCycle(next);
  if (cycle !== undefined) {
    throw new BusConflictError(
      `the gateway ${describeGateway(gateway)} would close a cycle: ${cycle.join(' -> ')}`,
      'frames would come back to the bus they came from; gateways must not join buses in a ring',
    );
  }
  return next;
}

/**
 * The gateway `gateway rm SOURCE DESTINATION` removes (a both-ways one by either order), or undefined. One that is
 * part of a bus's settings is refused: it goes with that bus.
 */
export function removableGateway(
  gateways: readonly Gateway[],
  source: string,
  destination: string,
  busName: (id: string) => string | undefined,
): Gateway | undefined {
  const found = gateways.find(
    (gateway) =>
      (gateway.source === source && gateway.destination === destination) ||
      (gateway.both && gateway.source === destination && gateway.destination === source),
  );
  if (found?.declaredBy !== undefined)
    throw new BusConflictError(
      `the gateway ${describeGateway(found)} is part of bus ${busName(found.declaredBy) ?? found.declaredBy}'s settings`,
      'it goes with that bus: change or remove the bus',
    );
  return found;
}

/** The buses of these names and those joined to them by a gateway. */
export function neighbours(names: readonly string[], gateways: readonly Gateway[], buses: Iterable<Bus>): Bus[] {
  const wanted = new Set<string>();
  for (const gateway of gateways) {
    if (names.includes(gateway.source)) wanted.add(gateway.destination);
    if (names.includes(gateway.destination)) wanted.add(gateway.source);
  }
  return [...buses].filter((bus) => wanted.has(bus.name) || names.includes(bus.name));
}

/** The gateways left when bus `removed` goes: hand-made ones naming it go with it, those another bus declares wait. */
export function gatewaysWithout(gateways: readonly Gateway[], removed: Bus): Gateway[] {
  return gateways.filter(
    (gateway) =>
      gateway.declaredBy !== removed.id &&
      (gateway.declaredBy !== undefined || (gateway.source !== removed.name && gateway.destination !== removed.name)),
  );
}
