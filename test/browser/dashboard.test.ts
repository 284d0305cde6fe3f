// The dashboard in headless Chromium and Firefox against a daemon on the in-memory kernel (the lab runs the same scenario
// against the real kernel, frames sent with `cantainer send`): see test/support/dashboard-browser.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'puppeteer-core';
import { classicFrame } from '../../src/can/frame.js';
import { parseCansend } from '../../src/can/text.js';
import { busNamespace, MONITOR } from '../../src/bus/plan.js';
import { callDaemon } from '../../src/control/client.js';
import { dashboardScenario, launchChromium, launchFirefox } from '../support/dashboard-browser.js';
import { sampleHost, type SampleHost } from '../support/sample-host.js';

for (const [name, launch] of [
  ['Chromium', launchChromium],
  ['Firefox', launchFirefox],
] as const)
  describe(`the dashboard in ${name} (in-memory kernel)`, () => {
    let host: SampleHost;
    let browser: Browser;

    before(async () => {
      host = await sampleHost({ httpAddress: { kind: 'tcp', host: '127.0.0.1', port: 0 } });
      await host.attach('chassis', 'wheel');
      browser = await launch();
    });
    after(async () => {
      await browser.close();
      await host.close();
    });

    it('shows the buses there are, live counters, a filtered trace, and a bus removed going', async () => {
      const address = host.daemon.dashboard?.address;
      assert.ok(address?.kind === 'tcp');
      const busId = (name: string): string => {
        const bus = host.daemon.service.byName(name);
        assert.ok(bus !== undefined, name);
        return bus.id;
      };
      const report = await dashboardScenario(
        browser,
        {
          url: `http://127.0.0.1:${address.port}/`,
          buses: ['powertrain', 'body', 'chassis'],
          members: { powertrain: ['engine', 'brakes'], body: ['dash'], chassis: ['wheel'] },
          gateways: ['powertrain → body'],
          doomed: 'chassis',
          flood: (bus, count) => {
            const member = host.daemon.service.byName(bus)?.members[0]?.id ?? '';
            const socket = host.kernel.canSocket('can0', { netns: { label: member, path: `/ecu/${member}` } });
            for (let i = 0; i < count; i++) socket.send(classicFrame({ id: 0x200, data: [i & 0xff] }));
            socket.close();
            return Promise.resolve();
          },
          send: (bus, ...frames) => {
            // What `cantainer send` does: the bus's monitor, in its namespace.
            const socket = host.kernel.canSocket(MONITOR, { netns: host.kernel.owned(busNamespace(busId(bus))) });
            frames.forEach((text, i) => {
              socket.send(parseCansend(`frame ${i + 1}`, text));
            });
            setTimeout(() => {
              socket.close();
            }, 50);
            return Promise.resolve();
          },
          removeBus: async (name) => {
            await callDaemon(host.control, 'Member.Detach', { bus: name, member: 'wheel' });
          },
        },
        `${name.toLowerCase()}-fake-kernel`,
      );
      assert.ok(report.firstPaintMs > 0);
    });
  });
