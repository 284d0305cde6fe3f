// Rules go to the kernel in batches small enough that every acknowledgement fits the socket (#22).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batchesOf } from '../../../src/kernel/route.js';

describe('batches of rules per netlink send', () => {
  it('hold at most 256 rules', () => {
    assert.deepEqual(batchesOf(Array.from({ length: 600 }, () => 64)), [
      { start: 0, end: 256 },
      { start: 256, end: 512 },
      { start: 512, end: 600 },
    ]);
  });

  it('hold at most 32 KiB, so that large rules (FD edits) go fewer at a time', () => {
    const batches = batchesOf(Array.from({ length: 256 }, () => 680));
    assert.deepEqual(
      batches.map(({ start, end }) => end - start),
      [48, 48, 48, 48, 48, 16],
    );
  });

  it('put a rule larger than a batch alone, and make none of nothing', () => {
    assert.deepEqual(batchesOf([100, 40_000, 100]), [
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 3 },
    ]);
    assert.deepEqual(batchesOf([]), []);
  });
});
