// The Docker managed plugin: dist/pkg/plugin/ holds config.json and rootfs/ (the image's root), which
// `docker plugin create cantainer dist/pkg/plugin` takes and `docker plugin push` sends to a registry. The plugin
// runs the daemon on the host's network and PIDs and serves libnetwork on the socket Docker gives it. What must
// outlive the plugin (a disable, an upgrade, a dockerd restart) lives on the host: the buses' pinned namespaces
// and the control socket under the host's /run (a shared mount, so pins made in the plugin are the host's), the
// state under the host's /var/lib.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PLUGIN_SOCKET } from '../src/daemon/defaults.js';

/** Where the host's directories appear inside the plugin. Mount sources must exist, so these are the parents. */
const HOST_RUN = '/host/run';
const HOST_VAR_LIB = '/host/var/lib';

/** The socket's name in the plugin's /run/docker/plugins: the same name as the legacy plugin's socket. */
export const PLUGIN_SOCKET_NAME = DEFAULT_PLUGIN_SOCKET.split('/').pop() ?? 'cantainer.sock';

/**
 * Beyond Docker's default set: netlink routes and can-gw rules (NET_ADMIN), network namespaces and their pins
 * (SYS_ADMIN), loading can, can-raw, vxcan and can-gw (SYS_MODULE), and opening a member container's namespace
 * under /proc for `inspect` even when the container has capabilities the plugin lacks (SYS_PTRACE).
 */
export const PLUGIN_CAPABILITIES = ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_PTRACE'] as const;

interface PluginMount {
  readonly Name: string;
  readonly Description: string;
  readonly Settable: readonly string[];
  readonly Source: string;
  readonly Destination: string;
  readonly Type: 'bind';
  readonly Options: readonly string[];
}

interface PluginEnv {
  readonly Name: string;
  readonly Description: string;
  readonly Settable: readonly string[];
  readonly Value: string;
}

/** The plugin's config.json (Docker's "Plugin Config Version 1 of Plugin V2"). */
export interface PluginConfig {
  readonly Description: string;
  readonly Documentation: string;
  readonly Interface: { readonly Types: readonly string[]; readonly Socket: string };
  readonly Entrypoint: readonly string[];
  readonly WorkDir: string;
  readonly Network: { readonly Type: 'host' };
  readonly PidHost: boolean;
  readonly Linux: { readonly Capabilities: readonly string[] };
  readonly Mounts: readonly PluginMount[];
  readonly PropagatedMount: string;
  readonly Env: readonly PluginEnv[];
}

/**
 * Docker makes a plugin's root shared (rather than a slave of the host's) only for a plugin with a propagated
 * mount; without it, mounts made inside would never reach the host, shared options or not. This one is that
 * mount, and nothing is kept in it.
 */
const PROPAGATED = '/propagated';

export function pluginConfig(version: string): PluginConfig {
  const fixed = (Name: string, Value: string, Description: string): PluginEnv => ({ Name, Description, Settable: [], Value });
  return {
    Description: `cantainer ${version}: virtual CAN buses for containers (docker network create -d cantainer NAME)`,
    Documentation: 'man cantainer, cantainer --help, and the README of the cantainer package',
    Interface: { Types: ['docker.networkdriver/1.0'], Socket: PLUGIN_SOCKET_NAME },
    Entrypoint: ['/usr/bin/cantainer', 'daemon'],
    WorkDir: '/',
    Network: { Type: 'host' },
    // `inspect` finds a member's interface name in its container's namespace, under the host's /proc/PID.
    PidHost: true,
    Linux: { Capabilities: [...PLUGIN_CAPABILITIES] },
    Mounts: [
      {
        Name: 'run',
        Description: "the host's /run, shared: the buses' namespace pins and the control socket under /run/cantainer",
        Settable: ['source'],
        Source: '/run',
        Destination: HOST_RUN,
        Type: 'bind',
        // Recursive and shared both ways: pins made here reach the host, and the host's unmounts (Docker's
        // container namespaces under /run/docker/netns) reach this copy, so nothing is held here.
        Options: ['rbind', 'rshared'],
      },
      {
        Name: 'state',
        Description: "the host's /var/lib: the state in /var/lib/cantainer outlives the plugin, its upgrades and its removal",
        Settable: ['source'],
        Source: '/var/lib',
        Destination: HOST_VAR_LIB,
        Type: 'bind',
        // Not recursive: no copy of what is mounted below (Docker's own layers) is held by the plugin.
        Options: ['bind', 'rw'],
      },
      {
        Name: 'modules',
        Description: "the host's kernel modules, for modprobe of can, can-raw, vxcan and can-gw",
        Settable: ['source'],
        Source: '/lib/modules',
        Destination: '/lib/modules',
        Type: 'bind',
        Options: ['rbind', 'ro'],
      },
    ],
    PropagatedMount: PROPAGATED,
    Env: [
      { Name: 'CANTAINER_LOG_LEVEL', Description: 'debug, info, warn or error', Settable: ['value'], Value: 'info' },
      {
        Name: 'CANTAINER_METRICS_LISTEN',
        Description: 'serve Prometheus metrics at /metrics: PORT (127.0.0.1), HOST:PORT, or unix:/PATH; empty: off',
        Settable: ['value'],
        Value: '',
      },
      {
        Name: 'CANTAINER_VERIFY_EVERY',
        Description: 'seconds between checks of every bus against the kernel',
        Settable: ['value'],
        Value: '30',
      },
      fixed('CANTAINER_STATE_DIR', `${HOST_VAR_LIB}/cantainer`, "the state, in the host's /var/lib/cantainer"),
      fixed('CANTAINER_NETNS_DIR', `${HOST_RUN}/cantainer/netns`, "the buses' namespace pins, in the host's /run/cantainer/netns"),
      fixed('CANTAINER_HOST_NETNS_DIR', '/run/cantainer/netns', 'the same pins as the host sees them, for the commands run there'),
      fixed(
        'CANTAINER_CONTROL_SOCKET',
        `${HOST_RUN}/cantainer/control.sock`,
        "the control socket, at the host's /run/cantainer/control.sock",
      ),
      fixed('CANTAINER_DOCKER_SOCKET', `${HOST_RUN}/docker.sock`, "Docker's API, for the names of networks and containers"),
    ],
  };
}

export interface PluginResult {
  /** The directory `docker plugin create NAME DIR` takes. */
  readonly dir: string;
  readonly config: PluginConfig;
  /** What the directory holds, in bytes. */
  readonly bytes: number;
}

/** Writes dist/pkg/plugin/: config.json, and the image's root moved into rootfs/ (the same files, not a copy). */
export function buildPlugin(out: string, version: string, imageRootfs: string): PluginResult {
  const dir = join(out, 'plugin');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const config = pluginConfig(version);
  // The mount points, made here rather than left to the runtime.
  for (const point of [...config.Mounts.map((mount) => mount.Destination), PROPAGATED, '/run/docker/plugins'])
    mkdirSync(join(imageRootfs, point), { recursive: true });
  renameSync(imageRootfs, join(dir, 'rootfs'));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const bytes = Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
  return { dir, config, bytes };
}
