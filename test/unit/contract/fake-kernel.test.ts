// The kernel port contract against the in-memory fake; the lab runs the same suite on the real kernel.
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelPortContract } from '../../support/kernel-contract.js';

kernelPortContract('in-memory fake', () => ({
  kernel: new FakeKernel('/run/cantainer-contract/netns'),
  maxHops: 1,
  eventually: (what, condition) => (condition() ? Promise.resolve() : Promise.reject(new Error(`the fake did not do at once: ${what}`))),
}));
