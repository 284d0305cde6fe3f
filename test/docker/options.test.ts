import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../src/errors.js';
import { parseEndpointOptions, parseNetworkOptions } from '../../src/docker/options.js';

function refuses(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidValueError && error.field === field && message.test(error.message));
}

describe('network options', () => {
  it('defaults to a classic bus with prefix "can" and no host interface', () => {
    assert.deepEqual(parseNetworkOptions({}), { fd: false, prefix: 'can', noEffect: [] });
  });

  it('reads fd, host_if and prefix', () => {
    assert.deepEqual(parseNetworkOptions({ fd: 'true', host_if: 'dcan0', prefix: 'ecu' }), { fd: true, hostInterface: 'dcan0', prefix: 'ecu', noEffect: [] });
  });

  it("accepts dockercan's, docker-vxcan's and RemotiveBus's option names", () => {
    assert.deepEqual(parseNetworkOptions({ canfd: 'true', host_if: 'dcan0', centralised: 'true' }), { fd: true, hostInterface: 'dcan0', prefix: 'can', noEffect: ['centralised'] });
    assert.deepEqual(parseNetworkOptions({ 'vxcan.dev': 'vcan', 'vxcan.id': '3', 'vxcan.peer': 'vxcan' }), { fd: false, hostInterface: 'vcan3', prefix: 'vxcan', noEffect: [] });
    assert.deepEqual(parseNetworkOptions({ device: 'ecu', host_device: 'rbus0' }), { fd: false, hostInterface: 'rbus0', prefix: 'ecu', noEffect: [] });
  });

  it('refuses unknown keys, naming the key, the value and the options there are', () => {
    refuses(() => parseNetworkOptions({ bitrate: '500000' }), 'network option "bitrate"', /"500000" is not valid; allowed: an option of: fd, host_if, prefix/u);
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

  it("explains Docker's MTU option instead of ignoring it, and ignores Docker's other keys", () => {
    refuses(() => parseNetworkOptions({ 'com.docker.network.driver.mtu': '1500' }), 'network option "com.docker.network.driver.mtu"', /MTU 16, or 72 with fd=true/u);
    assert.equal(parseNetworkOptions({ 'com.docker.network.bridge.name': 'x' }).fd, false);
  });
});

describe('endpoint options', () => {
  it("reads prefix and ifname, also Docker's interface-name option, and skips Docker's own keys", () => {
    assert.deepEqual(parseEndpointOptions({}), {});
    assert.deepEqual(parseEndpointOptions({ prefix: 'ecu', 'com.docker.network.portmap': [], 'com.docker.network.endpoint.exposedports': [] }), { prefix: 'ecu' });
    assert.deepEqual(parseEndpointOptions({ 'com.docker.network.endpoint.ifname': 'powertrain' }), { ifname: 'powertrain' });
    assert.deepEqual(parseEndpointOptions({ ifname: 'can7', 'vxcan.peer': 'v' }), { ifname: 'can7', prefix: 'v' });
  });

  it('refuses unknown keys and bad names', () => {
    refuses(() => parseEndpointOptions({ send: '123/7ff' }), 'endpoint option "send"', /an option of: prefix, ifname/u);
    refuses(() => parseEndpointOptions({ ifname: 'a23456789012345x' }), 'endpoint option "ifname"', /1\.\.15/u);
  });
});
