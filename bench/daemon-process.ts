// The cantainer daemon as its own process, as it runs on a host: started, waited for, measured, stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dockerRequests as d, post, type PluginAnswer } from '../test/support/plugin-client.js';
import { stopChild } from '../test/support/child.js';
import { systemKernel } from '../src/kernel/index.js';
import { CURRENT_NETNS } from '../src/kernel/port.js';

export interface DaemonProcess {
  readonly dir: string;
  readonly plugin: string;
  readonly control: string;
  readonly netnsDir: string;
  readonly child: ChildProcess;
  /** Resident memory now, in bytes (VmRSS). */
  rss(): number;
  stop(): Promise<void>;
}

export function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/mu.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/**
 * Asks until a plugin socket answers `request` (Plugin.Activate, Docker's first); returns the milliseconds since
 * `started`.
 */
export async function firstAnswer(
  socket: string,
  started: number,
  timeoutMs = 60_000,
  request: { readonly path: string; readonly body?: object } = { path: '/Plugin.Activate' },
): Promise<number> {
  for (;;) {
    if (existsSync(socket)) {
      try {
        const answer = await post(socket, request.path, request.body, timeoutMs);
        if (answer.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
    }
    if (performance.now() - started > timeoutMs) throw new Error(`${socket} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Starts `cantainer daemon` with its sockets, state and namespaces under `dir`; resolves once it answers. */
export async function startDaemonProcess(
  dir: string,
  options: { fresh?: boolean; metricsListen?: string; profileDir?: string; executable?: string } = {},
): Promise<DaemonProcess & { coldStartMs: number; readyMs: number }> {
  if (options.fresh !== false) rmSync(join(dir, 'state'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const paths = { dir, plugin: join(dir, 'plugin.sock'), control: join(dir, 'control.sock'), netnsDir: join(dir, 'netns') };
  const started = performance.now();
  // The checkout run by this node, or the self-contained executable `npm run package` built.
  const program = options.executable ?? process.execPath;
  const prefix =
    options.executable === undefined
      ? [...(options.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.profileDir]), 'bin/cantainer']
      : [];
  const child = spawn(
    program,
    [
      ...prefix,
      'daemon',
      '--log-level',
      'warn',
      '--socket',
      paths.plugin,
      '--control-socket',
      paths.control,
      '--state-dir',
      join(dir, 'state'),
      '--netns-dir',
      paths.netnsDir,
      '--docker-socket',
      join(dir, 'no-docker.sock'),
      ...(options.metricsListen === undefined ? [] : ['--metrics-listen', options.metricsListen]),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const coldStartMs = await firstAnswer(paths.plugin, started);
  // Ready: a request that needs the buses (the daemon answers Activate before it has wired them) is answered.
  const readyMs = await firstAnswer(paths.plugin, started, 60_000, {
    path: '/NetworkDriver.EndpointOperInfo',
    body: d.endpoint(newId(), newId()),
  });
  return {
    ...paths,
    child,
    coldStartMs,
    readyMs,
    rss: () => rssOf(child.pid ?? 0),
    stop: () => stopChild(child, 'SIGTERM'),
  };
}

const engine = systemKernel({ netnsDir: '/run/cantainer-bench/containers' });

/**
 * Does what Docker does after Join: moves the member's end into the container's namespace (one namespace stands in
 * for all containers here; the ends' names are unique). Without it the daemon would, rightly, drop members whose
 * end is never taken.
 */
export function engineTakes(joined: PluginAnswer, into?: { readonly path: string; readonly name: string }): void {
  const name = (joined.body.InterfaceName as { SrcName?: unknown } | undefined)?.SrcName;
  if (typeof name !== 'string') throw new Error(`Join answered no interface: ${JSON.stringify(joined.body)}`);
  if (into === undefined && !engine.namespaces.exists('containers')) engine.namespaces.create('containers');
  const target = into === undefined ? engine.owned('containers') : { label: into.name, path: into.path };
  const host = engine.route(CURRENT_NETNS);
  try {
    host.moveLink(name, target, into?.name);
  } finally {
    host.close();
  }
  if (into === undefined) return;
  // As the engine does in a container: the interface under its name, up.
  const there = engine.route(target);
  try {
    there.setLinkUp(into.name, true);
  } finally {
    there.close();
  }
}

/** A network or endpoint id as Docker makes them: 64 hex digits. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** CreateEndpoint and Join as Docker sends them, then the engine's move of the end; returns the endpoint id. */
export async function joinMember(
  plugin: string,
  network: string,
  into?: { readonly path: string; readonly name: string },
): Promise<string> {
  const endpoint = newId();
  const created = await post(plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(network, endpoint));
  if (created.status !== 200) throw new Error(`CreateEndpoint: ${JSON.stringify(created.body)}`);
  const joined = await post(plugin, '/NetworkDriver.Join', d.join(network, endpoint));
  if (joined.status !== 200) throw new Error(`Join: ${JSON.stringify(joined.body)}`);
  engineTakes(joined, into);
  return endpoint;
}

/** A namespace standing in for a container a CNI runtime made: its path, and its removal. */
export function containerNamespace(name: string): { readonly path: string; remove(): void } {
  const path = engine.namespaces.create(name);
  return { path, remove: () => void engine.namespaces.delete(name) };
}
