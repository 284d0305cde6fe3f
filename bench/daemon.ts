// Section 4: the daemon's cold start (process start to its first answered request) and resident memory, idle and
// with 100 members; against a bare Node.js server on a unix socket answering the same request (the runtime's
// floor), in the same VM.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { firstAnswer, joinMember, newId, rssOf, startDaemonProcess } from './daemon-process.js';
import { median } from './stats.js';

export interface DaemonResult {
  readonly rounds: number;
  readonly coldStartMs: number;
  readonly baselineColdStartMs: number;
  /** Time to the first answer when the state holds a bus of 100 members to wire again (a restart). */
  readonly restartWith100Ms: number;
  readonly rssIdleBytes: number;
  readonly rss100Bytes: number;
  readonly baselineRssBytes: number;
}

/** The floor: Node.js starting and answering one plugin request on a unix socket, nothing else. */
const BARE_SERVER = `
const { createServer } = require('node:http');
const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"Implements":["NetworkDriver"]}\\n')); });
server.listen(process.argv[1]);
`;

async function bareServer(socket: string): Promise<{ ms: number; rss: number; stop: () => void }> {
  rmSync(socket, { force: true });
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', BARE_SERVER, socket], { stdio: 'ignore' });
  const ms = await firstAnswer(socket, started);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  return {
    ms,
    rss: rssOf(child.pid ?? 0),
    stop: () => child.kill('SIGTERM'),
  };
}

export async function measureDaemon(rounds: number, log: (line: string) => void): Promise<DaemonResult> {
  const dir = '/run/cantainer-bench/daemon';
  const ours: number[] = [];
  const bare: number[] = [];
  const bareRss: number[] = [];
  const idleRss: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const daemon = await startDaemonProcess(dir);
    ours.push(daemon.coldStartMs);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    idleRss.push(daemon.rss());
    await daemon.stop();
    const floor = await bareServer(`${dir}/bare.sock`);
    bare.push(floor.ms);
    bareRss.push(floor.rss);
    floor.stop();
  }
  const daemon = await startDaemonProcess(dir);
  const network = newId();
  await post(daemon.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(network));
  for (let i = 0; i < 100; i++) await joinMember(daemon.plugin, network);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rss100 = daemon.rss();
  await daemon.stop();
  // Started again on that state: every bus is checked against the kernel before the socket answers.
  const again = await startDaemonProcess(dir, { fresh: false });
  const restartWith100Ms = again.coldStartMs;
  await post(again.plugin, '/NetworkDriver.DeleteNetwork', d.network(network));
  await again.stop();
  const result: DaemonResult = {
    rounds,
    coldStartMs: median(ours),
    baselineColdStartMs: median(bare),
    restartWith100Ms,
    rssIdleBytes: median(idleRss),
    rss100Bytes: rss100,
    baselineRssBytes: median(bareRss),
  };
  log(
    `daemon: cold start ${result.coldStartMs.toFixed(0)} ms (bare node ${result.baselineColdStartMs.toFixed(0)} ms), restart with 100 members ${restartWith100Ms.toFixed(0)} ms, RSS idle ${(result.rssIdleBytes / 2 ** 20).toFixed(1)} MiB, with 100 members ${(rss100 / 2 ** 20).toFixed(1)} MiB (bare node ${(result.baselineRssBytes / 2 ** 20).toFixed(1)} MiB)`,
  );
  return result;
}
