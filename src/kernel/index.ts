// The kernel layer's one interface: everything above it (bus model, reconciler, front doors) reaches the kernel
// only through a Kernel, so unit tests can substitute a fake and the real one stays small.
import { CanSocket, type CanSocketOptions } from './can-socket.js';
import { NetnsStore } from './netns.js';
import { preflight, type PreflightReport } from './preflight.js';
import { CURRENT_NETNS, RouteHandle, type NetnsTarget } from './route.js';

export interface Kernel {
  /** Network namespaces owned by cantainer. */
  readonly namespaces: NetnsStore;
  /** Link and can-gw operations in a namespace (default: the caller's own). Close the handle when done. */
  route(netns?: NetnsTarget): RouteHandle;
  /** A raw CAN socket on an interface. Close it when done. */
  canSocket(ifname: string, options?: CanSocketOptions): CanSocket;
  preflight(): PreflightReport;
  /** A target for one of cantainer's own namespaces. */
  owned(name: string): NetnsTarget;
}

export function systemKernel(options: { netnsDir?: string } = {}): Kernel {
  const namespaces = new NetnsStore(options.netnsDir);
  return {
    namespaces,
    route: (netns = CURRENT_NETNS) => RouteHandle.open(netns),
    canSocket: (ifname, socketOptions) => CanSocket.open(ifname, socketOptions),
    preflight,
    owned: (name) => ({ label: name, path: namespaces.path(name) }),
  };
}

export { CanSocket, type CanSocketOptions } from './can-socket.js';
export { KernelError, NamespaceRestoreError } from './errors.js';
export { NetnsStore } from './netns.js';
export { formatPreflight, type PreflightReport } from './preflight.js';
export { CURRENT_NETNS, RouteHandle, type NetnsTarget, type VxcanPair } from './route.js';
