// A bus spanning nodes (#24), on the fake kernel: the daemon keeps its tunnel named span as the nodes call for (a
// spoke's client of the hub, the hub's server taking only the other nodes), changes it when nodes come and go
// (with events naming them), leaves it alone when the orchestrator does not answer, and no request may add,
// change or remove it by hand.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Bus } from '../../../src/bus/model.js';
import { busNamespace } from '../../../src/bus/plan.js';
import { spanPort, type SpanNodes } from '../../../src/bus/span.js';
import { tunnelEndName } from '../../../src/bus/tunnel.js';
import { BusService } from '../../../src/service/buses.js';
import type { BusEvent } from '../../../src/service/events.js';
import { InvalidValueError } from '../../../src/errors.js';
import { StateStore } from '../../../src/state/store.js';
import { FakeKernel } from '../../support/fake-kernel.js';

const ID = 'b7e1d0c9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1';
const MANAGERS = [
  { id: 'mgr-b', address: '10.0.0.2' },
  { id: 'mgr-a', address: '10.0.0.1' },
];
const PORT = spanPort(ID);

describe('a bus spanning nodes', () => {
  let dir: string;
  let kernel: FakeKernel;
  let service: BusService;
  let events: BusEvent[];
  const spanned: Bus = { id: ID, name: 'powertrain', fd: false, members: [], span: { mode: 'swarm' } };
  const spanTunnel = (): unknown => service.get(ID)?.tunnels?.find((tunnel) => tunnel.name === 'span');
  /** The tunnel's end, wired to the bus like a member's, in the bus's namespace. */
  const tunnelEnd = (): boolean => kernel.linkAt(kernel.owned(busNamespace(ID)), tunnelEndName(ID, 'span')) !== undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-span-'));
    kernel = new FakeKernel();
    service = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    service.start();
    await service.createBus(spanned);
    events = [];
    service.onEvent((event) => events.push(event));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives a spoke's bus a client of the hub, wired to the bus, and keeps it across a restart", async () => {
    const plan = await service.keepSpan(ID, { self: ['10.0.0.9'], managers: MANAGERS });
    assert.equal(plan?.role, 'spoke');
    assert.deepEqual(spanTunnel(), { name: 'span', transport: 'tcp-client', peer: `10.0.0.1:${PORT}`, allow: [] });
    assert.ok(tunnelEnd());
    const again = new BusService({ kernel, store: new StateStore(dir), log: silentLogger });
    again.start();
    assert.deepEqual(again.get(ID), service.get(ID));
    // The same nodes again change nothing.
    events = [];
    await service.keepSpan(ID, { self: ['10.0.0.9'], managers: MANAGERS });
    assert.deepEqual(events, []);
  });

  it("changes the hub's server as nodes join and leave, and says which", async () => {
    const hub = (nodes: string[]): SpanNodes => ({ self: ['10.0.0.1'], managers: MANAGERS, nodes });
    await service.keepSpan(ID, hub(['10.0.0.1', '10.0.0.2']));
    assert.deepEqual(spanTunnel(), { name: 'span', transport: 'tcp-server', listen: `10.0.0.1:${PORT}`, allow: ['10.0.0.2'] });
    await service.keepSpan(ID, hub(['10.0.0.1', '10.0.0.2', '10.0.0.7']));
    await service.keepSpan(ID, hub(['10.0.0.1', '10.0.0.7']));
    assert.deepEqual(spanTunnel(), { name: 'span', transport: 'tcp-server', listen: `10.0.0.1:${PORT}`, allow: ['10.0.0.7'] });
    assert.deepEqual(
      events.filter((event) => event.type.startsWith('span-')).map((event) => [event.type, event.bus, event.node]),
      [
        ['span-node-joined', 'powertrain', '10.0.0.2'],
        ['span-node-joined', 'powertrain', '10.0.0.7'],
        ['span-node-left', 'powertrain', '10.0.0.2'],
      ],
    );
    assert.ok(tunnelEnd());
  });

  it('leaves the tunnel alone when the orchestrator does not answer, and takes it away when no hub is left', async () => {
    await service.keepSpan(ID, { self: ['10.0.0.9'], managers: MANAGERS });
    const before = spanTunnel();
    assert.equal(await service.keepSpan(ID, undefined), undefined);
    assert.deepEqual(spanTunnel(), before);
    assert.equal(await service.keepSpan(ID, { self: ['10.0.0.9'], managers: [] }), undefined);
    assert.equal(spanTunnel(), undefined);
    assert.ok(!tunnelEnd());
    assert.deepEqual(service.get(ID)?.tunnels, undefined);
  });

  it('refuses to add, change or remove the span tunnel by hand, and changes nothing for a bus without a span', async () => {
    await service.keepSpan(ID, { self: ['10.0.0.9'], managers: MANAGERS });
    const tunnel = { name: 'span', transport: 'tcp-client', peer: '10.9.9.9:7000', allow: [] } as const;
    const refused = (error: unknown): boolean =>
      error instanceof InvalidValueError && error.field === 'tunnel name' && /keeps itself/u.test(error.message);
    await assert.rejects(service.addTunnel('powertrain', tunnel), refused);
    await assert.rejects(service.removeTunnel('powertrain', 'span'), refused);
    assert.equal((spanTunnel() as { peer: string }).peer, `10.0.0.1:${PORT}`);
    await service.createBus({ id: 'plain', name: 'body', fd: false, members: [] });
    assert.equal(await service.keepSpan('plain', { self: ['10.0.0.9'], managers: MANAGERS }), undefined);
    await service.addTunnel('body', tunnel);
    assert.equal(await service.removeTunnel('body', 'span'), true);
  });
});
