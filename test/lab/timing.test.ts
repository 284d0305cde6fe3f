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
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { callDaemon } from '../../src/control/client.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';
import type { StampedFrame } from '../../src/kernel/index.js';
import {
  arbitration,
  arbitrationLine,
  bytes,
  eightBytes,
  flood,
  generator,
  sequenceOf,
  withSequence,
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

const cantainer = (args: string): string => sh(`node bin/cantainer ${args} --control-socket ${CONTROL}`, 60_000);

/** Sends `count` frames, 50 every 10 ms (5000 frames a second); returns how many went. */
async function paced(socket: CanSocketPort, count: number, make: (index: number) => CanFrame): Promise<number> {
  let sent = 0;
  while (sent < count) {
    const batch = Array.from({ length: Math.min(50, count - sent) }, (_, i) => make(sent + i));
    sent += socket.sendBatch(batch);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return sent;
}

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
    // Two frame times (the frame on the wire, then its own) plus the daemon's timer step, at the median; the tail is
    // the scheduler's (an emulated machine shared by the floods' senders, the daemon and the receiver).
    assert.ok(r.waitUs.p50 <= 2 * r.frameUs + 5_000, `0x050 waited ${(r.waitUs.p50 / 1000).toFixed(2)} ms at the median`);
    assert.ok(r.waitUs.p99 <= 2 * r.frameUs + 40_000, `0x050 waited ${(r.waitUs.p99 / 1000).toFixed(2)} ms at p99`);
  });

  it('loses 10% ± 2% of 5000 frames with --drop 10, each lost frame counted, the rest once and in order', async () => {
    const leave = await timedBus(LAB, 'fdrop', {}, false);
    const [a, b] = [memberSocket('tm-a'), memberSocket('tm-b')];
    try {
      cantainer('fault add fdrop --drop 10');
      const sent = await paced(a, 5000, (i) => withSequence(eightBytes(0x100, generator(i)), i));
      const heard = await b.receiveAll(1500);
      const sequences = heard.map(sequenceOf);
      const lost = sent - heard.length;
      console.log(`timing: fault --drop 10: ${lost} of ${sent} lost (${((lost / sent) * 100).toFixed(2)}%)`);
      assert.ok(Math.abs(lost / sent - 0.1) <= 0.02, `${lost} of ${sent} lost`);
      assert.ok(
        sequences.every((s, i) => i === 0 || s > (sequences[i - 1] ?? -1)),
        'the rest once and in order',
      );
      const faults = JSON.parse(cantainer('inspect fdrop --json')) as { sendOn: string };
      assert.equal(faults.sendOn, 'inject');
      cantainer('fault rm fdrop');
      a.send(eightBytes(0x101, generator(1)));
      assert.equal((await b.receiveAll(500)).length, 1, 'straight again once the fault is gone');
    } finally {
      a.close();
      b.close();
      await leave();
    }
  });

  it('delays a member by 20 ms ± 2 ms at the median with --delay 20, in order; cuts one off with --off; ends a fault on time', async () => {
    const leave = await timedBus(LAB, 'fdelay', {}, false);
    const [a, b, c, d] = LAB.namespaces.map((ns) => memberSocket(ns, { timestamps: true, receiveOwnMessages: ns === 'tm-a' }));
    try {
      cantainer(`fault add fdelay --member fdelay-tm-a --delay 20`);
      // When each frame left: the kernel's stamp on the sender's own copy of it (a batch takes a while to send).
      const sentAt: number[] = [];
      a!.listen(
        (frames, times) => {
          frames.forEach((frame, i) => (sentAt[sequenceOf(frame)] = times[i] ?? 0));
        },
        () => undefined,
      );
      await paced(a!, 5000, (i) => withSequence(eightBytes(0x100, generator(i)), i));
      const stamped: StampedFrame[] = [];
      for (let got = await b!.receiveStamped(1500); got !== undefined; got = await b!.receiveStamped(1500)) stamped.push(got);
      const waits = stamped.map((s) => s.timeUs - (sentAt[sequenceOf(s.frame)] ?? s.timeUs)).sort((x, y) => x - y);
      const median = waits[Math.floor(waits.length / 2)] ?? NaN;
      console.log(
        `timing: fault --delay 20: ${stamped.length} frames, median ${(median / 1000).toFixed(2)} ms, p1 ${((waits[Math.floor(waits.length / 100)] ?? NaN) / 1000).toFixed(2)} ms, p99 ${((waits[Math.floor((waits.length * 99) / 100)] ?? NaN) / 1000).toFixed(2)} ms`,
      );
      assert.equal(stamped.length, 5000);
      assert.deepEqual(
        stamped.map((s) => sequenceOf(s.frame)),
        Array.from({ length: 5000 }, (_, i) => i),
      );
      assert.ok(Math.abs(median - 20_000) <= 2_000, `median ${median} µs`);
      cantainer('fault rm fdelay');
      for (const socket of [a, b, c, d]) await socket!.receiveAll(200);

      cantainer('fault add fdelay --member fdelay-tm-c --off --for 3s');
      c!.sendBatch(Array.from({ length: 1000 }, (_, i) => eightBytes(0x300, generator(i))));
      a!.sendBatch(Array.from({ length: 1000 }, (_, i) => eightBytes(0x100, generator(i))));
      const [atB, atC, atD] = await Promise.all([b!.receiveAll(1000), c!.receiveAll(1000), d!.receiveAll(1000)]);
      console.log(`timing: fault --off: the member cut off heard ${atC.length}, the others ${atB.length} and ${atD.length} of a's 1000`);
      assert.deepEqual([atB.length, atC.length, atD.length], [1000, 0, 1000]);
      assert.ok(
        atB.every((frame) => frame.id === 0x100),
        'nothing of the member cut off',
      );
      await waitFor('the fault to end', () => (JSON.parse(cantainer('fault ls --json')) as unknown[]).length === 0, 10_000);
      c!.send(eightBytes(0x301, generator(1)));
      assert.equal((await b!.receiveAll(500)).length, 1, 'back on the bus once the fault ended');
    } finally {
      for (const socket of [a, b, c, d]) socket?.close();
      await leave();
    }
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
