// A member made in a namespace file keeps that namespace's identity: the path must name a network namespace when it
// joins, and a member whose path later names another namespace (a PID reused under /proc/PID/ns/net) is dropped,
// never wired into a stranger's namespace (#22).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotANetworkNamespaceError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { Member } from '../../../src/bus/model.js';
import { BusService } from '../../../src/service/buses.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';

describe('the namespace a member is made in', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  const member = (name: string, path = `/proc/${name}/ns/net`): Member => ({ id: name, end: { name: 'can0', netns: path, up: true } });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-netns-id-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('must be a network namespace: a FIFO, a plain file or nothing is refused, naming the path, and nothing is made', async () => {
    kernel.plantFile('/tmp/fifo', 'a FIFO');
    kernel.plantFile('/tmp/file', 'a plain file, not a namespace');
    for (const [path, why] of [
      ['/tmp/fifo', /^netns \/tmp\/fifo is a FIFO$/u],
      ['/tmp/file', /^netns \/tmp\/file is a plain file, not a namespace$/u],
      ['/run/netns/none', /^netns \/run\/netns\/none does not exist$/u],
    ] as const) {
      await assert.rejects(
        service.attachMember({ bus: 'powertrain', create: true }, member('e1', path)),
        (error: unknown) => error instanceof NotANetworkNamespaceError && error.code === 'ENONETNS' && why.test(error.message),
      );
    }
    assert.deepEqual(service.list(), []);
    assert.deepEqual(kernel.namespaces.list(), []);
  });

  it('is remembered: when its path names another namespace, the member is dropped and nothing is made there', async () => {
    kernel.addForeignNamespace('/proc/100/ns/net', 'pid 100');
    kernel.addForeignNamespace('/proc/200/ns/net', 'pid 200');
    await service.attachMember({ bus: 'powertrain', create: true }, member('e1', '/proc/100/ns/net'));
    await service.attachMember({ bus: 'powertrain' }, member('e2', '/proc/200/ns/net'));
    // Process 100 ends; a new process gets its PID, in a namespace of its own.
    kernel.destroyForeign('/proc/100/ns/net');
    kernel.addForeignNamespace('/proc/100/ns/net', 'a stranger');
    await service.verify();
    assert.deepEqual(
      service.byName('powertrain')?.members.map((m) => m.id),
      ['e2'],
    );
    assert.deepEqual(kernel.linksIn('/proc/100/ns/net'), []);
    assert.deepEqual(service.check(service.byName('powertrain')!.id), []);
  });

  it('is checked again before a pair is made there, whatever asked for it', async () => {
    kernel.addForeignNamespace('/proc/100/ns/net', 'pid 100');
    await service.attachMember({ bus: 'powertrain', create: true }, member('e1', '/proc/100/ns/net'));
    const bus = service.byName('powertrain')!;
    kernel.destroyForeign('/proc/100/ns/net');
    kernel.addForeignNamespace('/proc/100/ns/net', 'a stranger');
    await service.repair(bus.id);
    assert.deepEqual(kernel.linksIn('/proc/100/ns/net'), []);
  });
});
