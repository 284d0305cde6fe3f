// The timed bus as a simulation: frame times from the bit formula, exact arbitration by id, nothing released before
// its last bit, order per sender, full queues dropping what arrives.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classicFrame, fdFrame, type CanFrame } from '../../../src/can/frame.js';
import { frameTimeUs } from '../../../src/can/bit-length.js';
import { Arbiter, arbitrationKey } from '../../../src/timing/arbiter.js';

const eight = (id: number, byte = 0x55, extended = false): CanFrame => classicFrame({ id, extended, data: new Uint8Array(8).fill(byte) });

function arbiter(bitrate = 500_000, queueLimit = 100_000, dbitrate?: number): Arbiter {
  return new Arbiter({ bitrate, queueLimit, ...(dbitrate === undefined ? {} : { dbitrate }) });
}

describe('arbitration field', () => {
  it('orders as dominant bits do: lower id first, standard before extended of the same base, data before remote', () => {
    const order = [
      classicFrame({ id: 0x050 }),
      classicFrame({ id: 0x100 }),
      classicFrame({ id: 0x100, rtr: true }),
      classicFrame({ id: 0x100 << 18, extended: true }),
      classicFrame({ id: (0x100 << 18) | 1, extended: true }),
      classicFrame({ id: (0x100 << 18) | 1, extended: true, rtr: true }),
      classicFrame({ id: 0x101 }),
      classicFrame({ id: 0x1fffffff, extended: true }),
    ].map(arbitrationKey);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
    );
    assert.equal(new Set(order).size, order.length);
  });

  it('puts an FD frame where a classic data frame of its id goes', () => {
    assert.equal(arbitrationKey(fdFrame({ id: 0x123 })), arbitrationKey(classicFrame({ id: 0x123 })));
  });
});

describe('arbiter', () => {
  it('carries one flooding sender at the bus rate, in order, each frame released when its last bit is out', () => {
    const bus = arbiter();
    const frames = Array.from({ length: 50 }, (_, i) => eight(0x100, i));
    for (const frame of frames) assert.equal(bus.offer(0, frame, 0), true);
    let at = 0;
    const ends: number[] = [];
    for (const frame of frames) {
      at += frameTimeUs(frame, 500_000);
      ends.push(at);
    }
    assert.deepEqual(bus.run(ends[9]! - 0.001).length, 9);
    const rest = bus.run(ends[49]!);
    assert.equal(rest.length, 41);
    assert.deepEqual(
      rest.map((r) => r.endUs),
      ends.slice(9),
    );
    assert.deepEqual(
      rest.map((r) => r.frame.data[0]),
      frames.slice(9).map((f) => f.data[0]),
    );
    assert.equal(bus.waiting, 0);
    assert.equal(bus.busyUs, ends[49]);
  });

  it('gives a second of 8-byte frames the count the formula allows, at 125k, 500k and 1M', () => {
    for (const bitrate of [125_000, 500_000, 1_000_000]) {
      const bus = arbiter(bitrate);
      const frame = eight(0x123, 0xa5);
      for (let i = 0; i < 10_000; i++) bus.offer(0, frame, 0);
      assert.equal(bus.run(1_000_000).length, Math.floor(1_000_000 / frameTimeUs(frame, bitrate)), `at ${bitrate}`);
    }
  });

  it('lets the lowest id win whenever several wait: a flood of 0x100 holds off 0x200 until it is done', () => {
    const bus = arbiter();
    for (let i = 0; i < 20; i++) {
      bus.offer(1, eight(0x200, i), 0);
      bus.offer(0, eight(0x100, i), 0);
    }
    const ids = bus.run(1e9).map((release) => release.frame.id);
    assert.deepEqual(ids, [...Array<number>(20).fill(0x100), ...Array<number>(20).fill(0x200)]);
  });

  it('never preempts: a higher priority frame that arrives during a transmission goes right after it', () => {
    const bus = arbiter();
    bus.offer(0, eight(0x300), 0);
    bus.offer(0, eight(0x300), 0);
    bus.offer(1, eight(0x400), 0);
    const first = frameTimeUs(eight(0x300), 500_000);
    bus.offer(2, eight(0x010), first / 2);
    const order = bus.run(1e9);
    assert.deepEqual(
      order.map((r) => r.frame.id),
      [0x300, 0x010, 0x300, 0x400],
    );
    assert.equal(order[1]!.startUs, first);
  });

  it('does not decide a slot before it begins: a frame arriving before then still competes', () => {
    const bus = arbiter();
    bus.offer(1, eight(0x400), 0);
    const first = frameTimeUs(eight(0x400), 500_000);
    bus.offer(1, eight(0x400), 0);
    // Run to just before the first frame ends: the second slot is not decided yet.
    assert.equal(bus.run(first - 1).length, 0);
    bus.offer(0, eight(0x001), first - 0.5);
    assert.deepEqual(
      bus.run(1e9).map((r) => r.frame.id),
      [0x400, 0x001, 0x400],
    );
  });

  it('keeps the bus idle until a frame arrives, and a lone frame takes exactly its frame time', () => {
    const bus = arbiter(250_000);
    const frame = classicFrame({ id: 0x7ff, data: new Uint8Array([1, 2, 3]) });
    bus.offer(0, frame, 5_000);
    assert.equal(bus.nextEventUs(), 5_000);
    assert.deepEqual(bus.run(4_999), []);
    assert.deepEqual(bus.run(5_000), []);
    assert.equal(bus.nextEventUs(), 5_000 + frameTimeUs(frame, 250_000));
    const [release] = bus.run(10_000);
    assert.deepEqual(release && [release.startUs, release.endUs], [5_000, 5_000 + frameTimeUs(frame, 250_000)]);
    assert.equal(bus.nextEventUs(), undefined);
  });

  it("keeps each sender's order even when a later frame of it has a lower id", () => {
    const bus = arbiter();
    bus.offer(0, eight(0x300), 0);
    bus.offer(0, eight(0x001), 0);
    bus.offer(1, eight(0x200), 0);
    assert.deepEqual(
      bus.run(1e9).map((r) => [r.source, r.frame.id]),
      [
        [1, 0x200],
        [0, 0x300],
        [0, 0x001],
      ],
    );
  });

  it('drops what a sender sends while its queue is full, and nothing of the others', () => {
    const bus = arbiter(500_000, 4);
    const taken = Array.from({ length: 6 }, (_, i) => bus.offer(0, eight(0x100, i), 0));
    assert.deepEqual(taken, [true, true, true, true, false, false]);
    assert.equal(bus.offer(1, eight(0x200, 0), 0), true);
    assert.deepEqual(
      bus.run(1e9).map((r) => [r.frame.id, r.frame.data[0]]),
      [
        [0x100, 0],
        [0x100, 1],
        [0x100, 2],
        [0x100, 3],
        [0x200, 0],
      ],
    );
  });

  it('gives a sparse high-priority sender at most one frame time of waiting under two floods', () => {
    const bus = arbiter();
    const long = frameTimeUs(eight(0x200, 0), 500_000);
    for (let i = 0; i < 2000; i++) {
      bus.offer(1, eight(0x100, 0), 0);
      bus.offer(2, eight(0x200, 0), 0);
    }
    // 0x050 every 10 frame times, at odd moments.
    for (let i = 0; i < 100; i++) bus.offer(0, eight(0x050, 0x0f), i * 10 * long + (i % 7) * 13.7);
    const released = bus.run(1e12);
    const sparse = released.filter((r) => r.frame.id === 0x050);
    assert.equal(sparse.length, 100);
    const worst = Math.max(...sparse.map((r) => r.startUs - r.arrivalUs));
    assert.ok(worst <= long, `waited ${worst} µs, a frame time is ${long} µs`);
    // And under that load what crosses while both floods wait is 0x100.
    const floods = released.filter((r) => r.frame.id !== 0x050).slice(0, 1000);
    assert.equal(floods.filter((r) => r.frame.id === 0x100).length, 1000);
  });

  it('times FD frames with the data phase at dbitrate when they switch bit rate', () => {
    const bus = arbiter(500_000, 10, 2_000_000);
    const frame = fdFrame({ id: 0x10, brs: true, data: new Uint8Array(64).fill(0x33) });
    bus.offer(0, frame, 0);
    const [release] = bus.run(1e9);
    assert.equal(release?.endUs, frameTimeUs(frame, 500_000, 2_000_000));
    assert.ok(frameTimeUs(frame, 500_000, 2_000_000) < frameTimeUs(frame, 500_000));
  });

  it('forgets a sender that left, with what it had waiting', () => {
    const bus = arbiter();
    for (let i = 0; i < 5; i++) bus.offer(3, eight(0x100), 0);
    bus.offer(4, eight(0x200), 0);
    assert.equal(bus.forget(3), 5);
    assert.equal(bus.waiting, 1);
    assert.deepEqual(
      bus.run(1e9).map((r) => r.source),
      [4],
    );
  });
});
