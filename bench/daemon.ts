// Section 4: the daemon's cold start (process start to its first answered request, and to the first request that
// needs the buses) and resident memory, idle and
// with 100 members; against a bare Node.js server on a unix socket answering the same request (the runtime's
// floor), in the same VM. The same for the self-contained executable `npm run package` builds, and a CNI ADD end to
// end (the plugin process started by the runtime, to its result) against a running daemon, both ways.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { executableName } from '../packaging/names.js';
import { packageVersion } from '../src/version.js';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { containerNamespace, firstAnswer, joinMember, newId, rssOf, startDaemonProcess } from './daemon-process.js';
import { median } from './stats.js';

export interface DaemonResult {
  readonly rounds: number;
  readonly coldStartMs: number;
  /** Time until a request that needs the buses is answered (the state loaded, every bus wired). */
  readonly readyMs?: number;
  readonly baselineColdStartMs: number;
  /** Time until ready when the state holds a bus of 100 members to wire again (a restart). */
  readonly restartWith100Ms: number;
  readonly rssIdleBytes: number;
  readonly rss100Bytes: number;
  readonly baselineRssBytes: number;
  /** The self-contained executable, where it was built (dist/pkg). */
  readonly executable?: {
    readonly coldStartMs: number;
    readonly readyMs?: number;
    readonly rssIdleBytes: number;
    /** CNI ADD, from spawning the plugin to its exit with the result, median; the checkout's through node beside it. */
    readonly cniAddMs: number;
    readonly cniAddNodeMs: number;
    readonly cniRounds: number;
  };
}

/** Where `npm run package` leaves the executable (the bench runs from a copy of the checkout). */
function builtExecutable(): string | undefined {
  const path = `dist/pkg/${executableName(packageVersion())}`;
  return existsSync(path) ? path : undefined;
}

/** The floor: Node.js starting and answering one plugin request on a unix socket, nothing else. */
const BARE_SERVER = `
const { createServer } = require('node:http');
const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"Implements":["NetworkDriver"]}\\n')); });
server.listen(process.argv[1]);
`;

export async function bareServer(socket: string): Promise<{ ms: number; rss: number; stop: () => void }> {
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

/** Runs the CNI plugin as a runtime does (verb and container in the environment, configuration on stdin); ms to its exit. */
async function cniCall(command: readonly string[], verb: 'ADD' | 'DEL', container: string, netns: string, config: string): Promise<number> {
  const started = performance.now();
  const [program, ...args] = command;
  const child = spawn(program ?? process.execPath, args, {
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: verb,
      CNI_CONTAINERID: container,
      CNI_NETNS: netns,
      CNI_IFNAME: 'can0',
      CNI_PATH: '/opt/cni/bin',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(config);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`CNI ${verb} by ${command.join(' ')} exited ${code}: ${output}`);
  return performance.now() - started;
}

/** CNI ADD (and DEL after it) of one container, `rounds` times with each command, against a running daemon. */
async function measureCniAdd(
  control: string,
  commands: { readonly executable: readonly string[]; readonly node: readonly string[] },
  rounds: number,
): Promise<{ executable: number; node: number }> {
  const config = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'cantainer', bus: 'cni-bench', controlSocket: control });
  const times = { executable: [] as number[], node: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const way of ['executable', 'node'] as const) {
      const container = newId();
      const netns = containerNamespace(`cni-${container.slice(0, 12)}`);
      try {
        times[way].push(await cniCall(commands[way], 'ADD', container, netns.path, config));
        await cniCall(commands[way], 'DEL', container, netns.path, config);
      } finally {
        netns.remove();
      }
    }
  }
  return { executable: median(times.executable), node: median(times.node) };
}

export async function measureDaemon(rounds: number, log: (line: string) => void): Promise<DaemonResult> {
  const dir = '/run/cantainer-bench/daemon';
  const executable = builtExecutable();
  if (executable === undefined) log('daemon: no self-contained executable in dist/pkg (npm run package): measuring the checkout only');
  const ours: number[] = [];
  const oursReady: number[] = [];
  const builtReady: number[] = [];
  const bare: number[] = [];
  const bareRss: number[] = [];
  const idleRss: number[] = [];
  const built: number[] = [];
  const builtRss: number[] = [];
  // Interleaved, so that a slow spell of the machine falls on all three alike.
  for (let round = 0; round < rounds; round++) {
    const daemon = await startDaemonProcess(dir);
    ours.push(daemon.coldStartMs);
    oursReady.push(daemon.readyMs);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    idleRss.push(daemon.rss());
    await daemon.stop();
    if (executable !== undefined) {
      const bundled = await startDaemonProcess(dir, { executable });
      built.push(bundled.coldStartMs);
      builtReady.push(bundled.readyMs);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      builtRss.push(bundled.rss());
      await bundled.stop();
    }
    const floor = await bareServer(`${dir}/bare.sock`);
    bare.push(floor.ms);
    bareRss.push(floor.rss);
    floor.stop();
  }
  let cni: { executable: number; node: number } | undefined;
  const cniRounds = rounds * 2;
  if (executable !== undefined) {
    const daemon = await startDaemonProcess(dir, { executable });
    try {
      cni = await measureCniAdd(daemon.control, { executable: [executable], node: [process.execPath, 'bin/cantainer'] }, cniRounds);
    } finally {
      await daemon.stop();
    }
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
  const restartWith100Ms = again.readyMs;
  await post(again.plugin, '/NetworkDriver.DeleteNetwork', d.network(network));
  await again.stop();
  const result: DaemonResult = {
    rounds,
    coldStartMs: median(ours),
    readyMs: median(oursReady),
    baselineColdStartMs: median(bare),
    restartWith100Ms,
    rssIdleBytes: median(idleRss),
    rss100Bytes: rss100,
    baselineRssBytes: median(bareRss),
    ...(executable === undefined || cni === undefined
      ? {}
      : {
          executable: {
            coldStartMs: median(built),
            readyMs: median(builtReady),
            rssIdleBytes: median(builtRss),
            cniAddMs: cni.executable,
            cniAddNodeMs: cni.node,
            cniRounds,
          },
        }),
  };
  log(
    `daemon: cold start ${result.coldStartMs.toFixed(0)} ms, ready ${median(oursReady).toFixed(0)} ms (bare node ${result.baselineColdStartMs.toFixed(0)} ms), restart with 100 members ${restartWith100Ms.toFixed(0)} ms, RSS idle ${(result.rssIdleBytes / 2 ** 20).toFixed(1)} MiB, with 100 members ${(rss100 / 2 ** 20).toFixed(1)} MiB (bare node ${(result.baselineRssBytes / 2 ** 20).toFixed(1)} MiB)`,
  );
  if (result.executable !== undefined)
    log(
      `daemon: the executable's cold start ${result.executable.coldStartMs.toFixed(0)} ms (${(result.executable.coldStartMs / result.baselineColdStartMs).toFixed(2)}x bare node), ready ${median(builtReady).toFixed(0)} ms, RSS idle ${(result.executable.rssIdleBytes / 2 ** 20).toFixed(1)} MiB; CNI ADD ${result.executable.cniAddMs.toFixed(0)} ms (through node: ${result.executable.cniAddNodeMs.toFixed(0)} ms)`,
    );
  return result;
}
