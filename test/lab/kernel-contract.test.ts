// The kernel port contract against the real kernel; the unit suite runs the same suite on the fake.
import { readFileSync } from 'node:fs';
import { systemKernel } from '../../src/kernel/index.js';
import { kernelPortContract } from '../support/kernel-contract.js';
import { sh, waitFor } from '../support/lab.js';

kernelPortContract('real kernel', () => {
  sh('modprobe -a vcan vxcan can-gw can-raw');
  return {
    kernel: systemKernel({ netnsDir: '/run/cantainer-test/contract' }),
    maxHops: Number(readFileSync('/sys/module/can_gw/parameters/max_hops', 'utf8')),
    eventually: (what, condition) => waitFor(what, condition),
  };
});
