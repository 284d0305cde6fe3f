import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { sh } from '../support/lab.js';

describe('lab kernel', () => {
  it('is a Debian kernel with the CAN modules loadable', () => {
    sh('modprobe -a vcan vxcan can-gw can-raw can-isotp');
    for (const module of ['vcan', 'vxcan', 'can_gw', 'can_raw', 'can_isotp']) {
      assert.ok(existsSync(`/sys/module/${module}`), `module ${module} is loaded`);
    }
  });

  it('reports the can-gw hop limit', () => {
    const maxHops = Number(readFileSync('/sys/module/can_gw/parameters/max_hops', 'utf8'));
    assert.ok(maxHops >= 1 && maxHops <= 6, `max_hops ${maxHops}`);
  });

  it('runs as root in a writable overlay on the host filesystem', () => {
    assert.equal(process.getuid?.(), 0);
    assert.match(sh('cat /proc/mounts'), /^overlay \/ overlay/mu);
  });
});
