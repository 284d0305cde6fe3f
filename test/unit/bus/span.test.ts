// A span's plan (#24): which node is the hub, what tunnel each node's bus gets, who may connect, and the checks of
// a span's settings. Pure data in, data out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkSpan, planSpan, spanHub, spanPort, SPAN_PORT_COUNT, SPAN_PORT_FIRST, type Span } from '../../../src/bus/span.js';
import { checkTunnel } from '../../../src/bus/tunnel.js';

const BUS = '3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f';
const MANAGERS = [
  { id: 'zq3k9', address: '10.0.0.3' },
  { id: 'a71bx', address: '10.0.0.1' },
  { id: 'm0c2d', address: '10.0.0.2' },
];
const SWARM: Span = { mode: 'swarm' };

describe('a span across nodes', () => {
  it('picks the same port for a network on every node, within the range, and another for another network', () => {
    const port = spanPort(BUS);
    assert.equal(port, spanPort(BUS));
    assert.ok(port >= SPAN_PORT_FIRST && port < SPAN_PORT_FIRST + SPAN_PORT_COUNT, String(port));
    const others = new Set(Array.from({ length: 50 }, (_, i) => spanPort(`${BUS}${i}`)));
    assert.ok(others.size > 45, `ports spread over the range: ${others.size} of 50 differ`);
  });

  it('makes the manager with the lowest node id the hub, whatever order a node lists them in', () => {
    const hub = spanHub(BUS, SWARM, { self: ['10.0.0.9'], managers: MANAGERS });
    assert.deepEqual(hub, { host: '10.0.0.1', port: spanPort(BUS), family: 4 });
    assert.deepEqual(spanHub(BUS, SWARM, { self: ['10.0.0.9'], managers: [...MANAGERS].reverse() }), hub);
    assert.equal(spanHub(BUS, SWARM, { self: ['10.0.0.9'], managers: [] }), undefined);
    assert.deepEqual(spanHub(BUS, { mode: 'swarm', port: 29999 }, { self: [], managers: MANAGERS })?.port, 29999);
    assert.deepEqual(spanHub(BUS, { mode: 'swarm', hub: 'bench.local:7000' }, { self: [], managers: MANAGERS }), {
      host: 'bench.local',
      port: 7000,
      family: undefined,
    });
  });

  it('gives a spoke a client of the hub, and the hub a server that takes only the other nodes', () => {
    const nodes = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.9', '10.0.0.9'];
    const port = spanPort(BUS);
    assert.deepEqual(planSpan(BUS, SWARM, { self: ['10.0.0.9'], managers: MANAGERS }), {
      role: 'spoke',
      hub: { host: '10.0.0.1', port, family: 4 },
      tunnel: { name: 'span', transport: 'tcp-client', peer: `10.0.0.1:${port}`, allow: [] },
    });
    const hub = planSpan(BUS, SWARM, { self: ['10.0.0.1'], managers: MANAGERS, nodes });
    assert.deepEqual(hub, {
      role: 'hub',
      hub: { host: '10.0.0.1', port, family: 4 },
      tunnel: { name: 'span', transport: 'tcp-server', listen: `10.0.0.1:${port}`, allow: ['10.0.0.2', '10.0.0.3', '10.0.0.9'] },
    });
    for (const plan of [hub, planSpan(BUS, SWARM, { self: ['10.0.0.2'], managers: MANAGERS })]) {
      assert.ok(plan?.tunnel !== undefined);
      checkTunnel(plan.tunnel);
    }
  });

  it('opens no hub while it cannot tell who may connect: a server with an empty list would take anyone', () => {
    assert.deepEqual(planSpan(BUS, SWARM, { self: ['10.0.0.1'], managers: MANAGERS }), {
      role: 'hub',
      hub: { host: '10.0.0.1', port: spanPort(BUS), family: 4 },
    });
    assert.equal(planSpan(BUS, SWARM, { self: ['10.0.0.1'], managers: MANAGERS, nodes: ['10.0.0.1'] })?.tunnel, undefined);
  });

  it('spans nodes named in the configuration, IPv6 as well, with the hub they name', () => {
    const span: Span = { mode: 'nodes', hub: '[fd00::1]:7000', nodes: ['fd00::1', 'fd00:0:0::2', 'fd00::3'] };
    checkSpan(span);
    assert.deepEqual(planSpan(BUS, span, { self: ['fd00::1'], managers: [] })?.tunnel, {
      name: 'span',
      transport: 'tcp-server',
      listen: '[fd00::1]:7000',
      allow: ['fd00::2', 'fd00::3'],
    });
    assert.deepEqual(planSpan(BUS, span, { self: ['fd00::3'], managers: [] })?.tunnel, {
      name: 'span',
      transport: 'tcp-client',
      peer: '[fd00::1]:7000',
      allow: [],
    });
  });

  it('refuses settings that cannot span, naming the setting, the value and what is allowed', () => {
    const cases: Array<[Span, RegExp]> = [
      [{ mode: 'ring' as Span['mode'] }, /span: "ring" is not valid; allowed: swarm, nodes$/u],
      [{ mode: 'swarm', hub: 'nowhere' }, /hub: "nowhere" is not valid; allowed: HOST:PORT/u],
      [{ mode: 'swarm', port: 70000 }, /span_port: 70000 is not valid; allowed: a port 1\.\.65535$/u],
      [
        { mode: 'swarm', hub: '10.0.0.1:7000', port: 7001 },
        /span_port: 7001 is not valid; allowed: nothing: the hub 10\.0\.0\.1:7000 names its port$/u,
      ],
      [{ mode: 'swarm', nodes: ['10.0.0.1'] }, /nodes: .* allowed: nothing: in a swarm span, Swarm says which nodes there are$/u],
      [{ mode: 'nodes', nodes: ['10.0.0.1'] }, /hub: .*allowed: HOST:PORT of the hub: a span of nodes names it$/u],
      [{ mode: 'nodes', hub: '10.0.0.1:7000', nodes: [] }, /nodes: .*allowed: the IP address of every node/u],
      [{ mode: 'nodes', hub: '10.0.0.1:7000', nodes: ['node-b'] }, /nodes: "node-b" is not valid; allowed: an IP address/u],
    ];
    for (const [span, message] of cases)
      assert.throws(
        () => {
          checkSpan(span);
        },
        message,
        JSON.stringify(span),
      );
  });
});
