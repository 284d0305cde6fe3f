// The UDP socket of tunnels, on this machine's loopback: many datagrams per read, exact bytes and senders,
// IPv4 and IPv6, a receive buffer past net.core.rmem_max, and refusals that say what went wrong (#22).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { KernelError } from '../../../src/kernel/errors.js';
import { socketAddress, UdpSocket, type Datagram } from '../../../src/kernel/udp-socket.js';

const opened: Array<UdpSocket | Socket> = [];
after(() => {
  for (const socket of opened) socket.close();
});

function open(family: 4 | 6, address: string, receiveBufferBytes?: number): UdpSocket {
  const socket = UdpSocket.open({ family, address, port: 0, ...(receiveBufferBytes === undefined ? {} : { receiveBufferBytes }) });
  opened.push(socket);
  return socket;
}

async function nodeSocket(type: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const socket = createSocket(type);
  opened.push(socket);
  await new Promise<void>((resolve) => {
    socket.bind(0, address, resolve);
  });
  return socket;
}

/** Collects what `socket` hands over, copied, with the size of each hand-over, until `count` have come. */
function collect(socket: UdpSocket, count: number): Promise<{ datagrams: Array<Datagram & { data: Buffer }>; calls: number[] }> {
  const datagrams: Array<Datagram & { data: Buffer }> = [];
  const calls: number[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${datagrams.length} of ${count} datagrams came`));
    }, 10_000);
    socket.listen(
      (batch) => {
        calls.push(batch.length);
        for (const datagram of batch) datagrams.push({ ...datagram, data: Buffer.from(datagram.data) });
        if (datagrams.length >= count) {
          clearTimeout(timer);
          resolve({ datagrams, calls });
        }
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

const payload = (i: number): Buffer => Buffer.alloc(1 + ((i * 37) % 1400), i & 0xff);

describe('UDP sockets of tunnels', () => {
  it('read many datagrams per call, each with its exact bytes, its sender and its port, in order', async () => {
    const [a, b] = [open(4, '127.0.0.1'), open(4, '127.0.0.1', 4 * 1024 * 1024)];
    const to = socketAddress(4, '127.0.0.1', b.port);
    const sent = [...Array.from({ length: 300 }, (_, i) => payload(i)), Buffer.alloc(65_000, 0x5a)];
    // All sent before anyone reads: they wait in the receive buffer and come in batches.
    for (const data of sent) a.send(data, to);
    const { datagrams, calls } = await collect(b, sent.length);
    assert.deepEqual(
      datagrams.map((d) => d.data.toString('hex')),
      sent.map((d) => d.toString('hex')),
    );
    assert.ok(
      datagrams.every((d) => d.address === '127.0.0.1' && d.port === a.port),
      'every sender is the other socket',
    );
    assert.ok(Math.max(...calls) > 1 && Math.max(...calls) <= 32, `datagrams per call: ${calls.join(',')}`);
  });

  it('speak IPv6, and take IPv4 senders on a dual-stack socket as ::ffff:a.b.c.d', async () => {
    const six = open(6, '::');
    const fromSix = await nodeSocket('udp6', '::1');
    const fromFour = await nodeSocket('udp4', '127.0.0.1');
    const arriving = collect(six, 2);
    fromSix.send(Buffer.from('six'), six.port, '::1');
    await new Promise((resolve) => setTimeout(resolve, 50));
    fromFour.send(Buffer.from('four'), six.port, '127.0.0.1');
    const { datagrams } = await arriving;
    assert.deepEqual(
      datagrams.map((d) => [d.data.toString(), d.address, d.port]),
      [
        ['six', '::1', fromSix.address().port],
        ['four', '::ffff:127.0.0.1', fromFour.address().port],
      ],
    );
    // And back to an IPv4 address from the IPv6 socket (sent IPv4-mapped).
    const back = new Promise<Buffer>((resolve) => fromFour.once('message', resolve));
    six.send(Buffer.from('back'), socketAddress(6, '127.0.0.1', fromFour.address().port));
    assert.equal((await back).toString(), 'back');
  });

  it(
    'get a receive buffer beyond net.core.rmem_max when asked as root',
    { skip: process.getuid?.() !== 0 && 'needs CAP_NET_ADMIN' },
    () => {
      // The kernel reports twice what was asked (its bookkeeping is counted in).
      assert.ok(open(4, '127.0.0.1', 8 * 1024 * 1024).receiveBufferBytes >= 16 * 1024 * 1024);
    },
  );

  it('refuse a port another program holds, and addresses that are not IP addresses, saying which', async () => {
    const holder = await nodeSocket('udp4', '127.0.0.1');
    const port = holder.address().port;
    assert.throws(
      () => UdpSocket.open({ family: 4, address: '127.0.0.1', port }),
      (error: unknown) =>
        error instanceof KernelError &&
        error.errnoName === 'EADDRINUSE' &&
        error.message.includes(`binding a UDP socket to 127.0.0.1:${port}`),
    );
    assert.throws(() => socketAddress(4, '::1', 1), /the address "::1" is not an IPv4 address/u);
    assert.throws(() => socketAddress(6, 'ecu.local', 1), /the address "ecu.local" is not an IP address/u);
    assert.throws(() => socketAddress(4, '127.0.0.1', 70000), /port 70000 is not 0\.\.65535/u);
  });
});
