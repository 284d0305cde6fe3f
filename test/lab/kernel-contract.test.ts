// The kernel port contract against the real kernel; the unit suite runs the same suite on the fake.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemKernel } from '../../src/kernel/index.js';
import { kernelPortContract } from '../support/kernel-contract.js';
import { sh, waitFor } from '../support/lab.js';

const DIR = '/run/cantainer-test/contract';

kernelPortContract('real kernel', () => {
  sh('modprobe -a vcan vxcan can-gw can-raw');
  return {
    kernel: systemKernel({ netnsDir: DIR }),
    plantStray: (name) => {
      mkdirSync(DIR, { recursive: true });
      writeFileSync(join(DIR, name), 'not a namespace');
    },
    maxHops: Number(readFileSync('/sys/module/can_gw/parameters/max_hops', 'utf8')),
    eventually: (what, condition) => waitFor(what, condition),
  };
});
