// Measures, in the same VM run, the time to create one can-gw rule through the kernel layer and by spawning
// can-utils' cangw for the same rule. Reported as diagnostics (medians and their ratio), never asserted on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { systemKernel, type RoutePort } from '../../src/kernel/index.js';
import { sameRule, type CanGwRule } from '../../src/netlink/cangw.js';
import { sh } from '../support/lab.js';

const ROUNDS = 40;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe('can-gw rule creation: kernel layer versus spawning cangw', () => {
  const kernel = systemKernel({ netnsDir: '/run/cantainer-test/netns' });
  let route: RoutePort;
  let rule: CanGwRule;

  before(() => {
    sh('modprobe -a vcan can-gw && ip link add ctm0 type vcan && ip link add ctm1 type vcan && ip link set ctm0 up && ip link set ctm1 up');
    route = kernel.route();
    rule = {
      sourceIndex: route.findLink('ctm0')?.index ?? 0,
      destinationIndex: route.findLink('ctm1')?.index ?? 0,
      echo: true,
      allowToIncomingInterface: true,
      hopLimit: 1,
    };
  });

  after(() => {
    route.flushRules();
    route.close();
    sh('ip link del ctm0; ip link del ctm1');
  });

  it('creates the same rule both ways and reports the times', (t) => {
    const cangw = ['-A', '-s', 'ctm0', '-d', 'ctm1', '-e', '-i', '-l', '1'];
    execFileSync('cangw', cangw);
    assert.equal(route.listRules().length, 1);
    assert.ok(
      sameRule(route.listRules()[0]?.rule ?? { sourceIndex: 1, destinationIndex: 2 }, rule),
      'cangw made the rule the kernel layer describes',
    );
    route.flushRules();

    const viaKernelLayer: number[] = [];
    const viaCangw: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now();
      route.addRule(rule);
      viaKernelLayer.push(performance.now() - start);
      route.deleteRule(rule);
      start = performance.now();
      execFileSync('cangw', cangw);
      viaCangw.push(performance.now() - start);
      route.deleteRule(rule);
    }
    assert.deepEqual(route.listRules(), []);
    const ours = median(viaKernelLayer);
    const theirs = median(viaCangw);
    t.diagnostic(
      `measure: can-gw rule creation, median of ${ROUNDS}: kernel layer ${ours.toFixed(3)} ms, spawning cangw ${theirs.toFixed(3)} ms, ratio ${(theirs / ours).toFixed(1)}x`,
    );
  });
});
