// The CNI plugin on the real kernel, driven exactly as a runtime drives it: bin/cantainer with the CNI_* environment
// and the network configuration on stdin, against a running daemon. Containers are network namespaces made with
// `ip netns add`, as containerd and Podman make theirs. Every verb, the error paths with their codes, frames with
// exact counts and order, a daemon restart, and nothing left behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { classicFrame, fdFrame, type CanFrame } from '../../src/can/frame.js';
import { formatCansend } from '../../src/can/text.js';
import { systemKernel, type CanSocketPort } from '../../src/kernel/index.js';
import { cantainerCommand, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const DIR = '/run/cantainer-cni';
const CONTROL = `${DIR}/control.sock`;
const CONTAINERS = ['cni-a', 'cni-b', 'cni-c'] as const;
const kernel = systemKernel();

interface Outcome {
  readonly code: number;
  readonly stdout: string;
}

/** One call of the plugin, as a runtime makes it. */
function cni(command: string, config: Record<string, unknown>, env: Record<string, string> = {}): Outcome {
  const [program = process.execPath, ...args] = cantainerCommand();
  const result = spawnSync(program, args, {
    input: JSON.stringify(config),
    env: { PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout };
}

const network = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cniVersion: '1.1.0',
  name,
  type: 'cantainer',
  controlSocket: CONTROL,
  ...extra,
});
const attachment = (container: string, ifname = 'can0'): Record<string, string> => ({
  CNI_CONTAINERID: `id-${container}`,
  CNI_NETNS: `/run/netns/${container}`,
  CNI_IFNAME: ifname,
});
const error = (outcome: Outcome): { code: number; msg: string } => {
  assert.equal(outcome.code, 1, outcome.stdout);
  return JSON.parse(outcome.stdout) as { code: number; msg: string };
};

function socket(container: string, ifname = 'can0'): CanSocketPort {
  return kernel.canSocket(ifname, { netns: { label: `${container}/${ifname}`, path: `/run/netns/${container}` }, fd: true });
}

/** Sends frames from one interface; returns what each of the others received, in order. */
async function exchange(
  from: [string, string],
  to: ReadonlyArray<[string, string]>,
  frames: readonly CanFrame[],
): Promise<Record<string, string[]>> {
  const listeners = to.map(([container, ifname]) => [`${container}/${ifname}`, socket(container, ifname)] as const);
  const sender = socket(from[0], from[1]);
  try {
    for (const frame of frames) sender.send(frame);
    const got = await Promise.all(listeners.map(async ([name, s]) => [name, (await s.receiveAll(800)).map(formatCansend)] as const));
    return Object.fromEntries(got);
  } finally {
    sender.close();
    for (const [, s] of listeners) s.close();
  }
}

const links = (container: string): string[] =>
  sh(`ip -n ${container} -o link show`)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(': ')[1]?.split('@')[0] ?? '')
    .filter((name) => name !== 'lo');

describe('the CNI plugin on the real kernel', () => {
  let daemon: RunningDaemon | undefined;
  const start = async (): Promise<void> => {
    daemon = await startCantainerDaemon(
      [
        '--socket',
        `${DIR}/plugin.sock`,
        '--control-socket',
        CONTROL,
        '--state-dir',
        `${DIR}/state`,
        '--netns-dir',
        `${DIR}/netns`,
        '--docker-socket',
        `${DIR}/no-docker.sock`,
        // Drift made by hand must still be there when CHECK looks: the periodic verify would put it back first.
        '--verify-every',
        '3600',
      ],
      `${DIR}.log`,
    );
  };

  before(async () => {
    sh(`mkdir -p ${DIR}; for c in ${CONTAINERS.join(' ')}; do ip netns add $c; done`);
    await start();
  });
  after(async () => {
    await daemon?.stop();
    sh(`for c in ${CONTAINERS.join(' ')}; do ip netns del $c 2>/dev/null; done; true`);
  });

  it('answers VERSION', () => {
    assert.deepEqual(cni('VERSION', { cniVersion: '1.0.0' }), {
      code: 0,
      stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
    });
  });

  it('ADD puts containers on buses: each hears the others once, in order; one container on two buses', async () => {
    const added = cni('ADD', network('powertrain'), attachment('cni-a'));
    assert.deepEqual(added, {
      code: 0,
      stdout:
        '{"cniVersion":"1.1.0","interfaces":[{"name":"can0","mac":"00:00:00:00:00:00","mtu":16,"sandbox":"/run/netns/cni-a"}],"ips":[]}\n',
    });
    assert.equal(cni('ADD', network('powertrain'), attachment('cni-b')).code, 0);
    assert.equal(cni('ADD', network('powertrain'), attachment('cni-c', 'can0')).code, 0);
    const fd = cni('ADD', network('body-net', { bus: 'body', fd: true }), attachment('cni-c', 'can1'));
    assert.equal(fd.code, 0, fd.stdout);
    assert.equal(cni('ADD', network('body-net', { bus: 'body', fd: true }), attachment('cni-a', 'can1')).code, 0);
    assert.deepEqual(links('cni-c').sort(), ['can0', 'can1']);
    assert.match(sh('ip -n cni-c -d link show can1'), /mtu 72 .*state UP[\s\S]*vxcan/u);
    const frames = Array.from({ length: 50 }, (_, i) => classicFrame({ id: 0x100 + i, data: [i] }));
    const texts = frames.map(formatCansend);
    assert.deepEqual(
      await exchange(
        ['cni-a', 'can0'],
        [
          ['cni-b', 'can0'],
          ['cni-c', 'can0'],
          ['cni-c', 'can1'],
          ['cni-a', 'can1'],
        ],
        frames,
      ),
      { 'cni-b/can0': texts, 'cni-c/can0': texts, 'cni-c/can1': [], 'cni-a/can1': [] },
    );
    const fdFrames = [
      fdFrame({ id: 0x18feef00, data: Array.from({ length: 64 }, (_, i) => i) }),
      classicFrame({ id: 0x7df, data: [2, 1, 0] }),
    ];
    assert.deepEqual(
      await exchange(
        ['cni-c', 'can1'],
        [
          ['cni-a', 'can1'],
          ['cni-a', 'can0'],
          ['cni-b', 'can0'],
        ],
        fdFrames,
      ),
      { 'cni-a/can1': fdFrames.map(formatCansend), 'cni-a/can0': [], 'cni-b/can0': [] },
    );
  });

  it('the commands work on these buses: a gateway from powertrain to body carries frames one way', async () => {
    const cantainer = (args: string): string => sh(`${cantainerCommand().join(' ')} ${args} --control-socket ${CONTROL}`, 60_000);
    assert.equal(cantainer('gateway add powertrain body --accept 7DF'), 'gateway powertrain -> body: wired\n');
    const request = [classicFrame({ id: 0x7df, data: [2, 1, 0x0d] }), classicFrame({ id: 0x100, data: [1] })];
    assert.deepEqual(
      await exchange(
        ['cni-b', 'can0'],
        [
          ['cni-c', 'can1'],
          ['cni-a', 'can1'],
          ['cni-a', 'can0'],
        ],
        request,
      ),
      { 'cni-c/can1': [formatCansend(request[0]!)], 'cni-a/can1': [formatCansend(request[0]!)], 'cni-a/can0': request.map(formatCansend) },
    );
    assert.deepEqual(await exchange(['cni-a', 'can1'], [['cni-b', 'can0']], [classicFrame({ id: 0x7df, data: [0] })]), {
      'cni-b/can0': [],
    });
    const listed = (JSON.parse(cantainer('ls --json')) as Array<{ name: string; members: number; gateways: number }>).map((bus) => [
      bus.name,
      bus.members,
      bus.gateways,
    ]);
    assert.deepEqual(listed.sort(), [
      ['body', 2, 1],
      ['powertrain', 3, 1],
    ]);
    cantainer('gateway rm powertrain body');
  });

  it('ADD again answers the same and changes nothing; CHECK passes, then reports an interface deleted by hand', () => {
    const again = cni('ADD', network('powertrain'), attachment('cni-a'));
    assert.equal(again.code, 0);
    const prevResult = JSON.parse(again.stdout) as Record<string, unknown>;
    assert.deepEqual(cni('CHECK', network('powertrain', { prevResult }), attachment('cni-a')), { code: 0, stdout: '' });
    sh('ip -n cni-b link del can0');
    const drift = error(
      cni(
        'CHECK',
        network('powertrain', { prevResult: { ...prevResult, interfaces: [{ name: 'can0', sandbox: '/run/netns/cni-b' }] } }),
        attachment('cni-b'),
      ),
    );
    assert.equal(drift.code, 100);
    assert.match(drift.msg, /^can0 of container id-cni-b on bus powertrain: the bus end of can0 is missing/u);
  });

  it('refuses what it cannot do with the specification codes, and leaves nothing behind', () => {
    sh('ip -n cni-b link add taken type dummy');
    const taken = error(cni('ADD', network('powertrain'), attachment('cni-b', 'taken')));
    assert.equal(taken.code, 101);
    assert.match(taken.msg, /exists/iu);
    assert.deepEqual(links('cni-b').sort(), ['taken']);
    const noNetns = error(cni('ADD', network('chassis'), attachment('cni-missing')));
    assert.equal(noNetns.code, 101);
    assert.match(noNetns.msg, /\/run\/netns\/cni-missing/u);
    assert.equal(readdirSync(`${DIR}/netns`).length, 2, 'no namespace for the bus that could not be made');
    const state = JSON.parse(readFileSync(`${DIR}/state/state.json`, 'utf8')) as { buses: Array<{ name: string }> };
    assert.deepEqual(state.buses.map((bus) => bus.name).sort(), ['body', 'powertrain']);
    assert.equal(error(cni('ADD', network('powertrain', { ipam: { type: 'host-local' } }), attachment('cni-b'))).code, 2);
    assert.equal(error(cni('ADD', network('powertrain', { fd: true }), attachment('cni-b'))).code, 101);
    assert.equal(error(cni('ADD', network('powertrain', { cniVersion: '0.2.0' }), attachment('cni-b'))).code, 1);
    assert.equal(error(cni('ADD', network('powertrain'), { CNI_CONTAINERID: 'x', CNI_IFNAME: 'can0' })).code, 4);
    sh('ip -n cni-b link del taken');
  });

  it('GC removes the attachments the runtime no longer has; DEL is idempotent', () => {
    assert.deepEqual(
      cni(
        'GC',
        network('powertrain', {
          'cni.dev/valid-attachments': [
            { containerID: 'id-cni-a', ifname: 'can0' },
            { containerID: 'id-cni-c', ifname: 'can0' },
          ],
        }),
      ),
      { code: 0, stdout: '' },
    );
    assert.deepEqual(cni('DEL', network('powertrain'), attachment('cni-b')), { code: 0, stdout: '' });
    assert.deepEqual(cni('DEL', network('powertrain'), { CNI_CONTAINERID: 'id-cni-b', CNI_IFNAME: 'can0' }), { code: 0, stdout: '' });
    assert.deepEqual(links('cni-b'), []);
  });

  it('STATUS reports the daemon; with it down, ADD and STATUS fail saying how to start it, and nothing is made', async () => {
    assert.deepEqual(cni('STATUS', network('powertrain')), { code: 0, stdout: '' });
    await daemon?.stop();
    daemon = undefined;
    const status = error(cni('STATUS', network('powertrain')));
    assert.equal(status.code, 50);
    assert.match(
      status.msg,
      /cannot reach the cantainer daemon at \/run\/cantainer-cni\/control\.sock .*start it \(systemctl start cantainer, or cantainer daemon\)/u,
    );
    assert.equal(error(cni('ADD', network('powertrain'), attachment('cni-b'))).code, 11);
    assert.deepEqual(links('cni-b'), []);
  });

  it('after a restart the buses still carry frames; a container whose namespace went meanwhile is dropped', async () => {
    await start();
    const frames = [classicFrame({ id: 0x321, data: [0xca, 0xfe] })];
    assert.deepEqual(await exchange(['cni-c', 'can0'], [['cni-a', 'can0']], frames), { 'cni-a/can0': frames.map(formatCansend) });
    await daemon?.stop();
    sh('ip netns del cni-a');
    await start();
    assert.match(readFileSync(`${DIR}.log`, 'utf8'), /member dropped: its namespace \/run\/netns\/cni-a is gone/u);
    sh('ip netns add cni-a');
  });

  it('the last DEL of each bus removes it: no namespace, no interface, no state entry left', async () => {
    for (const [net, bus, container, ifname] of [
      ['powertrain', 'powertrain', 'cni-c', 'can0'],
      ['body-net', 'body', 'cni-c', 'can1'],
      ['body-net', 'body', 'cni-a', 'can1'],
    ] as const) {
      assert.deepEqual(cni('DEL', network(net, { bus }), attachment(container, ifname)), { code: 0, stdout: '' });
    }
    await waitFor('the bus namespaces to go', () => readdirSync(`${DIR}/netns`).length === 0);
    for (const container of CONTAINERS) assert.deepEqual(links(container), []);
    const state = JSON.parse(readFileSync(`${DIR}/state/state.json`, 'utf8')) as { buses: unknown[]; gateways?: unknown[] };
    assert.deepEqual(state.buses, []);
    assert.equal(existsSync(CONTROL), true);
  });
});
