// The dashboard and `cantainer topology` against real buses: a daemon on the real kernel with `--http-listen`,
// members in network namespaces attached by container name, a gateway; Debian's Chromium runs headless inside the
// lab VM (it starts there in about half a minute under emulation) and the scenario of
// test/support/dashboard-browser.ts runs against it, frames sent with `cantainer send`. The screenshot comes back
// with the lab's artefacts (dist/artifacts/dashboard-lab.png).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Browser } from 'puppeteer-core';
import { classicFrame } from '../../src/can/frame.js';
import { callDaemon } from '../../src/control/client.js';
import { CONTAINER_ANNOTATION, type Topology } from '../../src/control/protocol.js';
import { systemKernel } from '../../src/kernel/index.js';
import { dashboardScenario, launchChromium } from '../support/dashboard-browser.js';
import { sh, startCantainerDaemon, type RunningDaemon } from '../support/lab.js';

const DIR = '/run/cantainer-dashboard';
const CONTROL = `${DIR}/control.sock`;
const PORT = 18_080;
const ECUS = { engine: 'powertrain', brakes: 'powertrain', dash: 'body', wheel: 'chassis' } as const;

const cantainer = (args: string): string => sh(`node bin/cantainer ${args} --control-socket ${CONTROL}`, 60_000);

describe('the dashboard and topology pictures on the real kernel', () => {
  let daemon: RunningDaemon;
  let browser: Browser | undefined;

  before(async () => {
    sh(`mkdir -p ${DIR} && modprobe -a vcan vxcan can-gw && for n in ${Object.keys(ECUS).join(' ')}; do ip netns add db-$n; done`);
    daemon = await startCantainerDaemon(
      [
        '--state-dir',
        `${DIR}/state`,
        '--control-socket',
        CONTROL,
        '--netns-dir',
        `${DIR}/netns`,
        '--socket',
        `${DIR}/plugin.sock`,
        '--http-listen',
        String(PORT),
      ],
      `${DIR}/daemon.log`,
    );
    for (const [name, bus] of Object.entries(ECUS))
      await callDaemon(CONTROL, 'Member.Attach', {
        bus,
        netns: `/run/netns/db-${name}`,
        member: name,
        interface: 'can0',
        create: true,
        annotations: { [CONTAINER_ANNOTATION]: name },
      });
    cantainer('gateway add powertrain body --accept 100/700');
  });

  after(async () => {
    await browser?.close();
    await daemon.stop();
    sh(`for n in ${Object.keys(ECUS).join(' ')}; do ip netns del db-$n; done; true`);
  });

  it('draws the real buses as SVG, DOT and Mermaid, with the frames that crossed', () => {
    const socket = systemKernel().canSocket('can0', { netns: { label: 'engine', path: '/run/netns/db-engine' } });
    for (const id of [0x100, 0x123, 0x200]) socket.send(classicFrame({ id, data: [1, 2] }));
    socket.close();
    const topology = JSON.parse(cantainer('topology --format json')) as Topology;
    assert.deepEqual(
      topology.buses.map((bus) => [bus.name, bus.members.map((member) => [member.name, member.interface, member.frames])]),
      [
        [
          'powertrain',
          [
            ['engine', 'can0', 3],
            ['brakes', 'can0', 0],
          ],
        ],
        ['body', [['dash', 'can0', 0]]],
        ['chassis', [['wheel', 'can0', 0]]],
      ],
    );
    assert.deepEqual(
      topology.gateways.map((g) => [g.source, g.destination, g.state, g.settings, g.frames]),
      [['powertrain', 'body', 'wired', '--accept 100/700', 2]],
    );
    cantainer(`topology -o ${DIR}/buses.svg`);
    sh(`xmllint --noout ${DIR}/buses.svg`);
    assert.match(readFileSync(`${DIR}/buses.svg`, 'utf8'), /data-key="gateway:powertrain\/body"/u);
    sh(`node bin/cantainer topology --format dot --control-socket ${CONTROL} | dot -Tsvg > /dev/null`);
    assert.match(cantainer('topology body --format mermaid'), /^flowchart LR\n {2}b0\[\["body<br\/>classic CAN · untimed/u);
  });

  it('shows them live in Chromium: exact buses, moving counters, a trace of `cantainer send`, a bus going', async () => {
    const started = Date.now();
    browser = await launchChromium();
    console.log(`dashboard: Chromium started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const report = await dashboardScenario(
      browser,
      {
        url: `http://127.0.0.1:${PORT}/`,
        buses: ['powertrain', 'body', 'chassis'],
        members: { powertrain: ['engine', 'brakes'], body: ['dash'], chassis: ['wheel'] },
        gateways: ['powertrain → body'],
        doomed: 'chassis',
        flood: (bus, count) => {
          const member = Object.entries(ECUS).find(([, on]) => on === bus)?.[0] ?? '';
          const socket = systemKernel().canSocket('can0', { netns: { label: member, path: `/run/netns/db-${member}` } });
          for (let i = 0; i < count; i++) socket.send(classicFrame({ id: 0x200, data: [i & 0xff] }));
          socket.close();
          return Promise.resolve();
        },
        send: (bus, ...frames) => {
          cantainer(`send ${bus} ${frames.join(' ')}`);
          return Promise.resolve();
        },
        removeBus: async (name) => {
          await callDaemon(CONTROL, 'Member.Detach', { bus: name, member: 'wheel' });
        },
      },
      'lab',
    );
    console.log(`dashboard: first live topology ${report.firstPaintMs} ms after the page was asked for; screenshot ${report.screenshot}`);
    // Nothing is left of the bus removed: its namespace went with it.
    assert.doesNotMatch(cantainer('ls'), /chassis/u);
  });
});
