// `cantainer tunnel add|ls|rm` against two daemons on the in-memory kernel, joined by a UDP tunnel on loopback:
// the commands' output, their errors, the counters in `tunnel ls` and in the metrics, and nothing kept of a tunnel
// that cannot start.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log.js';
import type { Daemon } from '../../../src/daemon/daemon.js';
import { main, type CliIo } from '../../../src/cli/main.js';
import { collectMetrics, RequestMetrics } from '../../../src/daemon/metrics.js';
import { classicFrame } from '../../../src/can/frame.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { ecu } from '../../support/ecus.js';
import { startNodeDaemon } from '../../support/node-daemon.js';
import { freeUdpPort } from '../../support/helpers.js';

describe('cantainer tunnel, through the control socket', () => {
  let dir: string;
  const daemons: Array<{ daemon: Daemon; kernel: FakeKernel; control: string }> = [];

  const start = async (name: string): Promise<{ daemon: Daemon; kernel: FakeKernel; control: string }> => {
    const made = await startNodeDaemon(dir, name);
    await made.daemon.service.createBus({ id: 'P', name: 'powertrain', fd: false, members: [] });
    daemons.push(made);
    return made;
  };
  const run = async (control: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (text) => (out += text), err: (text) => (err += text) };
    const code = await main([...argv, '--control-socket', control], io);
    return { code, out, err };
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-cli-tunnel-'));
  });
  afterEach(async () => {
    for (const { daemon } of daemons.splice(0)) await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a UDP tunnel between two daemons, carries frames, counts them in tunnel ls and the metrics, and removes it', async () => {
    const a = await start('a');
    const b = await start('b');
    const [portA, portB] = [await freeUdpPort(), await freeUdpPort()];
    const added = await run(
      a.control,
      'tunnel',
      'add',
      'powertrain',
      '--udp',
      '--listen',
      `127.0.0.1:${portA}`,
      '--peer',
      `127.0.0.1:${portB}`,
    );
    assert.deepEqual(added, {
      code: 0,
      out: `tunnel udp-${portA} on powertrain: udp 127.0.0.1:${portA} <-> 127.0.0.1:${portB}, up\n`,
      err: '',
    });
    assert.equal(
      (
        await run(
          b.control,
          'tunnel',
          'add',
          'powertrain',
          '--udp',
          '--listen',
          `127.0.0.1:${portB}`,
          '--peer',
          `127.0.0.1:${portA}`,
          '--timeout-us',
          '0',
          '--name',
          'to-a',
        )
      ).code,
      0,
    );
    await a.daemon.service.addMember('P', ecu(a.kernel, 'a1'));
    await b.daemon.service.addMember('P', ecu(b.kernel, 'b1'));
    const sender = a.kernel.canSocket('can0', { netns: { label: 'a1', path: '/ecu/a1' } });
    const receiver = b.kernel.canSocket('can0', { netns: { label: 'b1', path: '/ecu/b1' } });
    for (let i = 0; i < 3; i++) sender.send(classicFrame({ id: 0x100 + i, data: [i] }));
    assert.equal((await receiver.receiveAll(200)).length, 3);
    sender.close();
    receiver.close();

    const listed = await run(a.control, 'tunnel', 'ls');
    assert.equal(listed.code, 0);
    const rows = listed.out
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/\s{2,}/u));
    assert.deepEqual(rows, [
      ['BUS', 'NAME', 'TRANSPORT', 'ADDRESS', 'STATE', 'PEERS', 'IN', 'OUT', 'DROPPED', 'NOTE'],
      ['powertrain', `udp-${portA}`, 'udp', `127.0.0.1:${portA} <-> 127.0.0.1:${portB}`, 'up', '-', '0', '3', '0'],
    ]);
    const json = JSON.parse((await run(b.control, 'tunnel', 'ls', '--json')).out) as Array<{
      name: string;
      counters: { framesIn: number; packetsIn: number };
    }>;
    assert.deepEqual(
      json.map((entry) => [entry.name, entry.counters.framesIn]),
      [['to-a', 3]],
    );

    const metrics = collectMetrics({
      service: b.daemon.service,
      requests: new RequestMetrics(),
      version: 'test',
      log: silentLogger,
      tunnels: b.daemon.tunnels,
    });
    assert.match(metrics, /^cantainer_tunnel_up\{bus="powertrain",tunnel="to-a",transport="udp"\} 1$/mu);
    assert.match(metrics, /^cantainer_tunnel_frames_total\{bus="powertrain",tunnel="to-a",direction="in"\} 3$/mu);
    assert.match(metrics, /^cantainer_tunnel_frames_total\{bus="powertrain",tunnel="to-a",direction="out"\} 0$/mu);
    assert.match(metrics, /^cantainer_tunnel_packets_lost_total\{bus="powertrain",tunnel="to-a"\} 0$/mu);
    assert.match(metrics, /^cantainer_tunnel_sequence_restarts_total\{bus="powertrain",tunnel="to-a"\} 0$/mu);

    assert.deepEqual(await run(a.control, 'tunnel', 'rm', 'powertrain', `udp-${portA}`), {
      code: 0,
      out: `tunnel udp-${portA} on powertrain removed\n`,
      err: '',
    });
    assert.equal((await run(a.control, 'tunnel', 'ls')).out, 'BUS  NAME  TRANSPORT  ADDRESS  STATE  PEERS  IN  OUT  DROPPED  NOTE\n');
    assert.deepEqual(a.daemon.tunnels.views(), []);
    assert.equal(a.daemon.service.get('P')?.tunnels, undefined);
  });

  it('refuses bad input naming the flag, the value and what is allowed, changing nothing', async () => {
    const a = await start('a');
    const cases: Array<[string[], RegExp]> = [
      [['--udp', '--peer', '127.0.0.1:1'], /^cantainer: --listen is required with --udp: ADDR:PORT where this side receives/u],
      [['--udp', '--listen', '127.0.0.1:20000'], /^cantainer: --peer is required with --udp: ADDR:PORT of the far side/u],
      [['--udp', '--listen', '20000', '--peer', '127.0.0.1:1'], /--listen: "20000" is not valid; allowed: ADDR:PORT with an IP address/u],
      [['--udp', '--listen', 'localhost:20000', '--peer', '127.0.0.1:1'], /--listen: "localhost:20000" is not valid/u],
      [['--tcp-server', '127.0.0.1:70000'], /--tcp-server: "127.0.0.1:70000" is not valid/u],
      [
        ['--tcp-server', '127.0.0.1:2000', '--tcp-client', 'h:1'],
        /mode: "--tcp-server --tcp-client" is not valid; allowed: exactly one of --udp/u,
      ],
      [
        ['--tcp-client', 'host:1', '--listen', '127.0.0.1:1'],
        /--listen: "127.0.0.1:1" is not valid; allowed: nothing with --tcp-client: it goes with --udp/u,
      ],
      [
        ['--tcp-server', '127.0.0.1:2000', '--allow', '10.0.0.0/33'],
        /--allow: "10.0.0.0\/33" is not valid; allowed: ADDR or ADDR\/PREFIX/u,
      ],
      [
        ['--udp', '--listen', '127.0.0.1:1', '--peer', '127.0.0.1:2', '--mtu', '100'],
        /--mtu: 100 is not valid; allowed: an integer 576..65535/u,
      ],
      [
        ['--udp', '--listen', '127.0.0.1:1', '--peer', '127.0.0.1:2', '--timeout-us', '-5'],
        /--timeout-us: "-5" is not valid; allowed: a whole number/u,
      ],
      [['--tcp-client', 'host:1', '--name', '-x'], /--name: "-x" is not valid/u],
    ];
    for (const [flags, message] of cases) {
      const result = await run(a.control, 'tunnel', 'add', 'powertrain', ...flags);
      assert.equal(result.code, 1, flags.join(' '));
      assert.match(result.err, message, flags.join(' '));
    }
    assert.match((await run(a.control, 'tunnel', 'add', 'nosuch', '--tcp-client', 'h:1')).err, /no bus with name nosuch/u);
    assert.match((await run(a.control, 'tunnel', 'rm', 'powertrain', 'nosuch')).err, /bus powertrain has no tunnel nosuch/u);
    assert.equal(a.daemon.service.get('P')?.tunnels, undefined);
  });

  it('keeps nothing of a tunnel that cannot start, and says why', async () => {
    const a = await start('a');
    const holder = createServer();
    await new Promise<void>((resolve) => {
      holder.listen(0, '127.0.0.1', resolve);
    });
    const { port } = holder.address() as { port: number };
    const result = await run(a.control, 'tunnel', 'add', 'powertrain', '--tcp-server', `127.0.0.1:${port}`);
    holder.close();
    assert.equal(result.code, 1);
    assert.match(result.err, new RegExp(`tunnel tcp-server-${port} of bus powertrain cannot start: listen EADDRINUSE`, 'u'));
    assert.equal(a.daemon.service.get('P')?.tunnels, undefined);
    assert.deepEqual(a.daemon.tunnels.views(), []);
  });
});
