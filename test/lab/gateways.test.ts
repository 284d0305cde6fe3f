// Gateways on the real kernel, through the bus service: the kernel's can-gw, vcan and vxcan must agree with the
// fake kernel's frame simulation the unit tests rely on. Every ECU's frame reaches every other ECU on both buses
// exactly once, in order; filters and edits apply to crossing frames only; chains work at max_hops 1; a second
// reconcile finds nothing to change (the kernel reports filtered and edited rules as they were sent).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import type { Bus, Member } from '../../src/bus/model.js';
import { busNamespace, MONITOR } from '../../src/bus/plan.js';
import { silentLogger } from '../../src/log.js';
import { BusService } from '../../src/service/buses.js';
import { StateStore } from '../../src/state/store.js';
import { sh } from '../support/lab.js';
import { gateway } from '../support/gateways.js';

const QUIET_MS = 300;
const kernel = systemKernel({ netnsDir: '/run/cantainer-test/gw' });
const ecus = systemKernel({ netnsDir: '/run/cantainer-test/gw-ecu' });

function ecu(name: string): Member {
  if (!ecus.namespaces.exists(name)) ecus.namespaces.create(name);
  return { id: name, end: { name: 'can0', netns: ecus.namespaces.path(name), up: true } };
}

function setMaxHops(hops: number): void {
  sh(`rmmod can_gw 2>/dev/null; modprobe can-gw max_hops=${hops} && cat /sys/module/can_gw/parameters/max_hops`);
}

describe('gateways on the real kernel', () => {
  let dir: string;
  let service: BusService;
  const sockets = new Map<string, CanSocketPort>();
  const socket = (name: string): CanSocketPort => {
    let open = sockets.get(name);
    if (open === undefined) {
      open = kernel.canSocket('can0', { netns: { label: name, path: ecus.namespaces.path(name) }, fd: true });
      sockets.set(name, open);
    }
    return open;
  };
  const monitorOf = (busId: string): CanSocketPort => {
    const key = `monitor:${busId}`;
    let open = sockets.get(key);
    if (open === undefined) {
      open = kernel.canSocket(MONITOR, { netns: kernel.owned(busNamespace(busId)), fd: true });
      sockets.set(key, open);
    }
    return open;
  };
  /** Sends frames from one ECU; returns what every listed ECU and monitor received. */
  const exchange = async (from: string, frames: CanFrame[], listeners: string[]): Promise<Record<string, CanFrame[]>> => {
    const listening = listeners.map((name) => [name, name.startsWith('monitor:') ? monitorOf(name.slice(8)) : socket(name)] as const);
    await Promise.all(listening.map(([, s]) => s.receiveAll(50))); // drain
    for (const frame of frames) socket(from).send(frame);
    const received = await Promise.all(listening.map(([, s]) => s.receiveAll(QUIET_MS)));
    return Object.fromEntries(listening.map(([name], i) => [name, received[i] ?? []]));
  };
  const burst = (sender: number): CanFrame[] =>
    Array.from({ length: 5 }, (_, k) => classicFrame({ id: 0x100 * sender + k, data: [sender, k] }));

  before(() => {
    sh('modprobe -a vcan vxcan can-raw');
    setMaxHops(1);
    dir = mkdtempSync(join(tmpdir(), 'cantainer-gw-'));
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
  });

  after(async () => {
    for (const open of sockets.values()) open.close();
    for (const bus of service.list()) await service.removeBus(bus.id);
    for (const name of ecus.namespaces.list()) ecus.namespaces.delete(name);
    rmSync(dir, { recursive: true, force: true });
    setMaxHops(1);
  });

  it('joins three ECUs on A and one on B both ways: each frame reaches every other ECU once, in order', async () => {
    await service.createBus({ id: 'A', name: 'powertrain', fd: false, members: [ecu('a1'), ecu('a2'), ecu('a3')] } satisfies Bus);
    await service.createBus({ id: 'B', name: 'body', fd: false, members: [ecu('b1')] });
    assert.equal((await service.addGateway(gateway('powertrain', 'body', { both: true }))).status.state, 'wired');
    const all = ['a1', 'a2', 'a3', 'b1'];
    for (const [i, sender] of all.entries()) {
      const frames = burst(i + 1);
      const received = await exchange(sender, frames, [...all, 'monitor:A', 'monitor:B']);
      for (const name of all) assert.deepEqual(received[name], name === sender ? [] : frames, `${name} from ${sender}`);
      assert.deepEqual([received['monitor:A'], received['monitor:B']], [frames, frames], `monitors from ${sender}`);
    }
    assert.deepEqual([service.check('A'), service.check('B')], [[], []]);
  });

  it("lets only accepted ids cross (filters both ways), and leaves the sender's bus whole", async () => {
    await service.addGateway(gateway('powertrain', 'body', { both: true, accept: ['700/700'], reject: ['7E8'] }));
    assert.deepEqual([service.check('A'), service.check('B')], [[], []], 'filtered rules read back as sent');
    const frames = [0x7df, 0x123, 0x7e8, 0x7e0].map((id) => classicFrame({ id, data: [1] }));
    const fromA = await exchange('a1', frames, ['a2', 'b1']);
    assert.deepEqual(
      fromA.a2?.map((f) => f.id),
      [0x7df, 0x123, 0x7e8, 0x7e0],
    );
    assert.deepEqual(
      fromA.b1?.map((f) => f.id),
      [0x7df, 0x7e0],
    );
    const fromB = await exchange('b1', frames, ['a1', 'a3']);
    assert.deepEqual(
      [fromB.a1?.map((f) => f.id), fromB.a3?.map((f) => f.id)],
      [
        [0x7df, 0x7e0],
        [0x7df, 0x7e0],
      ],
    );
  });

  it('edits crossing frames (SET id, data and length, with an XOR checksum) one way, and passes everything but one id with one inverted filter', async () => {
    await service.addGateway(
      gateway('powertrain', 'body', {
        reject: ['7DF'],
        edits: [
          { operation: 'set', field: 'id', value: '456' },
          { operation: 'set', field: 'data', value: 'CAFE0000000000' },
          { operation: 'set', field: 'len', value: '8' },
        ],
        xorChecksum: { from: 0, to: 6, at: 7, init: 0 },
      }),
    );
    assert.deepEqual([service.check('A'), service.check('B')], [[], []], 'edited rules read back as sent');
    const received = await exchange(
      'a1',
      [classicFrame({ id: 0x123, data: [1, 2] }), classicFrame({ id: 0x7df, data: [3] })],
      ['a2', 'b1'],
    );
    assert.deepEqual(
      received.a2?.map((f) => [f.id, Buffer.from(f.data).toString('hex')]),
      [
        [0x123, '0102'],
        [0x7df, '03'],
      ],
    );
    assert.deepEqual(
      received.b1?.map((f) => [f.id, Buffer.from(f.data).toString('hex')]),
      [[0x456, 'cafe000000000034']],
    );
    assert.deepEqual((await exchange('b1', [classicFrame({ id: 0x1, data: [] })], ['a1'])).a1, [], 'one way only');
  });

  it("applies AND, OR and XOR edits in the kernel's order, then a CRC8 checksum (SAE J1850), as the fake kernel computes them", async () => {
    await service.addGateway(
      gateway('powertrain', 'body', {
        accept: ['300/700'],
        edits: [
          { operation: 'and', field: 'id', value: '30F' },
          { operation: 'or', field: 'data', value: '0000000000000080' },
          { operation: 'xor', field: 'data', value: 'FF' },
          { operation: 'set', field: 'len', value: '8' },
        ],
        crc8Checksum: { from: 0, to: 6, at: 7, poly: 0x1d, init: 0xff, finalXor: 0xff },
      }),
    );
    assert.deepEqual([service.check('A'), service.check('B')], [[], []], 'checksummed rules read back as sent');
    const received = await exchange('a1', [classicFrame({ id: 0x3a5, data: [0x0f, 1, 2, 3, 4, 5, 6] })], ['b1']);
    // id 3A5 & 30F = 305; data | ..80 then ^ FF.. = F0 01 02 03 04 05 06 80; len 8; byte 7 = CRC8 J1850 of bytes 0..6.
    const table = Array.from({ length: 256 }, (_, i) => {
      let crc = i;
      for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x1d) & 0xff : (crc << 1) & 0xff;
      return crc;
    });
    let crc = 0xff;
    for (const byte of [0xf0, 1, 2, 3, 4, 5, 6]) crc = table[crc ^ byte] ?? 0;
    assert.deepEqual(
      received.b1?.map((f) => [f.id, Buffer.from(f.data).toString('hex')]),
      [[0x305, `f0010203040506${(crc ^ 0xff).toString(16).padStart(2, '0')}`]],
    );
  });

  it('stops every crossing after the gateway is removed', async () => {
    const removed = await service.removeGateway('powertrain', 'body');
    assert.deepEqual([removed?.source, removed?.destination], ['powertrain', 'body']);
    const received = await exchange('a1', burst(1), ['a2', 'b1']);
    assert.deepEqual([received.a2?.length, received.b1?.length], [5, 0]);
    const route = kernel.route(kernel.owned(busNamespace('A')));
    try {
      assert.deepEqual(
        route.listLinks().filter((link) => link.name.startsWith('g')),
        [],
        'the gateway ends are gone',
      );
    } finally {
      route.close();
    }
  });

  for (const hops of [1, 3]) {
    it(`chains A -> B -> C (and an FD bus D off C) at max_hops ${hops}: each frame crosses every gateway once`, async () => {
      setMaxHops(hops);
      // Reloading can-gw dropped every rule: a restart of the service puts them back.
      service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
      assert.deepEqual(service.start().failed, []);
      if (service.get('C') === undefined) {
        await service.createBus({ id: 'C', name: 'chassis', fd: false, members: [ecu('c1')] });
        await service.createBus({ id: 'D', name: 'adas', fd: true, members: [ecu('d1'), ecu('d2')] });
        await service.addGateway(gateway('powertrain', 'body', { both: true }));
        await service.addGateway(gateway('body', 'chassis', { both: true }));
        await service.addGateway(gateway('chassis', 'adas', { both: true }));
      }
      const all = ['a1', 'a2', 'a3', 'b1', 'c1', 'd1', 'd2'];
      for (const [i, sender] of ['a1', 'c1', 'd1'].entries()) {
        const frames = burst(i + 1);
        const received = await exchange(sender, frames, all);
        for (const name of all) assert.deepEqual(received[name], name === sender ? [] : frames, `${name} from ${sender}`);
      }
      const fd = [fdFrame({ id: 0x42, data: new Uint8Array(32).fill(9) })];
      const fromD = await exchange('d1', fd, all);
      assert.deepEqual(
        Object.entries(fromD)
          .filter(([, frames]) => frames.length > 0)
          .map(([name]) => name),
        ['d2'],
        'FD frames stay on the FD bus',
      );
      if (hops === 1) {
        // Between two FD buses FD frames cross, and FD edits apply: flags and 12 data bytes.
        await service.createBus({ id: 'E', name: 'infotainment', fd: true, members: [ecu('e1')] });
        await service.addGateway(
          gateway('adas', 'infotainment', {
            edits: [
              { operation: 'set', field: 'flags', value: '1' },
              { operation: 'set', field: 'data', value: 'AB'.repeat(12) },
              { operation: 'set', field: 'len', value: '12' },
            ],
          }),
        );
        const crossed = await exchange(
          'd1',
          [fdFrame({ id: 0x43, data: new Uint8Array(16).fill(1) }), classicFrame({ id: 0x44, data: [1] })],
          ['d2', 'e1'],
        );
        assert.deepEqual(
          crossed.d2?.map((f) => [f.kind, f.id, f.data.length]),
          [
            ['fd', 0x43, 16],
            ['classic', 0x44, 1],
          ],
          'unedited on its own bus',
        );
        assert.deepEqual(
          crossed.e1?.map((f) => [f.kind, f.id, Buffer.from(f.data).toString('hex'), f.kind === 'fd' && f.brs]),
          [
            ['fd', 0x43, 'ab'.repeat(12), true],
            ['classic', 0x44, 'abababababababab', false],
          ],
          'the FD rule sets flags and 12 bytes; the classic rule sets 8 bytes and keeps its length at 8 at most',
        );
        assert.deepEqual([service.check('D'), service.check('E')], [[], []]);
        await service.removeBus('E');
      }
    });
  }

  it('removes a gateway added by hand with either bus and leaves no namespace behind', async () => {
    await service.removeBus('B');
    assert.deepEqual(
      service.gateways().map((view) => view.gateway.source),
      ['chassis'],
    );
    for (const bus of service.list()) await service.removeBus(bus.id);
    assert.deepEqual(kernel.namespaces.list(), []);
  });
});
