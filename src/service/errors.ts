// The errors the bus service and the control API answer with, each made in one place so that the same failure
// always reads the same way.
import { CantainerError, errorMessage } from '../errors.js';

/** The request contradicts what exists (a name taken, a gateway in the way, a cycle). */
export class BusConflictError extends CantainerError {
  constructor(message: string, hint?: string) {
    super('ECONFLICT', message, hint === undefined ? {} : { hint });
  }
}

export class UnknownBusError extends CantainerError {
  constructor(key: string, by: 'id' | 'name' = 'id') {
    super('ENOBUS', `no bus with ${by} ${key}`, {
      hint:
        by === 'id' ? 'it was removed, or created before the state was lost; create it again' : 'buses are named by their network names',
    });
  }
}

export class UnknownGatewayError extends CantainerError {
  constructor(source: string, destination: string) {
    super('ENOGATEWAY', `no gateway from ${source} to ${destination}`, { hint: 'cantainer gateway ls lists the gateways' });
  }
}

export class UnknownUplinkError extends CantainerError {
  constructor(bus: string, iface: string) {
    super('ENOUPLINK', `bus ${bus} has no uplink ${iface}`, { hint: 'cantainer uplink ls lists the uplinks' });
  }
}

export class UnknownTunnelError extends CantainerError {
  constructor(bus: string, name: string) {
    super('ENOTUNNEL', `bus ${bus} has no tunnel ${name}`, { hint: 'cantainer tunnel ls lists the tunnels' });
  }
}

/** The state file could not be written; the kernel and the state were put back as they were. */
export class StateWriteError extends CantainerError {
  constructor(path: string, cause: unknown) {
    super('ESTATEWRITE', `saving the state to ${path}: ${errorMessage(cause)}`, {
      cause,
      hint: 'check that the state directory is writable and not full',
    });
  }
}
