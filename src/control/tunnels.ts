// Tunnels over the control socket: `cantainer tunnel add|rm|ls`. A tunnel that cannot start is not kept.
import { CantainerError, InvalidValueError } from '../errors.js';
import { checkTunnel, defaultTunnelName, TUNNEL_TRANSPORTS, type Tunnel, type TunnelTransport } from '../bus/tunnel.js';
import { UnknownTunnelError } from '../errors.js';
import type { TunnelHost, TunnelView } from '../tunnel/host.js';
import { optionalInteger, optionalText, strings, text } from './body.js';
import type { ControlContext, ControlHandler, ControlHandlers } from './context.js';
import type { TunnelEntry } from './protocol.js';

export function tunnelEntry(bus: string, tunnel: Tunnel, view: TunnelView | undefined): TunnelEntry {
  if (view === undefined) return { bus, ...tunnel, state: 'stopped', detail: 'not running in this daemon' };
  return {
    bus,
    ...tunnel,
    state: view.state,
    ...(view.detail === undefined ? {} : { detail: view.detail }),
    ...(view.peers === undefined ? {} : { peers: view.peers }),
    counters: view.counters,
  };
}

function tunnelHost(context: ControlContext): TunnelHost {
  if (context.tunnels === undefined)
    throw new CantainerError('ENOTUNNELS', 'this daemon runs no tunnels', { hint: 'tunnels run in `cantainer daemon`' });
  return context.tunnels;
}

/** A tunnel from a request body (the command line's flags by their long names). */
export function tunnelOf(body: Readonly<Record<string, unknown>>): Tunnel {
  const transport = optionalText(body, 'transport');
  if (transport === undefined || !(TUNNEL_TRANSPORTS as readonly string[]).includes(transport))
    throw new InvalidValueError('transport', transport, TUNNEL_TRANSPORTS.join(', '));
  const listen = optionalText(body, 'listen');
  const peer = optionalText(body, 'peer');
  const timeoutUs = optionalInteger(body, 'timeoutUs');
  const mtu = optionalInteger(body, 'mtu');
  const draft = {
    transport: transport as TunnelTransport,
    ...(listen === undefined ? {} : { listen }),
    ...(peer === undefined ? {} : { peer }),
    ...(timeoutUs === undefined ? {} : { timeoutUs }),
    ...(mtu === undefined ? {} : { mtu }),
    allow: strings(body, 'allow') ?? [],
  };
  const tunnel = { name: optionalText(body, 'name') ?? defaultTunnelName(draft), ...draft };
  checkTunnel(tunnel);
  return tunnel;
}

const addTunnel: ControlHandler<'Tunnel.Add'> = async (body, context) => {
  const host = tunnelHost(context);
  const busName = text(body, 'bus');
  const tunnel = tunnelOf(body);
  const previous = (context.buses.byName(busName)?.tunnels ?? []).find((t) => t.name === tunnel.name);
  const bus = await context.buses.addTunnel(busName, tunnel);
  await host.sync(context.buses.list());
  const view = host.view(bus.id, tunnel.name);
  if (view?.state === 'failed') {
    // Nothing is kept of a tunnel that cannot run: the bus goes back to what it had.
    if (previous === undefined) await context.buses.removeTunnel(busName, tunnel.name);
    else await context.buses.addTunnel(busName, previous);
    await host.sync(context.buses.list());
    throw new CantainerError('ETUNNEL', `tunnel ${tunnel.name} of bus ${busName} cannot start: ${view.detail ?? 'unknown reason'}`, {
      hint: 'is the address one of this host, and the port free? (ss -lunt)',
    });
  }
  return { tunnel: tunnelEntry(bus.name, tunnel, view) };
};

const removeTunnel: ControlHandler<'Tunnel.Remove'> = async (body, context) => {
  const host = tunnelHost(context);
  const busName = text(body, 'bus');
  const name = text(body, 'name');
  if (!(await context.buses.removeTunnel(busName, name))) throw new UnknownTunnelError(busName, name);
  await host.sync(context.buses.list());
  return { removed: `${busName} ${name}` };
};

const listTunnels: ControlHandler<'Tunnel.List'> = (_body, context) => ({
  tunnels: context.buses
    .list()
    .flatMap((bus) => (bus.tunnels ?? []).map((tunnel) => tunnelEntry(bus.name, tunnel, context.tunnels?.view(bus.id, tunnel.name)))),
});

export const TUNNEL_HANDLERS: ControlHandlers<'Tunnel.Add' | 'Tunnel.Remove' | 'Tunnel.List'> = {
  'Tunnel.Add': addTunnel,
  'Tunnel.Remove': removeTunnel,
  'Tunnel.List': listTunnels,
};
