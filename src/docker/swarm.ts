// What Docker says about its swarm, read into what a span needs (bus/span.ts): this node's address, the managers by
// node id, and, on a manager, the address of every node. From GET /info (any node) and GET /nodes (managers only).
import type { SpanNodes } from '../bus/span.js';
import { ipFamily } from '../bus/tunnel.js';
import { dockerApiGet } from './names.js';

export interface SwarmInfo {
  readonly nodeId: string;
  readonly nodeAddress: string;
  /** Whether this node is a manager (it may list the nodes). */
  readonly manager: boolean;
  readonly managers: ReadonlyArray<{ readonly id: string; readonly address: string }>;
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/** The IP of `ADDR:PORT`, `[IPV6]:PORT` or a bare address; undefined for anything else. */
function ipOf(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^\[([^\]]+)\]:\d+$/u.exec(text) ?? /^([^:]+):\d+$/u.exec(text);
  const ip = match?.[1] ?? text;
  return ipFamily(ip) === undefined ? undefined : ip;
}

/** The swarm part of GET /info; undefined when this engine is in no swarm (or not yet fully in one). */
export function parseSwarmInfo(info: unknown): SwarmInfo | undefined {
  const swarm = record(record(info)?.Swarm);
  if (swarm === undefined || swarm.LocalNodeState !== 'active') return undefined;
  const nodeAddress = ipOf(swarm.NodeAddr);
  if (typeof swarm.NodeID !== 'string' || swarm.NodeID === '' || nodeAddress === undefined) return undefined;
  const managers: Array<{ id: string; address: string }> = [];
  for (const raw of Array.isArray(swarm.RemoteManagers) ? swarm.RemoteManagers : []) {
    const manager = record(raw);
    const address = ipOf(manager?.Addr);
    if (typeof manager?.NodeID === 'string' && address !== undefined) managers.push({ id: manager.NodeID, address });
  }
  return { nodeId: swarm.NodeID, nodeAddress, manager: swarm.ControlAvailable === true, managers };
}

/** The addresses of the nodes GET /nodes lists that are up (a node that is down has no bus to join). */
export function parseSwarmNodes(nodes: unknown): string[] {
  const addresses = new Set<string>();
  for (const raw of Array.isArray(nodes) ? nodes : []) {
    const node = record(raw);
    const status = record(node?.Status);
    // A manager may report 0.0.0.0 as its own status address; its manager status has the one it advertises.
    const stated = ipOf(status?.Addr);
    const address = stated === undefined || stated === '0.0.0.0' ? ipOf(record(node?.ManagerStatus)?.Addr) : stated;
    if (status?.State === 'ready' && address !== undefined) addresses.add(address);
  }
  return [...addresses].sort();
}

/** What a span needs, from the two answers (`nodes` undefined on a worker, which may not list them). */
export function swarmSpanNodes(info: SwarmInfo, nodes: readonly string[] | undefined): SpanNodes {
  return { self: [info.nodeAddress], managers: info.managers, ...(nodes === undefined ? {} : { nodes }) };
}

/**
 * The nodes of swarm spans, from Docker's API on this node: GET /info, and GET /nodes on a manager. An engine in no
 * swarm has no hub (its span tunnels go); a failed request throws, and the tunnels stay as they are.
 */
export function dockerSwarmNodes(socketPath: string): () => Promise<SpanNodes> {
  return async () => {
    const info = parseSwarmInfo(await dockerApiGet(socketPath, '/info'));
    if (info === undefined) return { self: [], managers: [] };
    const nodes = info.manager ? parseSwarmNodes(await dockerApiGet(socketPath, '/nodes')) : undefined;
    return swarmSpanNodes(info, nodes);
  };
}
