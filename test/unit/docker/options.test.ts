import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InvalidValueError } from '../../../src/errors.js';
import { parseEndpointOptions, parseNetworkOptions } from '../../../src/docker/options.js';
import { projectPath } from '../../support/helpers.js';

function refuses(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidValueError && error.field === field && message.test(error.message));
}

describe('network options', () => {
  it('defaults to a classic bus with prefix "can" and no host interface', () => {
    assert.deepEqual(parseNetworkOptions({}), { fd: false, prefix: 'can', noEffect: [], gateways: [], uplinks: [], tunnels: [] });
  });

  it('reads fd, host_if and prefix', () => {
    assert.deepEqual(parseNetworkOptions({ fd: 'true', host_if: 'dcan0', prefix: 'ecu' }), {
      fd: true,
      hostInterface: 'dcan0',
      prefix: 'ecu',
      noEffect: [],
      gateways: [],
      uplinks: [],
      tunnels: [],
    });
  });

  it("accepts dockercan's, docker-vxcan's and RemotiveBus's option names", () => {
    assert.deepEqual(parseNetworkOptions({ canfd: 'true', host_if: 'dcan0', centralised: 'true' }), {
      fd: true,
      hostInterface: 'dcan0',
      prefix: 'can',
      noEffect: ['centralised'],
      gateways: [],
      uplinks: [],
      tunnels: [],
    });
    assert.deepEqual(parseNetworkOptions({ 'vxcan.dev': 'vcan', 'vxcan.id': '3', 'vxcan.peer': 'vxcan' }), {
      fd: false,
      hostInterface: 'vcan3',
      prefix: 'vxcan',
      noEffect: [],
      gateways: [],
      uplinks: [],
      tunnels: [],
    });
    assert.deepEqual(parseNetworkOptions({ device: 'ecu', host_device: 'rbus0' }), {
      fd: false,
      hostInterface: 'rbus0',
      prefix: 'ecu',
      noEffect: [],
      gateways: [],
      uplinks: [],
      tunnels: [],
    });
  });

  it('refuses unknown keys, naming the key, the value and the options there are', () => {
    refuses(
      () => parseNetworkOptions({ termination: '120' }),
      'network option "termination"',
      /"120" is not valid; allowed: an option of: fd, bitrate, dbitrate, host_if, prefix/u,
    );
  });

  it('refuses bad values: not a boolean, a name over 15 characters or with other characters, a long prefix', () => {
    refuses(() => parseNetworkOptions({ fd: 'yes' }), 'network option "fd"', /"yes" is not valid; allowed: "true" or "false"/u);
    refuses(() => parseNetworkOptions({ host_if: 'a23456789012345x' }), 'network option "host_if"', /1\.\.15 characters/u);
    refuses(() => parseNetworkOptions({ host_if: 'can 0' }), 'network option "host_if"', /A-Z, a-z, 0-9/u);
    refuses(() => parseNetworkOptions({ host_if: 'x/y' }), 'network option "host_if"', /A-Z/u);
    refuses(() => parseNetworkOptions({ prefix: 'abcdefghijklm' }), 'network option "prefix"', /1\.\.12 characters/u);
    refuses(() => parseNetworkOptions({ 'vxcan.id': 'x' }), 'network option "vxcan.id"', /digits/u);
    refuses(() => parseNetworkOptions({ fd: 1 }), 'network option "fd"', /a string/u);
  });

  it('refuses two names of one setting with different values', () => {
    refuses(() => parseNetworkOptions({ fd: 'true', canfd: 'false' }), 'network option "canfd"', /the same value as "fd"/u);
    assert.equal(parseNetworkOptions({ fd: 'true', canfd: 'true' }).fd, true);
  });

  it('reads gateway options in the words of `cantainer gateway add`, checking them at once', () => {
    assert.deepEqual(parseNetworkOptions({ gateway: 'body --both --accept 7DF', 'gateway.obd': 'obd' }).gateways, [
      { option: 'gateway', words: 'body --both --accept 7DF' },
      { option: 'gateway.obd', words: 'obd' },
    ]);
    refuses(() => parseNetworkOptions({ gateway: '--both' }), 'network option "gateway"', /DST \[--both\]/u);
    refuses(() => parseNetworkOptions({ gateway: 'body --accept' }), 'network option "gateway"', /at "--accept"/u);
    refuses(() => parseNetworkOptions({ gateway: 'body --colour red' }), 'network option "gateway"', /at "--colour"/u);
    refuses(
      () => parseNetworkOptions({ 'gateway.x': 'body --set id=XYZ' }),
      'network option "gateway.x": --set id',
      /"XYZ" is not valid; allowed: an id in hex/u,
    );
    refuses(() => parseNetworkOptions({ 'gateway.': 'body' }), 'network option "gateway."', /an option of/u);
  });

  it('reads uplink options: an interface and the flags of `cantainer uplink add`', () => {
    assert.deepEqual(parseNetworkOptions({ uplink: 'can0', 'uplink.usb': 'can1 --direction in --accept 123' }).uplinks, [
      { interface: 'can0', direction: 'both', accept: [], reject: [] },
      { interface: 'can1', direction: 'in', accept: ['123/7FF'], reject: [] },
    ]);
    refuses(
      () => parseNetworkOptions({ uplink: 'can0 --direction up' }),
      'network option "uplink": --direction',
      /"up" is not valid; allowed: both, in, out/u,
    );
    refuses(() => parseNetworkOptions({ uplink: '--accept 1' }), 'network option "uplink"', /IFACE \[--direction/u);
  });

  it('reads tunnel options: the flags of `cantainer tunnel add`, named by the key after "tunnel."', () => {
    assert.deepEqual(
      parseNetworkOptions({
        tunnel: '--udp --listen 10.0.0.1:20000 --peer 10.0.0.2:20000 --timeout-us 500',
        'tunnel.remote': '--tcp-server 0.0.0.0:20001 --allow 10.0.0.0/8 --allow 192.168.1.7',
        'tunnel.up': '--tcp-client lab-host:20002 --name uplink-host',
      }).tunnels,
      [
        { name: 'udp-20000', transport: 'udp', listen: '10.0.0.1:20000', peer: '10.0.0.2:20000', timeoutUs: 500, allow: [] },
        { name: 'remote', transport: 'tcp-server', listen: '0.0.0.0:20001', allow: ['10.0.0.0/8', '192.168.1.7'] },
        { name: 'uplink-host', transport: 'tcp-client', peer: 'lab-host:20002', allow: [] },
      ],
    );
    refuses(
      () => parseNetworkOptions({ tunnel: '--udp --listen 20000 --peer 10.0.0.2:20000' }),
      'network option "tunnel": --listen',
      /"20000" is not valid; allowed: ADDR:PORT with an IP address/u,
    );
    refuses(
      () => parseNetworkOptions({ tunnel: '--tcp-server 0.0.0.0:1 --udp' }),
      'network option "tunnel": mode',
      /"--udp --tcp-server" is not valid; allowed: exactly one of --udp \(with --listen and --peer\), --tcp-server/u,
    );
    refuses(() => parseNetworkOptions({ tunnel: '--tcp-client h:1 --bogus 2' }), 'network option "tunnel"', /\(at "--bogus"\)/u);
    refuses(
      () => parseNetworkOptions({ 'tunnel.a': '--tcp-server 0.0.0.0:1 --mtu 1500' }),
      'network option "tunnel.a": --mtu',
      /"1500" is not valid; allowed: nothing with --tcp-server: it goes with --udp/u,
    );
    refuses(
      () => parseNetworkOptions({ tunnel: '--udp --listen 10.0.0.1:1 --peer 10.0.0.2:1 --mtu big' }),
      'network option "tunnel": --mtu',
      /"big" is not valid; allowed: a whole number/u,
    );
  });

  it('reads the tunnel options of examples/remote as compose passes them', () => {
    const compose = readFileSync(projectPath('examples', 'remote', 'compose.yaml'), 'utf8');
    const options: Record<string, string> = Object.fromEntries(
      [...compose.matchAll(/^ {6}(tunnel\.[a-z]+): "(.*)"$/gmu)].map(([, key, value]): [string, string] => [
        key ?? '',
        (value ?? '').replace(/\$\{TUNNEL_ADDR[^}]*\}/gu, '192.168.1.10'),
      ]),
    );
    assert.deepEqual(Object.keys(options), ['tunnel.students', 'tunnel.bench']);
    assert.deepEqual(
      parseNetworkOptions(options).tunnels.map((tunnel) => [tunnel.name, tunnel.transport, tunnel.listen]),
      [
        ['students', 'tcp-server', '192.168.1.10:20000'],
        ['bench', 'udp', '192.168.1.10:20001'],
      ],
    );
  });

  it('reads a span across the swarm, with a named hub or a port, and refuses the keys of a span without span=swarm', () => {
    assert.deepEqual(parseNetworkOptions({ span: 'swarm' }).span, { mode: 'swarm' });
    assert.deepEqual(parseNetworkOptions({ span: 'swarm', hub: 'bench-1:7000' }).span, { mode: 'swarm', hub: 'bench-1:7000' });
    assert.deepEqual(parseNetworkOptions({ span: 'swarm', span_port: '29000' }).span, { mode: 'swarm', port: 29000 });
    assert.equal(parseNetworkOptions({}).span, undefined);
    refuses(() => parseNetworkOptions({ hub: '10.0.0.1:7000' }), 'network option "hub"', /allowed: a hub only with span=swarm/u);
    refuses(() => parseNetworkOptions({ span_port: '7000' }), 'network option "span_port"', /allowed: a port only with span=swarm/u);
    refuses(() => parseNetworkOptions({ span: 'nodes' }), 'network option "span"', /"nodes" is not valid; allowed: "swarm"/u);
    refuses(
      () => parseNetworkOptions({ span: 'swarm', hub: 'nowhere' }),
      'network option "hub"',
      /"nowhere" is not valid; allowed: HOST:PORT/u,
    );
    refuses(() => parseNetworkOptions({ span: 'swarm', span_port: '0' }), 'network option "span_port"', /allowed: a port 1\.\.65535/u);
    refuses(() => parseNetworkOptions({ span: 'swarm', span_port: 'x' }), 'network option "span_port"', /allowed: a port 1\.\.65535/u);
    refuses(
      () => parseNetworkOptions({ span: 'swarm', 'tunnel.span': '--tcp-client 10.0.0.5:7000' }),
      'network option "tunnel.span"',
      /allowed: another tunnel name: with span=swarm, the tunnel named span is the span's/u,
    );
    refuses(
      () => parseNetworkOptions({ span: 'swarm', hub: '10.0.0.1:7000', span_port: '7001' }),
      'network option "span_port"',
      /allowed: nothing: the hub 10\.0\.0\.1:7000 names its port/u,
    );
  });

  it('reads a timed bus: bitrate in bit/s or with k and M, dbitrate on an FD bus, and refuses what no bus has', () => {
    assert.deepEqual(parseNetworkOptions({ bitrate: '500000' }).timing, { bitrate: 500_000 });
    assert.deepEqual(parseNetworkOptions({ bitrate: '125k' }).timing, { bitrate: 125_000 });
    assert.deepEqual(parseNetworkOptions({ bitrate: '83.333k' }).timing, { bitrate: 83_333 });
    assert.deepEqual(parseNetworkOptions({ fd: 'true', bitrate: '1M', dbitrate: '5M' }).timing, {
      bitrate: 1_000_000,
      dbitrate: 5_000_000,
    });
    assert.equal(parseNetworkOptions({}).timing, undefined);
    refuses(
      () => parseNetworkOptions({ bitrate: 'fast' }),
      'network option "bitrate"',
      /"fast" is not valid; allowed: a bit rate in bit\/s/u,
    );
    refuses(
      () => parseNetworkOptions({ bitrate: '2M' }),
      'network option "bitrate"',
      /2000000 is not valid; allowed: .* from 5000 to 1000000/u,
    );
    refuses(() => parseNetworkOptions({ bitrate: '1000' }), 'network option "bitrate"', /1000 is not valid/u);
    refuses(() => parseNetworkOptions({ bitrate: '500k', dbitrate: '2M' }), 'network option "dbitrate"', /only on an FD bus/u);
    refuses(() => parseNetworkOptions({ fd: 'true', dbitrate: '2M' }), 'network option "dbitrate"', /only with bitrate=N/u);
    refuses(
      () => parseNetworkOptions({ fd: 'true', bitrate: '1M', dbitrate: '500k' }),
      'network option "dbitrate"',
      /from the bit rate \(1000000\) to 20000000/u,
    );
  });

  it("explains Docker's MTU option instead of ignoring it, and ignores Docker's other keys", () => {
    refuses(
      () => parseNetworkOptions({ 'com.docker.network.driver.mtu': '1500' }),
      'network option "com.docker.network.driver.mtu"',
      /MTU 16, or 72 with fd=true/u,
    );
    assert.equal(parseNetworkOptions({ 'com.docker.network.bridge.name': 'x' }).fd, false);
  });
});

describe('endpoint options', () => {
  it('reads send and receive lists of ids, ! before ids excluded', () => {
    assert.deepEqual(parseEndpointOptions({ send: '7DF, 7E0/7F8', receive: '!18DAF110' }), {
      send: ['7DF', '7E0/7F8'],
      receive: ['!18DAF110'],
    });
    refuses(() => parseEndpointOptions({ send: '7DF,,7E0' }), 'endpoint option "send"', /comma-separated list of ID\[\/MASK\]/u);
    refuses(() => parseEndpointOptions({ receive: '!800' }), 'endpoint option "receive"', /"800" is not valid; allowed: ID or ID\/MASK/u);
  });

  it("reads prefix and ifname, also Docker's interface-name option, and skips Docker's own keys", () => {
    assert.deepEqual(parseEndpointOptions({}), {});
    assert.deepEqual(
      parseEndpointOptions({ prefix: 'ecu', 'com.docker.network.portmap': [], 'com.docker.network.endpoint.exposedports': [] }),
      { prefix: 'ecu' },
    );
    assert.deepEqual(parseEndpointOptions({ 'com.docker.network.endpoint.ifname': 'powertrain' }), { ifname: 'powertrain' });
    assert.deepEqual(parseEndpointOptions({ ifname: 'can7', 'vxcan.peer': 'v' }), { ifname: 'can7', prefix: 'v' });
  });

  it('refuses unknown keys and bad names', () => {
    refuses(() => parseEndpointOptions({ bitrate: '500000' }), 'endpoint option "bitrate"', /an option of: prefix, ifname, send, receive/u);
    refuses(() => parseEndpointOptions({ ifname: 'a23456789012345x' }), 'endpoint option "ifname"', /1\.\.15/u);
  });
});
