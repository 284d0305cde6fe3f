// A host with a small vehicle on the in-memory kernel, for the pictures and the dashboard: a powertrain bus with
// two ECUs (engine, brakes) and a UDP tunnel, a body bus with a dashboard ECU and a host interface (vcan0), and a
// gateway from powertrain to body for ids 0x100-0x1FF. Members attach as the CNI plugin attaches them, by
// container name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callDaemon } from '../../src/control/client.js';
import { CONTAINER_ANNOTATION } from '../../src/control/protocol.js';
import type { DaemonOptions } from '../../src/daemon/daemon.js';
import { CURRENT_NETNS } from '../../src/kernel/port.js';
import { freeUdpPort } from './helpers.js';
import { startNodeDaemon, type NodeDaemon } from './node-daemon.js';

export interface SampleHost extends NodeDaemon {
  readonly dir: string;
  /** The UDP port the powertrain tunnel listens on (127.0.0.1). */
  readonly tunnelPort: number;
  /** Attaches ECU `name` to `bus` (its end: can0 in namespace /ecu/NAME). */
  attach(bus: string, name: string, create?: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function sampleHost(
  options: Partial<Omit<DaemonOptions, 'kernel' | 'socketPath' | 'controlSocketPath' | 'stateDir'>> = {},
): Promise<SampleHost> {
  const dir = mkdtempSync(join(tmpdir(), 'cantainer-sample-'));
  const node = await startNodeDaemon(dir, 'host', options);
  const { kernel, control } = node;
  const attach = async (bus: string, name: string, create = true): Promise<void> => {
    const netns = `/ecu/${name}`;
    if (!kernel.hasPath(netns)) kernel.addForeignNamespace(netns, name);
    await callDaemon(control, 'Member.Attach', {
      bus,
      netns,
      member: name,
      interface: 'can0',
      create,
      annotations: { [CONTAINER_ANNOTATION]: name },
    });
  };
  await attach('powertrain', 'engine');
  await attach('powertrain', 'brakes');
  await attach('body', 'dash');
  const host = kernel.route(CURRENT_NETNS);
  host.createVcan({ name: 'vcan0', mtu: 16, up: true });
  host.close();
  await callDaemon(control, 'Uplink.Add', { bus: 'body', interface: 'vcan0' });
  await callDaemon(control, 'Gateway.Add', { source: 'powertrain', destination: 'body', accept: ['100/700'] });
  const tunnelPort = await freeUdpPort();
  await callDaemon(control, 'Tunnel.Add', {
    bus: 'powertrain',
    transport: 'udp',
    name: 'bench',
    listen: `127.0.0.1:${tunnelPort}`,
    peer: '127.0.0.1:9',
  });
  return {
    ...node,
    dir,
    tunnelPort,
    attach,
    close: async () => {
      await node.daemon.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
