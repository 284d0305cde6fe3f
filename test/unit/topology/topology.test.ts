// `cantainer topology`: the data from a daemon on the in-memory kernel with counters that moved, and the same
// topology drawn as SVG (well-formed, checked by xmllint), DOT (read by Graphviz) and Mermaid (byte for byte).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { main, type CliIo } from '../../../src/cli/main.js';
import type { Topology } from '../../../src/control/protocol.js';
import { renderTopology } from '../../../src/topology/render.js';
import { renderMermaid } from '../../../src/topology/mermaid.js';
import { renderSvg } from '../../../src/topology/svg.js';
import { simFrame, transmit } from '../../support/frame-sim.js';
import { sampleHost, type SampleHost } from '../../support/sample-host.js';

/** Runs a tool on `input`; its exit status and what it said. */
function tool(command: string, args: readonly string[], input: string): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(command, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 }) };
  } catch (error) {
    return { ok: false, out: String((error as { stderr?: string }).stderr ?? error) };
  }
}

const SMALL: Topology = {
  buses: [
    {
      name: 'powertrain',
      id: 'p'.repeat(64),
      fd: false,
      bitrate: 500_000,
      load: 0.25,
      frames: 10,
      dropped: 0,
      members: [
        { id: 'm1', name: 'engine "A" <1>', interface: 'can0', hostEnd: 'v1', frames: 10, faults: ['off (neither sends nor receives)'] },
      ],
      uplinks: [],
      tunnels: [],
      faults: [],
      drift: 0,
    },
    {
      name: 'body',
      id: 'b'.repeat(64),
      fd: true,
      frames: 4,
      dropped: 1,
      members: [],
      uplinks: [{ interface: 'can0', direction: 'in', state: 'down', frames: 0 }],
      tunnels: [{ name: 't', transport: 'tcp-client', peer: 'hub:20000', state: 'up', framesIn: 1, framesOut: 2 }],
      faults: ['drop 10%'],
      drift: 0,
    },
  ],
  gateways: [
    { source: 'powertrain', destination: 'body', both: true, state: 'wired', settings: '--accept 100/700', frames: 3, framesBack: 1 },
  ],
};

describe('cantainer topology', () => {
  let host: SampleHost;
  const run = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (text) => (out += text), err: (text) => (err += text) };
    const code = await main([...argv, '--control-socket', host.control], io);
    return { code, out, err };
  };

  before(async () => {
    host = await sampleHost();
    for (const id of [0x100, 0x101, 0x200]) transmit(host.kernel, { label: 'engine', path: '/ecu/engine' }, 'can0', simFrame(id, '01'));
    transmit(host.kernel, { label: 'dash', path: '/ecu/dash' }, 'can0', simFrame(0x300, ''));
  });
  after(async () => {
    await host.close();
  });

  it('gives every bus with its members by container name, host interfaces, tunnels, gateways, and their counters', async () => {
    const { code, out, err } = await run('topology', '--format', 'json');
    assert.equal(err, '');
    assert.equal(code, 0);
    const topology = JSON.parse(out) as Topology;
    const simple = topology.buses.map((bus) => ({
      name: bus.name,
      frames: bus.frames,
      members: bus.members.map((m) => [m.name, m.interface, m.frames]),
      uplinks: bus.uplinks.map((u) => [u.interface, u.direction, u.state, u.frames]),
      tunnels: bus.tunnels.map((t) => [t.name, t.transport, t.listen, t.peer, t.state]),
    }));
    assert.deepEqual(simple, [
      {
        name: 'powertrain',
        frames: 3,
        members: [
          ['engine', 'can0', 3],
          ['brakes', 'can0', 0],
        ],
        uplinks: [],
        tunnels: [['bench', 'udp', `127.0.0.1:${host.tunnelPort}`, '127.0.0.1:9', 'up']],
      },
      // The dashboard's frame and the two that crossed the gateway.
      { name: 'body', frames: 3, members: [['dash', 'can0', 1]], uplinks: [['vcan0', 'both', 'up', 0]], tunnels: [] },
    ]);
    assert.deepEqual(topology.gateways, [
      { source: 'powertrain', destination: 'body', both: false, state: 'wired', settings: '--accept 100/700', frames: 2 },
    ]);
  });

  it('draws only the buses named, with the gateways between them', async () => {
    const only = JSON.parse((await run('topology', 'body', '--format', 'json')).out) as Topology;
    assert.deepEqual(
      only.buses.map((bus) => bus.name),
      ['body'],
    );
    assert.deepEqual(only.gateways, []);
    const missing = await run('topology', 'nowhere');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nowhere/u);
    const bad = await run('topology', '--format', 'png');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /Allowed choices are svg, dot, mermaid, json/u);
  });

  it('draws an SVG that xmllint reads, the same bytes for the same topology, with a key for every live figure', async () => {
    const { out } = await run('topology');
    assert.ok(out.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), out.slice(0, 80));
    const checked = tool('xmllint', ['--noout', '-'], out);
    assert.equal(checked.ok, true, checked.out);
    assert.equal((await run('topology')).out.replace(/\d+ frames/gu, ''), out.replace(/\d+ frames/gu, ''));
    for (const key of [
      'bus:powertrain',
      'bus:body',
      'member:powertrain/engine',
      'member:powertrain/brakes',
      'member:body/dash',
      'uplink:body/vcan0',
      'tunnel:powertrain/bench',
      'gateway:powertrain/body',
    ])
      assert.match(out, new RegExp(`data-key="${key}"`, 'u'), key);
    assert.match(out, /data-live="member:powertrain\/engine">3 frames sent</u);
  });

  it('escapes names in every format', () => {
    const svg = renderSvg(SMALL);
    assert.equal(tool('xmllint', ['--noout', '-'], svg).ok, true);
    assert.match(svg, /engine &quot;A&quot; &lt;1&gt;/u);
    const dot = renderTopology(SMALL, 'dot');
    assert.match(dot, /engine \\"A\\" <1>/u);
    const drawn = tool('dot', ['-Tsvg'], dot);
    assert.equal(drawn.ok, true, drawn.out);
    assert.match(drawn.out, /<svg/u);
  });

  it('draws a Graphviz graph of the live host that dot reads', async () => {
    const { out } = await run('topology', '--format', 'dot');
    const drawn = tool('dot', ['-Tsvg'], out);
    assert.equal(drawn.ok, true, drawn.out);
    assert.match(out, /"bus:powertrain" -> "bus:body" \[label="--accept 100\/700\\n2 frames"/u);
  });

  it('writes Mermaid byte for byte', () => {
    assert.equal(
      renderMermaid(SMALL),
      [
        'flowchart LR',
        '  b0[["powertrain<br/>classic CAN · 500 kbit/s · load 25%<br/>10 frames"]]',
        '  b0m0("engine #34;A#34; #60;1#62;<br/>can0<br/>fault: off #40;neither sends nor receives#41;")',
        '  b0m0 --- b0',
        '  b1[["body<br/>CAN FD · untimed<br/>4 frames, 1 dropped"]]',
        '  b1u0[/"can0 #40;host#41; · in<br/>down"/]',
        '  b1u0 --> b1',
        '  b1t0{{"tunnel tcp-client hub:20000<br/>up · in 1, out 2"}}',
        '  b1t0 <--> b1',
        '  b0 <== "--accept 100/700<br/>3 → · 1 ←" ==> b1',
        '  classDef bus fill:#DCEBF5,stroke:#0072B2,stroke-width:3px',
        '  classDef down stroke:#D55E00,stroke-dasharray:5 3',
        '  class b0,b1 bus',
        '  class b0m0,b1u0 down',
        '',
      ].join('\n'),
    );
  });
});
