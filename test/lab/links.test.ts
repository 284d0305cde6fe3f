import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sh, shFails } from './helpers.js';

interface IpLink {
  ifname: string;
  mtu: number;
  link_type: string;
  linkinfo?: { info_kind?: string };
  flags: string[];
}

function links(netns?: string): IpLink[] {
  return JSON.parse(sh(`${netns ? `ip -n ${netns} ` : 'ip '}-j -d link show`)) as IpLink[];
}

function link(name: string, netns?: string): IpLink | undefined {
  return links(netns).find((entry) => entry.ifname === name);
}

describe('CAN links made with iproute2 (proves the lab; slice 3 replaces the tools)', () => {
  afterEach(() => {
    sh('ip link del labvcan0 2>/dev/null; ip link del labvx0 2>/dev/null; ip netns del labns 2>/dev/null; true');
  });

  it('creates and deletes a vcan', () => {
    sh('modprobe vcan && ip link add labvcan0 type vcan && ip link set labvcan0 mtu 16 && ip link set labvcan0 up');
    const created = link('labvcan0');
    assert.equal(created?.link_type, 'can');
    assert.equal(created.linkinfo?.info_kind, 'vcan');
    assert.equal(created.mtu, 16);
    assert.ok(created.flags.includes('UP'));
    sh('ip link del labvcan0');
    assert.equal(link('labvcan0'), undefined);
  });

  it('creates a vxcan pair across namespaces; deleting one end removes both', () => {
    sh('modprobe vxcan && ip netns add labns && ip link add labvx0 type vxcan peer name labvx1 netns labns');
    assert.equal(link('labvx0')?.linkinfo?.info_kind, 'vxcan');
    assert.equal(link('labvx1'), undefined, 'the peer is not in the initial namespace');
    assert.equal(link('labvx1', 'labns')?.linkinfo?.info_kind, 'vxcan');
    sh('ip link del labvx0');
    assert.equal(link('labvx0'), undefined);
    assert.equal(link('labvx1', 'labns'), undefined);
  });

  it('refuses an MTU change on a vcan that is up', () => {
    sh('modprobe vcan && ip link add labvcan0 type vcan && ip link set labvcan0 up');
    assert.match(shFails('ip link set labvcan0 mtu 16'), /busy/iu);
  });
});
