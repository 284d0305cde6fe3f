// Exactly once while a bus changes: rules are replaced so that at no moment does the kernel hold an old rule and
// its replacement together, which would deliver a frame matching both twice (#22). A probe frame is sent after
// every change the reconciler makes to the kernel's rules.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { NetnsTarget, RoutePort } from '../../../src/kernel/port.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu, heard } from '../../support/ecus.js';
import { simFrame } from '../../support/frame-sim.js';
import { gateway } from '../../support/gateways.js';

/** A fake kernel that calls `probe` after every change of can-gw rules. */
class ProbedKernel extends FakeKernel {
  probe: () => void = () => undefined;

  override route(netns?: NetnsTarget): RoutePort {
    const route = super.route(netns);
    const probed = new Set<PropertyKey>(['addRule', 'addRules', 'deleteRule']);
    return new Proxy(route, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (!probed.has(property)) return bound;
        return (...args: unknown[]): unknown => {
          const result = bound(...args);
          this.probe();
          return result;
        };
      },
    });
  }
}

describe('exactly once while a bus is reconfigured', () => {
  let dir: string;
  let kernel: ProbedKernel;
  let service: BusService;
  /** The most times any listener heard one probe frame. */
  let most: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-once-'));
    kernel = new ProbedKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    await service.createBus({ id: 'A', name: 'powertrain', fd: false, members: [] });
    await service.createBus({ id: 'B', name: 'body', fd: false, members: [] });
    for (const name of ['a1', 'a2']) await service.addMember('A', ecu(kernel, name));
    await service.addMember('B', ecu(kernel, 'b1'));
    most = 0;
    kernel.probe = () => {
      for (const count of Object.values(heard(kernel, 'a1', simFrame(0x123, '01')))) most = Math.max(most, count);
    };
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("when a member's receive filter changes, again and again", async () => {
    for (const receive of [['100/700'], ['120/7F0'], ['123'], ['100/700']]) await service.addMember('A', { ...ecu(kernel, 'a2'), receive });
    assert.equal(most, 1);
  });

  it("when a member's send filter changes", async () => {
    for (const send of [['100/700'], ['123'], ['000/000']]) await service.addMember('A', { ...ecu(kernel, 'a1'), send });
    assert.equal(most, 1);
  });

  it("when a gateway's filters change", async () => {
    for (const accept of [[], ['100/700'], ['123'], ['120/7F0']]) await service.addGateway(gateway('powertrain', 'body', { accept }));
    assert.equal(most, 1);
  });
});
