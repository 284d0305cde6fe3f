// The kernel layer's one interface: everything above it (bus model, reconciler, front doors) reaches the kernel
// only through a Kernel, whose parts are the port interfaces of port.ts, so unit tests substitute a fake.
import { CanSocket } from './can-socket.js';
import { identifyNetns, NetnsStore } from './netns.js';
import { CURRENT_NETNS, type KernelPort } from './port.js';
import { preflight, type PreflightReport } from './preflight.js';
import { RouteHandle } from './route.js';

export interface Kernel extends KernelPort {
  preflight(): PreflightReport;
}

export function systemKernel(options: { netnsDir?: string } = {}): Kernel {
  const namespaces = new NetnsStore(options.netnsDir);
  return {
    namespaces,
    route: (netns = CURRENT_NETNS) => RouteHandle.open(netns),
    canSocket: (ifname, socketOptions) => CanSocket.open(ifname, socketOptions),
    preflight,
    owned: (name) => ({ label: name, path: namespaces.path(name) }),
    identify: identifyNetns,
  };
}

export { type CanFilter } from './can-socket.js';
export { nowUs } from './clock.js';
export { KernelError, NamespaceRestoreError } from './errors.js';
export { formatPreflight, type PreflightReport } from './preflight.js';
export {
  addRuleHint,
  CURRENT_NETNS,
  describeOperation,
  describeRule,
  KERNEL_HINTS,
  type CanSocketOptions,
  type CanSocketPort,
  type KernelPort,
  type NamespacePort,
  type NetnsIdentity,
  type NetnsTarget,
  type RoutePort,
  type StampedFrame,
  type VcanSpec,
  type VxcanPair,
} from './port.js';
