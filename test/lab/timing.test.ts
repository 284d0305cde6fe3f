// Timed buses on the real kernel, against a running daemon: members are network namespaces attached over the control
// socket (as the CNI and netavark plugins attach them). Measured (test/support/timed-bus.ts) and asserted:
//   - the rate of a flood within 5% of the bit formula, at 125k, 500k and 1M with 8-byte standard frames, and for
//     extended ids, short frames and FD frames;
//   - exactly once and in order per sender: every frame sent is received once, in order, or counted as bus-full;
//   - arbitration: two members flooding 0x100 and 0x200 together, and a third sending 0x050 at 10% load;
//   - `cantainer send` through the inject interface, and a daemon restart.
// Every figure is printed as a diagnostic line ("timing: ...").
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classicFrame, fdFrame } from '../../src/can/frame.js';
import { callDaemon } from '../../src/control/client.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { sh, startCantainerDaemon, type RunningDaemon } from '../support/lab.js';
import {
  arbitration,
  arbitrationLine,
  bytes,
  eightBytes,
  flood,
  floodLine,
  memberSocket,
  timedBus,
  timingOf,
  type FloodResult,
  type TimedLab,
} from '../support/timed-bus.js';

const DIR = '/run/cantainer-timing';
const CONTROL = `${DIR}/control.sock`;
const LAB: TimedLab = { control: CONTROL, namespaces: ['tm-a', 'tm-b', 'tm-c', 'tm-d'] };

const startDaemon = (): Promise<RunningDaemon> =>
  startCantainerDaemon(
    ['--state-dir', `${DIR}/state`, '--control-socket', CONTROL, '--netns-dir', `${DIR}/netns`, '--socket', `${DIR}/plugin.sock`],
    `${DIR}/daemon.log`,
  );

/** Within 5% of the formula, and every frame accounted for: received once and in order, or counted. */
function assertFlood(r: FloodResult): void {
  console.log(`timing: ${floodLine(r)}`);
  assert.ok(r.writesTaken, 'the sender never sees the bus full: its frames wait in the arbiter or are counted');
  assert.ok(r.inOrder, 'no frame came twice or out of order');
  assert.equal(r.received + r.busFull, r.sent, `${r.received} received + ${r.busFull} bus-full = ${r.sent} sent`);
  assert.equal(r.unwired, 0);
  assert.ok(Math.abs(r.measuredFps / r.formulaFps - 1) <= 0.05, `${r.measuredFps.toFixed(0)} frames/s against ${r.formulaFps.toFixed(0)}`);
}

describe('timed buses on the real kernel', () => {
  let daemon: RunningDaemon;

  before(async () => {
    sh(`mkdir -p ${DIR} && modprobe -a vcan vxcan can-gw && for n in ${LAB.namespaces.join(' ')}; do ip netns add $n; done`);
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon.stop();
    sh(`for n in ${LAB.namespaces.join(' ')}; do ip netns del $n; done; true`);
  });

  for (const bitrate of [125_000, 500_000, 1_000_000])
    it(`carries a flood of 8-byte standard frames at ${bitrate / 1000} kbit/s within 5% of the formula, each frame once and in order`, async () => {
      assertFlood(
        await flood(LAB, { bus: `t8-${bitrate}`, label: '8-byte standard', timing: { bitrate }, make: (r) => eightBytes(0x123, r) }),
      );
    });

  it('carries extended ids, short frames and FD frames within 5% of the formula', async () => {
    assertFlood(
      await flood(LAB, {
        bus: 'text-500',
        label: '8-byte extended',
        timing: { bitrate: 500_000 },
        make: (r) => classicFrame({ id: 0x18fe_f100, extended: true, data: bytes(8, r) }),
      }),
    );
    assertFlood(
      await flood(LAB, {
        bus: 'tshort-125',
        label: '2-byte standard',
        timing: { bitrate: 125_000 },
        make: (r) => classicFrame({ id: 0x2a0, data: bytes(2, r) }),
      }),
    );
    assertFlood(
      await flood(LAB, {
        bus: 'tfd-500',
        label: '64-byte FD with BRS',
        timing: { bitrate: 500_000, dbitrate: 2_000_000 },
        fd: true,
        make: (r) => fdFrame({ id: 0x0c8, brs: true, data: bytes(64, r) }),
      }),
    );
  });

  it('lets the lowest id win: 0x100 takes the bus from 0x200, and 0x050 at 10% load loses nothing and waits about two frame times', async () => {
    const r = await arbitration(LAB, 'tarb', 125_000);
    console.log(`timing: ${arbitrationLine(r)}`);
    assert.ok(r.share >= 0.95, `0x100 took ${(r.share * 100).toFixed(1)}% of the bus`);
    assert.deepEqual(
      r.sparseReceived,
      Array.from({ length: r.sparseSent }, (_, i) => i),
      '0x050 lost nothing, in order',
    );
    // Two frame times (the frame on the wire, then its own) plus the daemon's timer step and the emulator's noise.
    assert.ok(r.waitUs.p99 <= 2 * r.frameUs + 10_000, `0x050 waited ${(r.waitUs.p99 / 1000).toFixed(2)} ms at p99`);
  });

  it('takes frames from cantainer send through the inject interface, and is timed again after a daemon restart', async () => {
    const leave = await timedBus(LAB, 'tsend', { bitrate: 250_000 });
    const listeners = LAB.namespaces.map((ns) => memberSocket(ns));
    const detail = await callDaemon(CONTROL, 'Bus.Inspect', { bus: 'tsend' });
    const monitor = systemKernel().canSocket('monitor', { netns: { label: 'tsend', path: detail.namespace } });
    const sockets: CanSocketPort[] = [...listeners, monitor];
    try {
      sh(`node bin/cantainer send tsend 123#01 7DF#0201 --control-socket ${CONTROL}`, 60_000);
      const expected = [classicFrame({ id: 0x123, data: [1] }), classicFrame({ id: 0x7df, data: [2, 1] })];
      for (const [i, socket] of listeners.entries()) assert.deepEqual(await socket.receiveAll(1000), expected, LAB.namespaces[i]);
      assert.deepEqual(await monitor.receiveAll(500), expected, 'the monitor shows each frame once');
      assert.equal((await timingOf(CONTROL, 'tsend')).frames, 2);
      // After a restart the bus is timed again, from the state: the arbiter takes its members' frames once more.
      await daemon.stop();
      daemon = await startDaemon();
      listeners[0]?.send(classicFrame({ id: 0x321, data: [3] }));
      for (const socket of listeners.slice(1)) assert.deepEqual(await socket.receiveAll(1000), [classicFrame({ id: 0x321, data: [3] })]);
      assert.equal((await timingOf(CONTROL, 'tsend')).frames, 1, 'counted by the new daemon');
    } finally {
      for (const socket of sockets) socket.close();
      await leave();
    }
  });
});
