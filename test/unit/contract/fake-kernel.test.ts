// The kernel port contract against the in-memory fake; the lab runs the same suite on the real kernel.
import { FakeKernel } from '../../support/fake-kernel.js';
import { kernelPortContract } from '../../support/kernel-contract.js';

kernelPortContract('in-memory fake', () => {
  const kernel = new FakeKernel('/run/cantainer-contract/netns');
  return {
    kernel,
    maxHops: 1,
    eventually: (what, condition) => (condition() ? Promise.resolve() : Promise.reject(new Error(`the fake did not do at once: ${what}`))),
    plantStray: (name) => {
      kernel.namespaces.plantStray(name);
    },
  };
});
