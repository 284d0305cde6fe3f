import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { frameOf, sh, startCandump } from './helpers.js';

describe('frames with can-utils (proves the lab; slice 3 replaces the tools)', () => {
  afterEach(() => {
    sh('ip link del labvcan1 2>/dev/null; ip link del labvx2 2>/dev/null; ip netns del labns2 2>/dev/null; true');
  });

  it('sends a classic and an FD frame on a vcan and sees them with candump', async () => {
    sh('modprobe -a vcan can-raw && ip link add labvcan1 type vcan && ip link set labvcan1 mtu 72 up');
    const capture = await startCandump('labvcan1', 2);
    sh('cansend labvcan1 123#DEADBEEF && cansend labvcan1 456##1112233');
    const lines = await capture.lines;
    assert.deepEqual(lines.map(frameOf), ['labvcan1 123#DEADBEEF', 'labvcan1 456##5112233']);
  });

  it('carries a frame across a vxcan pair into another namespace', async () => {
    sh('modprobe -a vxcan can-raw && ip netns add labns2 && ip link add labvx2 type vxcan peer name labvx3 netns labns2');
    sh('ip link set labvx2 up && ip -n labns2 link set labvx3 up');
    const capture = await startCandump('labvx3', 1, 'labns2');
    sh('cansend labvx2 1FFFFFFF#0102');
    assert.deepEqual((await capture.lines).map(frameOf), ['labvx3 1FFFFFFF#0102']);
  });
});
