// Gateways and uplinks over the control socket: `cantainer gateway add|rm|ls` and `cantainer uplink add|rm|ls`.
import { InvalidValueError } from '../errors.js';
import { describeGateway, type Gateway } from '../bus/gateway.js';
import { gatewayFromFlags, type GatewayFlags } from '../bus/gateway-spec.js';
import { UPLINK_DIRECTIONS, type UplinkDirection } from '../bus/uplink.js';
import type { BusService, GatewayView } from '../service/buses.js';
import { GatewayBusMissingError, UnknownGatewayError, UnknownUplinkError } from '../errors.js';
import { optionalBoolean, optionalText, strings, text } from './body.js';
import type { ControlContext, ControlHandler, ControlHandlers } from './context.js';
import type { GatewayEntry } from './protocol.js';

/** The flags of a gateway in a request body (the command line's flags, by their long names). */
export function gatewayFlagsOf(body: Readonly<Record<string, unknown>>): GatewayFlags {
  const both = optionalBoolean(body, 'both');
  const lists = Object.fromEntries(
    (['accept', 'reject', 'set', 'and', 'or', 'xor'] as const).flatMap((key) =>
      strings(body, key) === undefined ? [] : [[key, strings(body, key)]],
    ),
  );
  const xorChecksum = optionalText(body, 'xorChecksum');
  const crc8 = optionalText(body, 'crc8');
  return {
    ...(both === undefined ? {} : { both }),
    ...lists,
    ...(xorChecksum === undefined ? {} : { xorChecksum }),
    ...(crc8 === undefined ? {} : { crc8 }),
  };
}

export function gatewayEntry(view: GatewayView, buses: BusService): GatewayEntry {
  const { gateway, status } = view;
  const detail =
    status.state === 'waiting' ? `waiting for ${status.missing.join(' and ')}` : status.state === 'refused' ? status.reason : undefined;
  return {
    source: gateway.source,
    destination: gateway.destination,
    both: gateway.both,
    accept: gateway.accept,
    reject: gateway.reject,
    edits: gateway.edits,
    ...(gateway.xorChecksum === undefined ? {} : { xorChecksum: gateway.xorChecksum }),
    ...(gateway.crc8Checksum === undefined ? {} : { crc8Checksum: gateway.crc8Checksum }),
    ...(gateway.declaredBy === undefined ? {} : { declaredBy: buses.get(gateway.declaredBy)?.name ?? gateway.declaredBy }),
    state: status.state,
    ...(detail === undefined ? {} : { detail }),
  };
}

/** The buses a gateway names that do not exist; names Docker has not told yet are asked for first. */
async function missingBuses(gateway: Gateway, context: ControlContext): Promise<string[]> {
  const missing = (): string[] => [gateway.source, gateway.destination].filter((name) => context.buses.byName(name) === undefined);
  if (missing().length > 0) await context.learnBusNames?.();
  return missing();
}

const addGateway: ControlHandler<'Gateway.Add'> = async (body, context) => {
  const wait = optionalBoolean(body, 'wait') ?? false;
  const gateway = gatewayFromFlags(text(body, 'source'), text(body, 'destination'), gatewayFlagsOf(body));
  const missing = wait ? [] : await missingBuses(gateway, context);
  if (missing.length > 0)
    throw new GatewayBusMissingError(
      missing,
      context.buses
        .list()
        .map((bus) => bus.name)
        .sort(),
    );
  const view = await context.buses.addGateway(gateway);
  return { gateway: gatewayEntry(view, context.buses) };
};

const removeGateway: ControlHandler<'Gateway.Remove'> = async (body, context) => {
  const source = text(body, 'source');
  const destination = text(body, 'destination');
  // The answer names what went, as it was found under the bus's lock: a gateway both ways goes both ways.
  const removed = await context.buses.removeGateway(source, destination);
  if (removed === undefined) throw new UnknownGatewayError(source, destination);
  return { removed: describeGateway(removed), both: removed.both };
};

const listGateways: ControlHandler<'Gateway.List'> = (_body, context) => ({
  gateways: context.buses.gateways().map((view) => gatewayEntry(view, context.buses)),
});

const addUplink: ControlHandler<'Uplink.Add'> = async (body, context) => {
  const direction = optionalText(body, 'direction') ?? 'both';
  if (!(UPLINK_DIRECTIONS as readonly string[]).includes(direction))
    throw new InvalidValueError('--direction', direction, UPLINK_DIRECTIONS.join(', '));
  const view = await context.buses.addUplink(text(body, 'bus'), {
    interface: text(body, 'interface'),
    direction: direction as UplinkDirection,
    accept: strings(body, 'accept') ?? [],
    reject: strings(body, 'reject') ?? [],
  });
  return { uplink: { bus: view.bus, ...view.uplink, state: view.state, ...(view.detail === undefined ? {} : { detail: view.detail }) } };
};

const removeUplink: ControlHandler<'Uplink.Remove'> = async (body, context) => {
  const bus = text(body, 'bus');
  const iface = text(body, 'interface');
  if (!(await context.buses.removeUplink(bus, iface))) throw new UnknownUplinkError(bus, iface);
  return { removed: `${bus} ${iface}` };
};

const listUplinks: ControlHandler<'Uplink.List'> = (_body, context) => ({
  uplinks: context.buses
    .uplinks()
    .map((view) => ({ bus: view.bus, ...view.uplink, state: view.state, ...(view.detail === undefined ? {} : { detail: view.detail }) })),
});

export const GATEWAY_HANDLERS: ControlHandlers<
  'Gateway.Add' | 'Gateway.Remove' | 'Gateway.List' | 'Uplink.Add' | 'Uplink.Remove' | 'Uplink.List'
> = {
  'Gateway.Add': addGateway,
  'Gateway.Remove': removeGateway,
  'Gateway.List': listGateways,
  'Uplink.Add': addUplink,
  'Uplink.Remove': removeUplink,
  'Uplink.List': listUplinks,
};
