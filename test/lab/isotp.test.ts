// ISO-TP and UDS across cantainer buses with a real dockerd and the kernel's can-isotp: can-utils' isotpsend and
// isotprecv in containers move a 4095-byte PDU intact on one bus and across a gateway, classic and FD; a tester
// container reads an ECU's VIN (UDS ReadDataByIdentifier 0x22 F190) across a gateway, byte for byte.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ensureDockerWithImages, sh, startCantainerDaemon, waitFor, type RunningDaemon } from '../support/lab.js';

const CONTROL = '/run/cantainer-isotp/control.sock';
const CONTAINERS = {
  tester: ['diag'],
  ecu: ['diag'],
  engine: ['engine'],
  fdtester: ['fddiag'],
  fdecu: ['fddiag'],
  fdengine: ['fdengine'],
} as const;
/** 4095 bytes (the largest classic ISO-TP PDU), as isotpsend reads them: hex bytes separated by spaces. */
const PDU = Array.from({ length: 4095 }, (_, i) => ((i * 7 + 3) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(' ');
const VIN = Buffer.from('WVWZZZ1JZXW000001').toString('hex').toUpperCase().match(/../gu)?.join(' ') ?? '';

/** Runs `docker exec` in the background and resolves with its standard output once it exits. */
function execInBackground(container: string, command: string, timeoutMs = 60_000): { output: Promise<string> } {
  const child = spawn('docker', ['exec', container, 'sh', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return {
    output: new Promise((resolve, reject) => {
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`docker exec ${container} ${command}: exit ${code ?? 'signal'}: ${err}`));
      });
    }),
  };
}

/**
 * Waits until `count` isotprecv processes run in a container (a `docker exec` may take seconds to start under
 * emulation), then a little more for their sockets to be bound: a first frame sent before that would be lost.
 */
async function listening(container: string, count = 1): Promise<void> {
  sh(
    `for i in $(seq 100); do [ "$(docker exec ${container} sh -c 'grep -l ^isotprecv /proc/[0-9]*/cmdline 2>/dev/null | wc -l')" -ge ${count} ] && exit 0; sleep 0.1; done; echo "no isotprecv in ${container}"; exit 1`,
    60_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
}

async function transfer(from: string, to: string, fd: boolean): Promise<string> {
  const link = fd ? ' -L 72:64:0' : '';
  const receiver = execInBackground(to, `isotprecv -s 7E8 -d 7E0${link} can0`);
  await listening(to);
  // The PDU is written to a file in the container first: piped through `docker exec -i`, stdin was once cut after
  // 8 KiB under load (isotpsend then sent 2731 bytes).
  sh(`docker exec ${from} sh -c "echo '${PDU}' > /tmp/pdu && isotpsend -s 7E0 -d 7E8${link} can0 < /tmp/pdu"`, 60_000);
  return (await receiver.output).trim();
}

describe('ISO-TP and UDS across buses', () => {
  let daemon: RunningDaemon;

  before(async () => {
    sh('modprobe can-isotp');
    ensureDockerWithImages();
    daemon = await startCantainerDaemon(
      ['--state-dir', '/run/cantainer-isotp/state', '--control-socket', CONTROL, '--netns-dir', '/run/cantainer-isotp/netns'],
      '/run/cantainer-isotp.log',
    );
    sh(
      'for n in diag engine; do docker network create -d cantainer --ipam-driver null $n; done; for n in fddiag fdengine; do docker network create -d cantainer --ipam-driver null -o fd=true $n; done',
      120_000,
    );
    for (const [name, networks] of Object.entries(CONTAINERS))
      sh(`docker run -d --name ${name} --network ${networks[0]} lab/canutils sleep 3600`, 120_000);
    sh(
      `node bin/cantainer gateway add diag engine --both --control-socket ${CONTROL} && node bin/cantainer gateway add fddiag fdengine --both --control-socket ${CONTROL}`,
    );
    await waitFor(
      'both gateways wired',
      () =>
        (JSON.parse(sh(`node bin/cantainer gateway ls --json --control-socket ${CONTROL}`)) as Array<{ state: string }>).every(
          (g) => g.state === 'wired',
        ),
      10_000,
    );
  });

  after(async () => {
    sh(
      `docker rm -f ${Object.keys(CONTAINERS).join(' ')} >/dev/null 2>&1; docker network rm diag engine fddiag fdengine >/dev/null 2>&1; true`,
      120_000,
    );
    await daemon.stop();
  });

  for (const [label, from, to, fd] of [
    ['on one classic bus', 'tester', 'ecu', false],
    ['across a gateway between classic buses', 'tester', 'engine', false],
    ['on one FD bus (-L 72:64:0)', 'fdtester', 'fdecu', true],
    ['across a gateway between FD buses (-L 72:64:0)', 'fdtester', 'fdengine', true],
  ] as const) {
    it(`moves a 4095-byte PDU intact ${label}`, async () => {
      const received = await transfer(from, to, fd);
      assert.equal(received.split(' ').length, 4095);
      assert.equal(received, PDU);
    });
  }

  it('reads the VIN of an ECU across a gateway with UDS ReadDataByIdentifier (22 F1 90 -> 62 F1 90 + 17 bytes)', async () => {
    // The ECU answers one request: a multi-frame response, so the tester's flow control crosses the gateway too.
    const ecu = execInBackground(
      'engine',
      `req=$(isotprecv -s 7E8 -d 7E0 can0); [ "$req" = "22 F1 90 " ] || [ "$req" = "22 F1 90" ] || exit 3; sleep 0.2; echo '62 F1 90 ${VIN}' | isotpsend -s 7E8 -d 7E0 can0`,
    );
    const tester = execInBackground('tester', 'isotprecv -s 7E0 -d 7E8 can0');
    await listening('engine');
    await listening('tester');
    sh(`echo '22 F1 90' | docker exec -i tester isotpsend -s 7E0 -d 7E8 can0`);
    await ecu.output;
    const response = (await tester.output).trim();
    assert.equal(response, `62 F1 90 ${VIN}`);
    assert.equal(Buffer.from(response.split(' ').slice(3).join(''), 'hex').toString('latin1'), 'WVWZZZ1JZXW000001');
  });
});
