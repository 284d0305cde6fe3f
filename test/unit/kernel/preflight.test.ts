import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPreflight, judgePreflight, kernelAdvice, parseOsRelease, type PreflightFacts } from '../../../src/kernel/preflight.js';

const DEBIAN_DEP = [
  'kernel/drivers/net/can/vcan.ko:',
  'kernel/drivers/net/can/vxcan.ko: kernel/drivers/net/can/dev/can-dev.ko',
  'kernel/net/can/can-gw.ko: kernel/net/can/can.ko',
  'kernel/net/can/can-raw.ko: kernel/net/can/can.ko',
  'kernel/net/can/can-isotp.ko.xz: kernel/net/can/can.ko',
].join('\n');

function facts(overrides: Partial<PreflightFacts>): PreflightFacts {
  return {
    kernelRelease: '6.1.0-56-amd64',
    loaded: new Set(),
    modulesBuiltin: '',
    modulesDep: DEBIAN_DEP,
    maxHops: undefined,
    ...overrides,
  };
}

describe('preflight', () => {
  it('reports loadable modules with the modprobe command that loads them', () => {
    const report = judgePreflight(facts({ loaded: new Set(['vcan']) }));
    assert.deepEqual(
      report.modules.map((m) => [m.module, m.state]),
      [
        ['vcan', 'loaded'],
        ['vxcan', 'loadable'],
        ['can_gw', 'loadable'],
        ['can_raw', 'loadable'],
        ['can_isotp', 'loadable'],
      ],
    );
    assert.equal(report.ok, true);
    assert.deepEqual(report.fixes, [
      'modprobe -a vxcan can-gw can-raw',
      'modprobe -a can-isotp  (optional: only ISO-TP and UDS tools in containers need it)',
    ]);
    assert.match(formatPreflight(report), /can_isotp +loadable \(optional\)/u);
  });

  it('recognises built-in modules and reports max_hops', () => {
    const report = judgePreflight(
      facts({
        modulesBuiltin: 'kernel/net/can/can-raw.ko\nkernel/drivers/net/can/vcan.ko\n',
        modulesDep: '',
        loaded: new Set(['vxcan', 'can_gw']),
        maxHops: 1,
      }),
    );
    assert.deepEqual(
      report.modules.slice(0, 4).map((m) => m.state),
      ['builtin', 'loaded', 'loaded', 'builtin'],
    );
    assert.equal(report.modules[4]?.state, 'missing');
    assert.equal(report.ok, true, 'can_isotp is optional');
    assert.match(formatPreflight(report), /can_gw max_hops: 1\nready\n/u);
  });

  it('fails when a required module is missing and says how to get it', () => {
    const report = judgePreflight(
      facts({ modulesDep: 'kernel/drivers/net/can/vcan.ko:\n', kernelRelease: '6.8.0-31-generic', distribution: ['ubuntu', 'debian'] }),
    );
    assert.equal(report.ok, false);
    assert.deepEqual(report.fixes, [
      'modprobe -a vcan',
      'kernel 6.8.0-31-generic has no vxcan, can_gw, can_raw: apt-get install linux-modules-extra-6.8.0-31-generic, then run this again',
      'kernel 6.8.0-31-generic has no can_isotp (optional: only ISO-TP and UDS tools in containers need it): apt-get install linux-modules-extra-6.8.0-31-generic, then run this again',
    ]);
    assert.match(formatPreflight(report), /NOT READY/u);
  });

  it('does not mistake a longer module name for a shorter one', () => {
    const report = judgePreflight(facts({ modulesDep: 'kernel/drivers/net/can/vcan_extra.ko:\n' }));
    assert.equal(report.modules[0]?.state, 'missing');
  });

  it('gives the package advice of the distribution it runs on (#22)', () => {
    assert.deepEqual(parseOsRelease('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n'), ['ubuntu', 'debian']);
    assert.deepEqual(parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"\n'), ['rocky', 'rhel', 'centos', 'fedora']);
    assert.deepEqual(parseOsRelease(''), []);
    assert.match(kernelAdvice('6.1.0-28-cloud-amd64', ['debian']), /^Debian's standard kernel has them: apt-get install linux-image-/u);
    assert.equal(
      kernelAdvice('6.11.4-301.fc41.x86_64', ['fedora']),
      'dnf install kernel-modules-extra-6.11.4-301.fc41.x86_64, then run this again',
    );
    assert.match(kernelAdvice('6.6.1', ['alpine']), /^use a kernel built with CONFIG_CAN_VCAN/u);
  });
});
