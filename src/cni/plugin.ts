// The CNI plugin: each verb of the specification asked of the cantainer daemon over its control socket, so that a
// container of a CNI runtime (Podman 4, containerd, CRI-O, Multus) joins the same buses, with the same state and
// reconciler, as Docker's. The plugin only parses, checks and translates; it never touches the kernel itself.
import { CantainerError, errorMessage } from '../errors.js';
import { callDaemon, START_DAEMON, type DaemonCall } from '../control/client.js';
import { CONTAINER_ANNOTATION, CONTROL_SOCKET_ENV, DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import type { ControlAnswer, ControlMethod, ControlRequest } from '../control/protocol.js';
import {
  addResult,
  attachmentMemberId,
  CNI_ERROR,
  CniError,
  LATEST_VERSION,
  parseEnvironment,
  parseNetworkConfig,
  SUPPORTED_VERSIONS,
  type CniEnvironment,
  type NetworkConfig,
} from './spec.js';

/** What one call prints on stdout and exits with. */
export interface CniOutcome {
  readonly stdout: string;
  readonly exitCode: number;
  /** A line for the runtime's log (plugins' standard error), when something is worth saying beside the result. */
  readonly stderr?: string;
}

/** Member annotations that say which attachment a member is. */
export const ATTACHMENT = { origin: 'origin', container: 'cni.container', ifname: 'cni.ifname', network: 'cni.network' } as const;

/** CNI_ARGS keys this plugin reads; others are refused unless IgnoreUnknown is set (as the conventions ask). */
const ARG_KEYS = new Set(['send', 'receive', 'IgnoreUnknown']);

function checkArgs(args: Readonly<Record<string, string>>): void {
  const ignore = ['1', 'true'].includes((args.IgnoreUnknown ?? '').toLowerCase());
  for (const key of Object.keys(args)) {
    if (ARG_KEYS.has(key) || ignore || key.startsWith('K8S_')) continue;
    throw new CniError(
      CNI_ERROR.unsupportedField,
      `CNI_ARGS: unsupported key ${JSON.stringify(key)} (value ${JSON.stringify(args[key])}); this plugin reads send and receive (IgnoreUnknown=1 lets others through)`,
    );
  }
}

function socketOf(config: NetworkConfig, env: Readonly<Record<string, string | undefined>>): string {
  return config.controlSocket ?? env[CONTROL_SOCKET_ENV] ?? DEFAULT_CONTROL_SOCKET;
}

/** The daemon's errors in CNI terms: unreachable is "try again later" and says how to start it. */
function fromDaemon(error: unknown, socket: string, unreachableCode: number = CNI_ERROR.tryAgainLater): CniError {
  if (error instanceof CantainerError && error.code === 'ENODAEMON') {
    return new CniError(
      unreachableCode,
      `${error.message}: start it (${START_DAEMON}), or name its socket with "controlSocket" in the network configuration`,
      `socket ${socket}`,
    );
  }
  if (error instanceof CantainerError)
    return new CniError(error.code === 'EINVALIDVALUE' ? CNI_ERROR.invalidConfig : CNI_ERROR.refused, error.message, error.code);
  return new CniError(CNI_ERROR.io, errorMessage(error));
}

async function ask<M extends ControlMethod>(
  call: DaemonCall,
  socket: string,
  method: M,
  body: ControlRequest<M>,
  unreachableCode?: number,
): Promise<ControlAnswer<M>> {
  try {
    return await call(socket, method, body);
  } catch (error) {
    throw fromDaemon(error, socket, unreachableCode);
  }
}

/** What people call the container: the pod (Kubernetes runtimes say which in CNI_ARGS), else the id's first 12 characters. */
function containerLabel(containerId: string, args: Readonly<Record<string, string>>): string {
  const pod = args.K8S_POD_NAME;
  if (pod !== undefined && pod !== '') return args.K8S_POD_NAMESPACE === undefined ? pod : `${args.K8S_POD_NAMESPACE}/${pod}`;
  return containerId.slice(0, 12);
}

async function add(env: CniEnvironment, config: NetworkConfig, socket: string, call: DaemonCall): Promise<string> {
  const containerId = env.containerId ?? '';
  const ifname = env.ifname ?? '';
  const netns = env.netns ?? '';
  const answer = await ask(call, socket, 'Member.Attach', {
    bus: config.bus,
    create: true,
    ...(config.fd === undefined ? {} : { fd: config.fd }),
    ...(config.bitrate === undefined ? {} : { bitrate: config.bitrate }),
    ...(config.dbitrate === undefined ? {} : { dbitrate: config.dbitrate }),
    member: attachmentMemberId(containerId, ifname),
    netns,
    interface: ifname,
    ...(config.send === undefined ? {} : { send: config.send }),
    ...(config.receive === undefined ? {} : { receive: config.receive }),
    ...(config.span === undefined ? {} : { span: config.span }),
    annotations: {
      [ATTACHMENT.origin]: 'cni',
      [ATTACHMENT.container]: containerId,
      [ATTACHMENT.ifname]: ifname,
      [ATTACHMENT.network]: config.name,
      [CONTAINER_ANNOTATION]: containerLabel(containerId, env.args),
    },
    busAnnotations: { [ATTACHMENT.origin]: 'cni' },
  });
  return JSON.stringify(addResult(config.cniVersion, config.prevResult, { name: ifname, netns, mtu: answer.mtu }));
}

/**
 * Removes the attachment. The specification asks DEL to succeed whenever it can, so that a runtime can always tear
 * a container down: with the daemon down it succeeds and says so (the returned note); the daemon drops the member
 * itself when it comes back, its namespace being gone by then.
 */
async function del(env: CniEnvironment, config: NetworkConfig, socket: string, call: DaemonCall): Promise<string | undefined> {
  const member = attachmentMemberId(env.containerId ?? '', env.ifname ?? '');
  try {
    await call(socket, 'Member.Detach', { bus: config.bus, member });
    return undefined;
  } catch (error) {
    if (!(error instanceof CantainerError && error.code === 'ENODAEMON')) throw fromDaemon(error, socket);
    return `cantainer: DEL of ${env.ifname ?? '?'} of container ${env.containerId ?? '?'} on bus ${config.bus} while the daemon is down (${error.message}): nothing to remove now; the daemon drops the member when it comes back`;
  }
}

async function check(env: CniEnvironment, config: NetworkConfig, socket: string, call: DaemonCall): Promise<string> {
  const ifname = env.ifname ?? '';
  const listed =
    Array.isArray(config.prevResult?.interfaces) &&
    (config.prevResult.interfaces as unknown[]).some(
      (entry) => typeof entry === 'object' && entry !== null && (entry as { name?: unknown }).name === ifname,
    );
  if (config.prevResult !== undefined && !listed)
    throw new CniError(CNI_ERROR.drift, `prevResult lists no interface ${ifname}: it is not what ADD returned`);
  const answer = await ask(call, socket, 'Member.Check', { bus: config.bus, member: attachmentMemberId(env.containerId ?? '', ifname) });
  const { problems } = answer;
  if (problems.length > 0)
    throw new CniError(CNI_ERROR.drift, `${ifname} of container ${env.containerId ?? ''} on bus ${config.bus}: ${problems.join('; ')}`);
  return '';
}

async function status(socket: string, call: DaemonCall): Promise<string> {
  await ask(call, socket, 'Daemon.Status', {}, CNI_ERROR.notAvailable);
  return '';
}

/** Removes this network's attachments the runtime no longer has. */
async function gc(config: NetworkConfig, socket: string, call: DaemonCall): Promise<string> {
  const valid = new Set((config.validAttachments ?? []).map((a) => attachmentMemberId(a.containerId, a.ifname)));
  const answer = await ask(call, socket, 'Member.List', { bus: config.bus, annotation: ATTACHMENT.container });
  for (const member of answer.members) {
    if (member.annotations[ATTACHMENT.network] !== config.name || valid.has(member.id)) continue;
    await ask(call, socket, 'Member.Detach', { bus: config.bus, member: member.id });
  }
  return '';
}

function version(stdin: string): string {
  let asked: unknown;
  try {
    asked = (JSON.parse(stdin === '' ? '{}' : stdin) as { cniVersion?: unknown }).cniVersion;
  } catch {
    asked = undefined;
  }
  const cniVersion = typeof asked === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(asked) ? asked : LATEST_VERSION;
  return JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS });
}

/** Runs one call of the plugin: never throws; errors come back as the specification's JSON with a non-zero exit. */
export async function runCni(
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
  call: DaemonCall = callDaemon,
): Promise<CniOutcome> {
  let cniVersion = LATEST_VERSION;
  try {
    const environment = parseEnvironment(env);
    if (environment.command === 'VERSION') return { stdout: `${version(stdin)}\n`, exitCode: 0 };
    checkArgs(environment.args);
    const config = parseNetworkConfig(stdin, environment.args);
    cniVersion = config.cniVersion;
    const socket = socketOf(config, env);
    let out: string;
    switch (environment.command) {
      case 'ADD':
        out = await add(environment, config, socket, call);
        break;
      case 'DEL': {
        const note = await del(environment, config, socket, call);
        if (note !== undefined) return { stdout: '', exitCode: 0, stderr: `${note}\n` };
        out = '';
        break;
      }
      case 'CHECK':
        out = await check(environment, config, socket, call);
        break;
      case 'STATUS':
        out = await status(socket, call);
        break;
      case 'GC':
        out = await gc(config, socket, call);
        break;
    }
    return { stdout: out === '' ? '' : `${out}\n`, exitCode: 0 };
  } catch (error) {
    const failure = error instanceof CniError ? error : new CniError(CNI_ERROR.io, `internal error: ${errorMessage(error)}`);
    return {
      stdout: `${JSON.stringify({ cniVersion, code: failure.code, msg: failure.message, ...(failure.details === undefined ? {} : { details: failure.details }) })}\n`,
      exitCode: 1,
    };
  }
}
