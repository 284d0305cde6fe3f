import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram, main, type CliIo } from '../../../src/cli/main.js';
import { daemonProgram } from '../../../src/cli/daemon-main.js';
import { DAEMON_DEFAULTS, daemonSettings } from '../../../src/cli/daemon.js';
import { parseHex } from '../../../src/cli/decode.js';
import { eventText } from '../../../src/control/event-text.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (text) => (out += text), err: (text) => (err += text) };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('cantainer CLI', () => {
  it('prints help for the program and for every command', async () => {
    const top = await run(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.out, /Usage: cantainer/u);
    assert.match(top.out, /decode <hex>/u);
    const decode = await run(['decode', '--help']);
    assert.equal(decode.code, 0);
    assert.match(decode.out, /Usage: cantainer decode \[options\] <hex>/u);
  });

  it('has --help on every command, with its usage line', async () => {
    const commands = [
      ['ls'],
      ['inspect'],
      ['send'],
      ['dump'],
      ['replay'],
      ['events'],
      ['doctor'],
      ['repair'],
      ['gateway'],
      ['gateway', 'add'],
      ['gateway', 'rm'],
      ['gateway', 'ls'],
      ['uplink'],
      ['uplink', 'add'],
      ['uplink', 'rm'],
      ['uplink', 'ls'],
      ['daemon'],
      ['preflight'],
      ['decode'],
    ];
    for (const command of commands) {
      const help = await run([...command, '--help']);
      assert.equal(help.code, 0, command.join(' '));
      assert.match(help.out, new RegExp(`^Usage: cantainer ${command.join(' ')} `, 'u'), command.join(' '));
    }
  });

  it('prints the version', async () => {
    const result = await run(['--version']);
    assert.match(result.out, /^\d+\.\d+\.\d+\n$/u);
  });

  it('decodes a can-gw request given as strace escapes', async () => {
    const result = await run([
      'decode',
      '"\\x24\\x00\\x00\\x00\\x18\\x00\\x05\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x1d\\x01\\x01\\x00\\x08\\x00\\x09\\x00\\x03\\x00\\x00\\x00\\x08\\x00\\x0a\\x00\\x04\\x00\\x00\\x00"',
    ]);
    assert.equal(result.code, 0, result.err);
    const [message] = JSON.parse(result.out) as Array<{ type: string; rule: unknown; counters: unknown }>;
    assert.equal(message?.type, 'RTM_NEWROUTE');
    assert.deepEqual(message.rule, { sourceIndex: 3, destinationIndex: 4, echo: true });
  });

  it('reports bad hex as an error naming the argument, exit status 1', async () => {
    const result = await run(['decode', 'xyz']);
    assert.equal(result.code, 1);
    assert.match(result.err, /^cantainer: hex: "xyz" is not valid/u);
  });

  it('reports a malformed datagram without crashing', async () => {
    const result = await run(['decode', '10000000']);
    assert.equal(result.code, 1);
    assert.match(result.err, /malformed netlink datagram/u);
  });

  it('rejects unknown commands with a usage error', async () => {
    const result = await run(['frobnicate']);
    assert.notEqual(result.code, 0);
    assert.match(result.err, /unknown command 'frobnicate'/u);
  });

  it('parses hex in the forms people paste', () => {
    assert.deepEqual(parseHex('0a 0b:0c'), Buffer.from([10, 11, 12]));
    assert.deepEqual(parseHex('\\x0a\\x0b'), Buffer.from([10, 11]));
  });
});

describe('daemon: systemd socket activation', () => {
  it('uses fd 3 only when LISTEN_PID names this process and LISTEN_FDS is at least 1', async () => {
    const { inheritedSocket } = await import('../../../src/cli/daemon.js');
    assert.equal(inheritedSocket({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42), 3);
    assert.equal(inheritedSocket({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42), 3);
    assert.equal(inheritedSocket({ LISTEN_PID: '41', LISTEN_FDS: '1' }, 42), undefined, 'meant for another process');
    assert.equal(inheritedSocket({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42), undefined);
    assert.equal(inheritedSocket({}, 42), undefined);
  });
});

describe('cantainer daemon (arguments)', () => {
  it('takes every option from the environment too, a flag given winning', async () => {
    const quiet: CliIo = { out: () => true, err: () => true };
    const options = async (argv: string[], env: Record<string, string>): Promise<Record<string, unknown>> => {
      const program = daemonProgram(quiet, { code: 0 });
      const daemon = program.commands.find((command) => command.name() === 'daemon');
      assert.ok(daemon !== undefined);
      daemon.action(() => undefined);
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        await program.parseAsync(['daemon', ...argv], { from: 'user' });
      } finally {
        for (const key of Object.keys(env)) if (saved[key] === undefined) Reflect.deleteProperty(process.env, key);
        Object.assign(process.env, saved);
      }
      return daemon.opts();
    };
    const env = {
      CANTAINER_LOG_LEVEL: 'debug',
      CANTAINER_STATE_DIR: '/srv/state',
      CANTAINER_SOCKET: '/run/docker/plugins/x.sock',
      CANTAINER_NETNS_DIR: '/srv/netns',
      CANTAINER_CONTROL_SOCKET: '/srv/control.sock',
      CANTAINER_DOCKER_SOCKET: '/srv/docker.sock',
      CANTAINER_METRICS_LISTEN: '9100',
      CANTAINER_VERIFY_EVERY: '5',
    };
    assert.deepEqual(await options([], env), {
      logLevel: 'debug',
      stateDir: '/srv/state',
      socket: '/run/docker/plugins/x.sock',
      netnsDir: '/srv/netns',
      controlSocket: '/srv/control.sock',
      dockerSocket: '/srv/docker.sock',
      metricsListen: '9100',
      verifyEvery: '5',
    });
    const flagged = await options(['--log-level', 'warn'], { CANTAINER_LOG_LEVEL: 'debug' });
    assert.equal(flagged.logLevel, 'warn');
    assert.equal(flagged.stateDir, '/var/lib/cantainer');
  });

  it('reads an empty metrics address as off, and names the option of a bad value', () => {
    assert.deepEqual(daemonSettings({ ...DAEMON_DEFAULTS, metricsListen: '' }), { logLevel: 'info' });
    assert.deepEqual(daemonSettings({ ...DAEMON_DEFAULTS, metricsListen: '9100', verifyEvery: '5' }), {
      logLevel: 'info',
      metricsAddress: { kind: 'tcp', host: '127.0.0.1', port: 9100 },
      verifyEveryMs: 5000,
    });
    assert.throws(() => daemonSettings({ ...DAEMON_DEFAULTS, verifyEvery: '0' }), /--verify-every.*"?0"?.*1\.\.86400/u);
    assert.throws(() => daemonSettings({ ...DAEMON_DEFAULTS, logLevel: 'loud' }), /--log-level.*loud/u);
  });

  it('starts from a program of its own command only, with the same options and help as in the whole program', () => {
    const quiet: CliIo = { out: () => true, err: () => true };
    const whole = buildProgram(quiet);
    const alone = daemonProgram(quiet, { code: 0 });
    const daemonOf = (program: ReturnType<typeof buildProgram>): ReturnType<typeof buildProgram> | undefined =>
      program.commands.find((command) => command.name() === 'daemon');
    assert.ok(whole.commands.some((command) => command.name() === 'ls'));
    assert.ok(!alone.commands.some((command) => command.name() === 'ls'));
    assert.equal(daemonOf(alone)?.helpInformation(), daemonOf(whole)?.helpInformation());
  });

  it('documents its options in --help', async () => {
    const { code, out } = await run(['daemon', '--help']);
    assert.equal(code, 0);
    for (const option of [
      '--socket <path>',
      '--state-dir <dir>',
      '--log-level <level>',
      '--netns-dir <dir>',
      '/run/docker/plugins/cantainer.sock',
      '/var/lib/cantainer',
    ])
      assert.ok(out.includes(option), option);
  });

  it('refuses a bad log level before touching anything', async () => {
    const { code, err } = await run(['daemon', '--log-level', 'loud']);
    assert.equal(code, 1);
    assert.match(err, /--log-level: "loud" is not valid; allowed: debug, info, warn, error/u);
  });

  it('says in one line what went wrong with a file, and how to fix it; the stack trace only with --debug (#22)', async () => {
    const missing = await run(['replay', 'powertrain', '/nonexistent/powertrain.log']);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.err,
      'cantainer: cannot open /nonexistent/powertrain.log: no such file or directory (ENOENT)\nhint: check the path\n',
    );
    const directory = await run(['replay', 'powertrain', '/']);
    assert.equal(directory.err, 'cantainer: cannot read: is a directory (EISDIR)\nhint: name a file, not a directory\n');
    const debug = await run(['--debug', 'replay', 'powertrain', '/nonexistent/powertrain.log']);
    assert.match(debug.err, /^cantainer: cannot open \/nonexistent\/powertrain\.log: .*\n.*Error: ENOENT.*\n\s+at /su);
  });

  it('takes --count as a whole number, 1 or more (#22)', async () => {
    for (const [command, what] of [
      ['dump', 'frames'],
      ['events', 'events'],
    ] as const) {
      for (const bad of ['0', '-3', '2.5', 'x']) {
        const args = command === 'dump' ? ['dump', 'powertrain', '--count', bad] : ['events', '--count', bad];
        const outcome = await run(args);
        assert.equal(outcome.code, 1, `${command} --count ${bad}`);
        assert.equal(
          outcome.err.split('\n')[0],
          `cantainer: --count: ${JSON.stringify(bad)} is not valid; allowed: a whole number of ${what}, 1 or more`,
        );
      }
    }
  });

  it('names tunnels in the text of events (#22)', () => {
    assert.equal(
      eventText({ time: '2026-12-03T10:00:00.000Z', type: 'tunnel-added', bus: 'powertrain', tunnel: 'udp-20000' }),
      '2026-12-03T10:00:00.000Z  tunnel-added  bus=powertrain  tunnel=udp-20000',
    );
  });

  it('takes --verify-every as whole seconds, 1 to a day', async () => {
    for (const bad of ['0', '1.5', 'often', '86401']) {
      const outcome = await run(['daemon', '--verify-every', bad]);
      assert.equal(outcome.code, 1);
      assert.equal(
        outcome.err.split('\n')[0],
        `cantainer: --verify-every: ${JSON.stringify(bad)} is not valid; allowed: a whole number of seconds, 1..86400`,
      );
    }
  });
});
