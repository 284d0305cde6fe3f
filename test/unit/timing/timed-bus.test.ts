// A timed bus wired on the fake kernel: frames reach every other member exactly once, in order, only through the
// arbiter, no faster than the bus's bit rate, the lowest id first; host tools inject on their own vcan; a member that
// leaves takes its sockets with it, and an untimed bus has no arbiter at all.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus, Member } from '../../../src/bus/model.js';
import { busNamespace, INJECT, MONITOR, planBus, releaseName, hostEndName } from '../../../src/bus/plan.js';
import { classicFrame, type CanFrame } from '../../../src/can/frame.js';
import { frameTimeUs } from '../../../src/can/bit-length.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { InvalidValueError } from '../../../src/errors.js';
import type { CanSocketPort, StampedFrame } from '../../../src/kernel/port.js';
import { nowUs } from '../../../src/kernel/clock.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu as ecuOf, ecuSocket } from '../../support/ecus.js';

const BITRATE = 125_000;

/** What a socket receives within `ms` (however busy the bus stays). */
async function receiveFor(socket: CanSocketPort, ms: number): Promise<CanFrame[]> {
  const deadline = performance.now() + ms;
  const frames: CanFrame[] = [];
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return frames;
    const frame = await socket.receive(remaining);
    if (frame !== undefined) frames.push(frame);
  }
}

describe('timed bus', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const sockets: CanSocketPort[] = [];
  const ecu = (name: string): Member => ecuOf(kernel, name);
  const open = (name: string): CanSocketPort => ecuSocket(kernel, name, sockets);
  const onBus = (bus: Bus, ifname: string): CanSocketPort => {
    const socket = kernel.canSocket(ifname, { netns: kernel.owned(busNamespace(bus.id)) });
    sockets.push(socket);
    return socket;
  };
  const frame = (id: number, index: number): CanFrame => classicFrame({ id, data: new Uint8Array([index, 0, 0, 0, 0, 0, 0, index]) });
  const timed = (members: Member[], bitrate = BITRATE): Bus => ({ id: 'T', name: 'timed', fd: false, timing: { bitrate }, members });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-timed-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plans release vcans and an inject vcan, and starts every rule at a release vcan', () => {
    const bus = timed([ecu('a'), ecu('b')]);
    const plan = planBus(bus);
    const a = hostEndName('a');
    const b = hostEndName('b');
    assert.deepEqual(plan.timing?.senders, [
      { end: a, release: releaseName(a) },
      { end: b, release: releaseName(b) },
      { end: INJECT, release: releaseName(INJECT) },
    ]);
    const links = plan.links.map((link) => link.name);
    for (const name of [INJECT, releaseName(a), releaseName(b), releaseName(INJECT)]) assert.ok(links.includes(name), name);
    assert.deepEqual(
      plan.rules.map((rule) => `${rule.source}>${rule.destination}`).sort(),
      [
        `${releaseName(a)}>${b}`,
        `${releaseName(a)}>${MONITOR}`,
        `${releaseName(b)}>${a}`,
        `${releaseName(b)}>${MONITOR}`,
        `${releaseName(INJECT)}>${a}`,
        `${releaseName(INJECT)}>${b}`,
        `${releaseName(INJECT)}>${MONITOR}`,
      ].sort(),
    );
    assert.equal(planBus({ id: bus.id, name: bus.name, fd: false, members: bus.members }).timing, undefined);
  });

  it('refuses a bit rate out of range, and a data bit rate on a classic bus, naming the field', async () => {
    await assert.rejects(
      async () => service.createBus({ ...timed([]), timing: { bitrate: 2_000_000 } }),
      (error: unknown) => error instanceof InvalidValueError && /bus\.bitrate.*2000000.*5000 to 1000000/u.test(error.message),
    );
    await assert.rejects(
      async () => service.createBus({ ...timed([]), timing: { bitrate: 500_000, dbitrate: 2_000_000 } }),
      (error: unknown) => error instanceof InvalidValueError && /bus\.dbitrate.*only on an FD bus/u.test(error.message),
    );
    assert.deepEqual(service.list(), []);
  });

  it('takes every frame to every other member once, in order, no faster than the bit rate', async () => {
    const bus = await service.createBus(timed([ecu('a'), ecu('b'), ecu('c')]));
    const [a, b, c] = [open('a'), open('b'), open('c')];
    const monitor = onBus(bus, MONITOR);
    const sent = Array.from({ length: 40 }, (_, i) => frame(0x123, i));
    const started = nowUs();
    a.sendBatch(sent);
    const stamped: StampedFrame[] = [];
    for (let got = await b.receiveStamped(300); got !== undefined; got = await b.receiveStamped(300)) stamped.push(got);
    const atB = stamped.map((got) => got.frame);
    const elapsedMs = ((stamped.at(-1)?.timeUs ?? started) - started) / 1000;
    assert.deepEqual(
      atB.map((f) => f.data[0]),
      sent.map((f) => f.data[0]),
    );
    assert.deepEqual(
      (await c.receiveAll(50)).map((f) => f.data[0]),
      sent.map((f) => f.data[0]),
    );
    assert.equal((await monitor.receiveAll(50)).length, 40);
    assert.deepEqual(await a.receiveAll(50), [], 'the sender hears nothing of its own');
    const wireMs = sent.reduce((sum, f) => sum + frameTimeUs(f, BITRATE), 0) / 1000;
    assert.ok(
      elapsedMs >= wireMs,
      `the last of 40 frames arrived after ${elapsedMs.toFixed(1)} ms, the wire needs ${wireMs.toFixed(1)} ms`,
    );
    const stats = service.timing(bus.id);
    assert.ok(stats);
    assert.equal(stats.frames, 40);
    assert.equal(
      stats.busyUs,
      sent.reduce((sum, f) => sum + frameTimeUs(f, BITRATE), 0),
    );
    assert.deepEqual(stats.dropped, { 'bus-full': 0, unwired: 0, fault: 0 });
  });

  it('lets the lowest id go first when two members have frames waiting', async () => {
    // At 10 kbit/s a frame holds the bus for about 11 ms: both members' frames have arrived before the first ends,
    // however slowly this machine delivers them.
    const bus = await service.createBus(timed([ecu('a'), ecu('b'), ecu('c')], 10_000));
    const [a, b, c] = [open('a'), open('b'), open('c')];
    a.sendBatch(Array.from({ length: 10 }, (_, i) => frame(0x200, i)));
    b.sendBatch(Array.from({ length: 10 }, (_, i) => frame(0x100, i)));
    const heard = await c.receiveAll(300);
    // 0x200's first frame won the idle bus before 0x100's arrived; then 0x100 held it until it had nothing waiting.
    assert.deepEqual(
      heard.map((f) => [f.id, f.data[0]]),
      [[0x200, 0], ...Array.from({ length: 10 }, (_, i) => [0x100, i]), ...Array.from({ length: 9 }, (_, i) => [0x200, i + 1])],
    );
    assert.equal(service.timing(bus.id)?.frames, 20);
  });

  it('takes frames injected on the inject vcan to every member, and shows them on the monitor once', async () => {
    const bus = await service.createBus(timed([ecu('a'), ecu('b')]));
    const [a, b] = [open('a'), open('b')];
    const monitor = onBus(bus, MONITOR);
    onBus(bus, INJECT).sendBatch([frame(0x7df, 1), frame(0x7df, 2)]);
    assert.deepEqual(
      (await a.receiveAll(200)).map((f) => f.data[0]),
      [1, 2],
    );
    assert.deepEqual(
      (await b.receiveAll(50)).map((f) => f.data[0]),
      [1, 2],
    );
    assert.deepEqual(
      (await monitor.receiveAll(50)).map((f) => f.data[0]),
      [1, 2],
    );
  });

  it('counts what a sender floods beyond its queue as bus-full, and delivers the rest exactly once', async () => {
    const bus = await service.createBus(timed([ecu('a'), ecu('b')], 5_000));
    const [a, b] = [open('a'), open('b')];
    const flood = Array.from({ length: 2100 }, (_, i) => frame(0x100, i % 256));
    a.sendBatch(flood);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stats = service.timing(bus.id);
    assert.equal(stats?.dropped['bus-full'], 2100 - 2048);
    // At 5 kbit/s a frame takes about 23 ms: a few crossed, the rest wait.
    const heard = await receiveFor(b, 120);
    assert.ok(heard.length >= 1 && heard.length < 20, `${heard.length} crossed`);
    assert.deepEqual(
      heard.map((f) => f.data[0]),
      flood.slice(0, heard.length).map((f) => f.data[0]),
    );
  });

  it('carries frames through a gateway between two timed buses once each way, timed on each bus', async () => {
    await service.createBus(timed([ecu('a'), ecu('b')]));
    await service.createBus({ id: 'U2', name: 'body', fd: false, timing: { bitrate: 250_000 }, members: [ecu('x')] });
    await service.addGateway({ source: 'timed', destination: 'body', both: true, accept: [], reject: [], edits: [] });
    const [a, b, x] = [open('a'), open('b'), open('x')];
    a.send(frame(0x101, 1));
    x.send(frame(0x202, 2));
    assert.deepEqual(
      (await b.receiveAll(200)).map((f) => f.id),
      [0x101, 0x202],
    );
    assert.deepEqual(
      (await x.receiveAll(100)).map((f) => f.id),
      [0x101],
    );
    assert.deepEqual(
      (await a.receiveAll(100)).map((f) => f.id),
      [0x202],
    );
    // Each frame crossed each bus once: 0x101 on timed, then on body; 0x202 on body, then on timed.
    assert.equal(service.timing('T')?.frames, 2);
    assert.equal(service.timing('U2')?.frames, 2);
  });

  it('closes the sockets of a member that left, and the whole arbiter with the bus', async () => {
    const bus = await service.createBus(timed([ecu('a'), ecu('b')]));
    const before = kernel.sockets.size;
    await service.removeMember(bus.id, 'b');
    assert.equal(kernel.sockets.size, before - 2);
    assert.ok(service.timing(bus.id));
    await service.removeBus(bus.id);
    assert.equal(service.timing(bus.id), undefined);
    assert.equal(kernel.sockets.size, before - 6);
  });

  it('is timed again after a restart, from the state', async () => {
    await service.createBus({ ...timed([ecu('a'), ecu('b')], 250_000), fd: true, timing: { bitrate: 250_000, dbitrate: 1_000_000 } });
    service.close();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    assert.deepEqual(service.get('T')?.timing, { bitrate: 250_000, dbitrate: 1_000_000 });
    assert.equal(service.timing('T')?.dbitrate, 1_000_000);
    const [a, b] = [open('a'), open('b')];
    a.send(frame(0x10, 1));
    assert.equal((await b.receiveAll(100)).length, 1);
    assert.equal(service.timing('T')?.frames, 1);
  });

  it('wires an untimed bus with no arbiter and no socket', async () => {
    const before = kernel.sockets.size;
    const bus = await service.createBus({ id: 'U', name: 'untimed', fd: false, members: [ecu('a'), ecu('b')] });
    assert.equal(service.timing(bus.id), undefined);
    assert.equal(kernel.sockets.size, before);
  });
});
