// Profiles of the daemon where the figures say the time goes: its start, and joins on a bus of 50 members.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { joinMember, newId, startDaemonProcess } from './daemon-process.js';
import { Session } from 'node:inspector/promises';
import { startDaemon } from '../src/daemon/daemon.js';
import { systemKernel } from '../src/kernel/index.js';
import { createLogger } from '../src/log.js';
import { summariseProfile, type CpuProfile, type FunctionTime } from './profile.js';

export interface ProfileResult {
  readonly what: string;
  readonly wallMs: number;
  readonly busyMs: number;
  readonly functions: readonly FunctionTime[];
}

const DIR = '/run/cantainer-bench/profile';

function readProfile(dir: string): CpuProfile {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile in ${dir}`);
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
}

async function profiled(what: string, task: (plugin: string) => Promise<number>, top: number): Promise<ProfileResult> {
  const profileDir = join(DIR, what.replace(/\W+/gu, '-'));
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const daemon = await startDaemonProcess(join(DIR, 'daemon'), { profileDir });
  const wallMs = await task(daemon.plugin).then((ms) => (ms < 0 ? daemon.readyMs : ms));
  await daemon.stop();
  const summary = summariseProfile(readProfile(profileDir));
  return { what, wallMs: Math.round(wallMs), busyMs: summary.busyMs, functions: summary.functions.slice(0, top) };
}

/**
 * Ten joins on a bus of 49 members, profiled alone: the daemon runs in this process here (the same code as
 * `cantainer daemon`), so the profiler can be started after the bus is built. The client's share is in the profile.
 */
async function profiledJoins(top: number): Promise<ProfileResult> {
  const dir = join(DIR, 'in-process');
  rmSync(dir, { recursive: true, force: true });
  const daemon = await startDaemon({
    kernel: systemKernel({ netnsDir: join(dir, 'netns') }),
    socketPath: join(dir, 'plugin.sock'),
    stateDir: join(dir, 'state'),
    log: createLogger('error', () => undefined),
  });
  const plugin = daemon.server.socketPath;
  const network = newId();
  await post(plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(network));
  for (let i = 0; i < 49; i++) await joinMember(plugin, network);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const started = performance.now();
  for (let i = 0; i < 10; i++) await joinMember(plugin, network);
  const wallMs = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  await post(plugin, '/NetworkDriver.DeleteNetwork', d.network(network));
  await daemon.close();
  const summary = summariseProfile(profile as unknown as CpuProfile);
  return {
    what: '10 joins on a bus of 49 members (daemon and client in one process)',
    wallMs: Math.round(wallMs),
    busyMs: summary.busyMs,
    functions: summary.functions.slice(0, top),
  };
}

export async function measureProfiles(top: number, log: (line: string) => void): Promise<ProfileResult[]> {
  const start = await profiled('daemon start, to its first answer', () => Promise.resolve(-1), top);
  log(`profiled the start: ${start.busyMs} ms busy of ${start.wallMs} ms`);
  const joins = await profiledJoins(top);
  log(`profiled 10 joins at 50 members: ${joins.busyMs} ms busy of ${joins.wallMs} ms`);
  return [start, joins];
}
