// The kernel port's contract: one suite, run against the in-memory fake in the unit suite
// (test/unit/contract/fake-kernel.test.ts) and against the real kernel in the lab (test/lab/kernel-contract.test.ts),
// so that the fake the bus core is tested with behaves as the kernel does.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../src/errors.js';
import { CURRENT_NETNS, KernelError, type KernelPort, type NetnsTarget, type RoutePort } from '../../src/kernel/index.js';
import type { CanGwRule } from '../../src/netlink/cangw.js';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';

export interface ContractSubject {
  readonly kernel: KernelPort;
  /** The can_gw module's max_hops on this kernel. */
  readonly maxHops: number;
  /** Waits until `condition` holds: the real kernel destroys namespaces asynchronously, the fake at once. */
  eventually(what: string, condition: () => boolean): Promise<void>;
  /** Puts a file that is no namespace in the namespace directory (as a crash between its two steps leaves one). */
  plantStray(name: string): void;
}

function isKernelError(errnoName: string, message?: string): (error: unknown) => boolean {
  return (error: unknown) => {
    if (!(error instanceof KernelError)) return false;
    assert.equal(error.errnoName, errnoName, error.message);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  };
}

export function kernelPortContract(name: string, subject: () => ContractSubject): void {
  describe(`kernel port contract: ${name}`, () => {
    let s: ContractSubject;
    const open: RoutePort[] = [];
    const route = (netns: NetnsTarget): RoutePort => {
      const handle = s.kernel.route(netns);
      open.push(handle);
      return handle;
    };
    const space = (label: string): NetnsTarget => {
      s.kernel.namespaces.create(label);
      return s.kernel.owned(label);
    };

    before(() => {
      s = subject();
    });
    afterEach(() => {
      for (const handle of open.splice(0)) handle.close();
      for (const label of s.kernel.namespaces.list()) s.kernel.namespaces.delete(label);
    });
    after(() => {
      assert.deepEqual(s.kernel.namespaces.list(), [], 'the suite leaves no namespace behind');
    });

    it('creates, lists and deletes namespaces; EEXIST for a duplicate; a bad name changes nothing', () => {
      const path = s.kernel.namespaces.create('kc-a');
      assert.equal(path, s.kernel.namespaces.path('kc-a'));
      assert.equal(s.kernel.namespaces.exists('kc-a'), true);
      assert.deepEqual(s.kernel.namespaces.list(), ['kc-a']);
      assert.throws(() => s.kernel.namespaces.create('kc-a'), isKernelError('EEXIST', 'creating netns kc-a: EEXIST (File exists)'));
      assert.throws(() => s.kernel.namespaces.create('../kc'), InvalidValueError);
      assert.equal(s.kernel.namespaces.delete('kc-a'), true);
      assert.equal(s.kernel.namespaces.delete('kc-a'), false);
      assert.equal(s.kernel.namespaces.exists('kc-a'), false);
      assert.deepEqual(s.kernel.namespaces.list(), []);
    });

    it('a file in the namespace directory that is no namespace counts as none: create takes its place, delete removes it (#22)', () => {
      s.plantStray('kc-stray');
      assert.equal(s.kernel.namespaces.exists('kc-stray'), false);
      assert.deepEqual(s.kernel.namespaces.list(), ['kc-stray']);
      s.kernel.namespaces.create('kc-stray');
      assert.equal(s.kernel.namespaces.exists('kc-stray'), true);
      assert.deepEqual(
        route(s.kernel.owned('kc-stray'))
          .listLinks()
          .map((link) => link.name),
        ['lo'],
      );
      assert.equal(s.kernel.namespaces.delete('kc-stray'), true);
      s.plantStray('kc-stray');
      assert.equal(s.kernel.namespaces.delete('kc-stray'), false);
      assert.deepEqual(s.kernel.namespaces.list(), []);
    });

    it('identifies network namespaces by path: one of its own, nothing there, a stray file (#22)', () => {
      const path = s.kernel.namespaces.create('kc-id');
      const first = s.kernel.identify(path);
      assert.equal(first.kind, 'netns');
      assert.deepEqual(s.kernel.identify(path), first, 'the identity stays while the namespace lives');
      assert.deepEqual(s.kernel.identify(`${path}-none`), { kind: 'gone' });
      s.plantStray('kc-id-stray');
      assert.deepEqual(s.kernel.identify(s.kernel.namespaces.path('kc-id-stray')), {
        kind: 'other',
        what: 'a plain file, not a namespace',
      });
    });

    it('creates a vcan with its MTU; EEXIST for a taken name; a 16-character name is refused before the kernel', () => {
      const r = route(space('kc-vcan'));
      r.createVcan({ name: 'mon', mtu: 16 });
      const link = r.findLink('mon');
      assert.equal(link?.kind, 'vcan');
      assert.equal(link.type, 280);
      assert.equal(link.mtu, 16);
      assert.equal(link.up, false);
      assert.throws(
        () => {
          r.createVcan({ name: 'mon', mtu: 72 });
        },
        isKernelError('EEXIST', 'creating vcan mon in netns kc-vcan: EEXIST (File exists)'),
      );
      assert.equal(r.findLink('mon')?.mtu, 16, 'the failed request changed nothing');
      assert.throws(
        () => {
          r.createVcan({ name: 'abcdefghijklmnop' });
        },
        (error: unknown) => error instanceof InvalidValueError && error.field === 'name',
      );
      assert.throws(() => r.findLink('abcdefghijklmnop'), InvalidValueError, 'looking a bad name up is refused too');
      assert.equal(r.listLinks().length, 2);
      r.createVcan({ name: 'up0', up: true });
      assert.equal(r.findLink('up0')?.up, true);
      assert.deepEqual(
        r.listLinks().map((l) => [l.name, l.kind ?? 'none']),
        [
          ['lo', 'none'],
          ['mon', 'vcan'],
          ['up0', 'vcan'],
        ],
      );
    });

    it('changes the MTU only while the link is down (EBUSY otherwise); ENODEV names a missing link', () => {
      const r = route(space('kc-mtu'));
      r.createVcan({ name: 'v0', mtu: 72 });
      r.setLinkUp('v0', true);
      assert.throws(
        () => {
          r.setMtu('v0', 16);
        },
        isKernelError('EBUSY', 'setting MTU 16 on link v0 in netns kc-mtu: EBUSY (Device or resource busy)'),
      );
      r.setLinkUp('v0', false);
      r.setMtu('v0', 16);
      assert.equal(r.findLink('v0')?.mtu, 16);
      assert.throws(
        () => {
          r.setLinkUp('nosuch0', true);
        },
        isKernelError('ENODEV', 'setting link nosuch0 up in netns kc-mtu: ENODEV (No such device)'),
      );
      assert.equal(r.deleteLink('v0'), true);
      assert.equal(r.deleteLink('v0'), false);
    });

    it('creates a vxcan pair with the peer in another namespace; a taken peer name fails with EEXIST and creates nothing', () => {
      const bus = space('kc-bus');
      const member = space('kc-member');
      const r = route(bus);
      const m = route(member);
      r.createVxcanPair({ name: 'h1', mtu: 16, peer: { name: 'c1', mtu: 16, netns: member } });
      const host = r.findLink('h1');
      const peer = m.findLink('c1');
      assert.equal(host?.kind, 'vxcan');
      assert.equal(peer?.kind, 'vxcan');
      assert.equal(host.mtu, 16);
      assert.equal(peer.mtu, 16);
      assert.equal(host.peerIndex, peer.index);
      assert.equal(r.findLink('c1'), undefined);
      assert.throws(
        () => {
          r.createVxcanPair({ name: 'h2', peer: { name: 'c1', netns: member } });
        },
        isKernelError('EEXIST', 'creating vxcan pair h2/c1 (peer in netns kc-member) in netns kc-bus: EEXIST (File exists)'),
      );
      assert.equal(r.findLink('h2'), undefined, 'no half pair is left');
      assert.throws(() => {
        r.createVxcanPair({ name: 'h3', peer: { name: 'c3', netns: { label: 'gone', path: `${s.kernel.namespaces.dir}/kc-gone` } } });
      }, isKernelError('ENOENT'));
      assert.equal(r.findLink('h3'), undefined);
    });

    it("places the peer in the caller's own namespace when its target is CURRENT_NETNS, not in the route's", () => {
      const r = route(space('kc-here'));
      const host = route(CURRENT_NETNS);
      r.createVxcanPair({ name: 'h1', mtu: 16, peer: { name: 'kc-peer0', mtu: 16, netns: CURRENT_NETNS } });
      try {
        assert.equal(r.findLink('kc-peer0'), undefined);
        assert.equal(host.findLink('kc-peer0')?.kind, 'vxcan');
        assert.equal(r.findLink('h1')?.peerIndex, host.findLink('kc-peer0')?.index);
      } finally {
        host.deleteLink('kc-peer0');
      }
      assert.equal(r.findLink('h1'), undefined);
    });

    it('deletes both ends of a vxcan pair and every rule on them, from either side', () => {
      const bus = space('kc-del');
      const member = space('kc-del-m');
      const r = route(bus);
      const m = route(member);
      for (const i of [1, 2]) r.createVxcanPair({ name: `h${i}`, peer: { name: `c${i}`, netns: member } });
      const index = (n: string): number => r.findLink(n)?.index ?? 0;
      const rule = (a: string, b: string): CanGwRule => ({
        sourceIndex: index(a),
        destinationIndex: index(b),
        echo: true,
        allowToIncomingInterface: true,
        hopLimit: 1,
      });
      r.addRule(rule('h1', 'h2'));
      r.addRule(rule('h2', 'h1'));
      assert.equal(r.listRules().length, 2);
      assert.equal(m.deleteLink('c1'), true, 'deleting the far end');
      assert.equal(r.findLink('h1'), undefined, 'takes the near end along');
      assert.deepEqual(r.listRules(), [], 'and the rules on it');
      assert.equal(r.deleteLink('h2'), true);
      assert.equal(m.findLink('c2'), undefined);
    });

    it('keeps identical can-gw rules side by side, deletes one at a time, and answers false for none', () => {
      const r = route(space('kc-rules'));
      r.createVcan({ name: 'a' });
      r.createVcan({ name: 'b' });
      const rule: CanGwRule = {
        sourceIndex: r.findLink('a')?.index ?? 0,
        destinationIndex: r.findLink('b')?.index ?? 0,
        echo: true,
        allowToIncomingInterface: true,
        hopLimit: 1,
        fd: true,
      };
      r.addRule(rule);
      r.addRule(rule);
      const listed = r.listRules();
      assert.equal(listed.length, 2);
      assert.deepEqual(listed[0]?.rule, rule);
      assert.deepEqual(listed[0].counters, { handled: 0, dropped: 0, deleted: 0 });
      assert.equal(r.deleteRule(rule), true);
      assert.equal(r.listRules().length, 1);
      assert.equal(r.deleteRule({ ...rule, fd: false }), false, 'a rule differing in one flag is another rule');
      assert.equal(r.deleteRule(rule), true);
      assert.equal(r.deleteRule(rule), false);
      r.addRule(rule);
      r.flushRules();
      assert.deepEqual(r.listRules(), []);
    });

    it('adds rules in one batch, in order; a failing rule is reported and the others are added', () => {
      const r = route(space('kc-batch'));
      r.createVcan({ name: 'a' });
      r.createVcan({ name: 'b' });
      const [a, b] = [r.findLink('a')?.index ?? 0, r.findLink('b')?.index ?? 0];
      const many = Array.from({ length: 300 }, (_, i) => ({ sourceIndex: a, destinationIndex: b, filter: { id: i, mask: 0x7ff } }));
      const results = r.addRules([
        ...many.slice(0, 150),
        { sourceIndex: a, destinationIndex: 999 },
        ...many.slice(150),
        { sourceIndex: a, destinationIndex: b, hopLimit: s.maxHops + 1 },
      ]);
      assert.equal(results.length, 302);
      assert.deepEqual(
        results.flatMap((result, i) => (result === undefined ? [] : [[i, result.errno]])),
        [
          [150, 19], // ENODEV
          [301, 22], // EINVAL
        ],
      );
      assert.match(results[150]?.message ?? '', /adding can-gw rule \d+->999/u);
      // The kernel lists its newest rule first, the fake its oldest: the contract is the set.
      assert.deepEqual(
        r
          .listRules()
          .map(({ rule }) => rule.filter?.id)
          .sort((x, y) => (x ?? 0) - (y ?? 0)),
        many.map((rule) => rule.filter.id),
        'the rules that could be added',
      );
      assert.deepEqual(r.addRules([]), []);
    });

    it('refuses a rule on a missing or non-CAN interface (ENODEV) and a hop limit above max_hops (EINVAL)', () => {
      const r = route(space('kc-badrule'));
      r.createVcan({ name: 'a' });
      const a = r.findLink('a')?.index ?? 0;
      const lo = r.findLink('lo')?.index ?? 0;
      assert.throws(() => {
        r.addRule({ sourceIndex: a, destinationIndex: 999 });
      }, isKernelError('ENODEV'));
      assert.throws(() => {
        r.addRule({ sourceIndex: lo, destinationIndex: a });
      }, isKernelError('ENODEV'));
      r.createVcan({ name: 'b' });
      const b = r.findLink('b')?.index ?? 0;
      assert.throws(
        () => {
          r.addRule({ sourceIndex: a, destinationIndex: b, hopLimit: s.maxHops + 1 });
        },
        (error: unknown) => isKernelError('EINVAL')(error) && (error as KernelError).hint?.includes('max_hops') === true,
      );
      r.addRule({ sourceIndex: a, destinationIndex: b, hopLimit: s.maxHops });
      assert.deepEqual(r.listRules().length, 1);
      assert.equal(r.deleteLink('b'), true);
      assert.deepEqual(r.listRules(), [], 'a rule vanishes with its destination');
    });

    it('moves a link into another namespace under a new name; its rules stay behind and vanish', () => {
      const here = space('kc-move');
      const there = space('kc-move-t');
      const r = route(here);
      const t = route(there);
      r.createVcan({ name: 'a' });
      r.createVcan({ name: 'b' });
      r.addRule({ sourceIndex: r.findLink('a')?.index ?? 0, destinationIndex: r.findLink('b')?.index ?? 0, echo: true });
      r.moveLink('b', there, 'moved0');
      assert.equal(r.findLink('b'), undefined);
      assert.equal(t.findLink('moved0')?.kind, 'vcan');
      assert.deepEqual(r.listRules(), []);
    });

    it('carries frames across a vxcan pair with both ends in one namespace to a listening socket, in order', async () => {
      const here = space('kc-sock');
      const r = route(here);
      r.createVxcanPair({ name: 'ta', mtu: 72, peer: { name: 'tb', mtu: 72, netns: here } });
      r.setLinkUp('ta', true);
      r.setLinkUp('tb', true);
      const a = s.kernel.canSocket('ta', { netns: here, fd: true });
      const b = s.kernel.canSocket('tb', { netns: here, fd: true });
      const classic = s.kernel.canSocket('tb', { netns: here });
      try {
        const got: CanFrame[] = [];
        const errors: Error[] = [];
        b.listen(
          (frames) => got.push(...frames),
          (error) => errors.push(error),
        );
        const sent = [
          ...Array.from({ length: 50 }, (_, i) => classicFrame({ id: 0x100 + i, data: [i] })),
          fdFrame({ id: 0x7ff, brs: true, data: new Uint8Array(64).fill(7) }),
          classicFrame({ id: 0x1abcdef, extended: true, rtr: true, data: new Uint8Array(3) }),
        ];
        for (const frame of sent) a.send(frame);
        for (const deadline = Date.now() + 2000; got.length < sent.length && Date.now() < deadline;)
          await new Promise((resolve) => setTimeout(resolve, 10));
        assert.deepEqual(got, sent);
        assert.deepEqual(errors, []);
        // A socket that did not ask for FD frames gets only the classic ones.
        assert.deepEqual(
          await classic.receiveAll(100),
          sent.filter((frame) => frame.kind === 'classic'),
        );
      } finally {
        a.close();
        b.close();
        classic.close();
      }
    });

    it('sends a batch of frames (more than one system call holds) in order, with receive times in order', async () => {
      const here = space('kc-batch');
      const r = route(here);
      r.createVxcanPair({ name: 'ba', mtu: 72, peer: { name: 'bb', mtu: 72, netns: here } });
      r.setLinkUp('ba', true);
      r.setLinkUp('bb', true);
      const a = s.kernel.canSocket('ba', { netns: here, fd: true });
      const b = s.kernel.canSocket('bb', { netns: here, fd: true, timestamps: true, receiveBufferBytes: 4 * 1024 * 1024 });
      try {
        const sent = Array.from({ length: 150 }, (_, i) =>
          i % 3 === 0 ? fdFrame({ id: 0x200 + i, data: new Uint8Array(12).fill(i) }) : classicFrame({ id: 0x200 + i, data: [i & 0xff] }),
        );
        const started = Date.now() * 1000;
        assert.equal(a.sendBatch(sent), sent.length);
        const got: Array<{ frame: CanFrame; timeUs: number }> = [];
        for (let next = await b.receiveStamped(1000); next !== undefined; next = await b.receiveStamped(200)) got.push(next);
        assert.deepEqual(
          got.map((stamped) => stamped.frame),
          sent,
        );
        const times = got.map((stamped) => stamped.timeUs);
        assert.ok(
          times.every((time, i) => time >= started - 1_000_000 && time <= Date.now() * 1000 && (i === 0 || time >= (times[i - 1] ?? 0))),
          'receive times are the wall clock, in order',
        );
      } finally {
        a.close();
        b.close();
      }
    });

    it('deleting a namespace deletes its links, their vxcan peers elsewhere and the rules on those peers', async () => {
      const bus = space('kc-ns-bus');
      const member = space('kc-ns-member');
      const r = route(bus);
      r.createVcan({ name: 'monitor', mtu: 16 });
      r.createVxcanPair({ name: 'h1', peer: { name: 'c1', netns: member } });
      r.addRule({
        sourceIndex: r.findLink('h1')?.index ?? 0,
        destinationIndex: r.findLink('monitor')?.index ?? 0,
        echo: true,
        allowToIncomingInterface: true,
        hopLimit: 1,
      });
      assert.equal(s.kernel.namespaces.delete('kc-ns-member'), true);
      await s.eventually('h1 to vanish with its peer namespace', () => r.findLink('h1') === undefined);
      assert.deepEqual(r.listRules(), []);
      assert.equal(r.findLink('monitor')?.kind, 'vcan');
      assert.deepEqual(s.kernel.namespaces.list(), ['kc-ns-bus']);
    });
  });
}
