// `cantainer doctor` and `cantainer repair`: what stands between this host and working buses, each finding with
// the command that fixes it; and the fix for drift between the state and the kernel.
import { existsSync, lstatSync } from 'node:fs';
import { request } from 'node:http';
import type { Command } from 'commander';
import { preflight } from '../kernel/preflight.js';
import { DEFAULT_CONTROL_SOCKET, type BusEntry } from '../control/protocol.js';
import { DEFAULT_PLUGIN_SOCKET } from '../daemon/defaults.js';
import { DEFAULT_DOCKER_SOCKET } from '../docker/names.js';
import { callDaemon, CONTROL_SOCKET_OPTION, controlSocketPath } from './client.js';
import type { CliIo } from './output.js';
import { errorMessage } from '../errors.js';

export interface Finding {
  readonly check: string;
  readonly state: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  readonly fix?: string;
}

function dockerPing(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 3_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(false);
    });
    req.end();
  });
}

async function diagnose(options: { controlSocket?: string; socket: string; dockerSocket: string }): Promise<Finding[]> {
  const findings: Finding[] = [];
  const kernel = preflight();
  findings.push(
    kernel.ok
      ? {
          check: 'kernel',
          state: 'ok',
          detail: `${kernel.kernelRelease}: CAN modules ready, can_gw max_hops ${kernel.maxHops ?? 'unknown until can_gw loads'}`,
        }
      : { check: 'kernel', state: 'fail', detail: `${kernel.kernelRelease}: required CAN modules missing`, fix: kernel.fixes.join('; ') },
  );
  const control = controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET);
  let buses: BusEntry[] | undefined;
  try {
    const status = await callDaemon(control, 'Daemon.Status', {}, 10_000);
    findings.push({
      check: 'daemon',
      state: 'ok',
      detail: `cantainer ${status.version}, pid ${status.pid}, ${status.buses} bus${status.buses === 1 ? '' : 'es'}`,
    });
    findings.push(
      status.stateProblem === undefined
        ? { check: 'state', state: 'ok', detail: `${status.stateFile ?? 'state file'} read at start` }
        : {
            check: 'state',
            state: 'fail',
            detail: status.stateProblem,
            fix: 'networks of the unreadable state are not rewired: remove and create them again (docker network rm, docker network create)',
          },
    );
    buses = (await callDaemon(control, 'Bus.List', {}, 10_000)).buses;
  } catch (error) {
    findings.push({
      check: 'daemon',
      state: 'fail',
      detail: errorMessage(error),
      fix: 'systemctl start cantainer.socket cantainer.service (or run: cantainer daemon)',
    });
  }
  const plugin = existsSync(options.socket) && lstatSync(options.socket).isSocket();
  findings.push(
    plugin
      ? { check: 'plugin socket', state: 'ok', detail: `${options.socket}: Docker finds the driver there` }
      : {
          check: 'plugin socket',
          state: 'fail',
          detail: `${options.socket} is not there: Docker cannot reach the driver`,
          fix: 'systemctl start cantainer.socket (or start the daemon with --socket)',
        },
  );
  findings.push(
    (await dockerPing(options.dockerSocket))
      ? { check: 'docker', state: 'ok', detail: `Docker answers on ${options.dockerSocket}` }
      : {
          check: 'docker',
          state: 'warn',
          detail: `Docker does not answer on ${options.dockerSocket}: buses keep their network ids as names until it does`,
          fix: 'systemctl start docker (or --docker-socket PATH)',
        },
  );
  for (const bus of buses ?? []) {
    const inspected = await callDaemon(control, 'Bus.Inspect', { bus: bus.id }, 10_000);
    findings.push(
      inspected.drift.length === 0
        ? { check: `bus ${bus.name}`, state: 'ok', detail: `${bus.members} members; the kernel holds exactly the plan` }
        : { check: `bus ${bus.name}`, state: 'fail', detail: `drift: ${inspected.drift.join('; ')}`, fix: `cantainer repair ${bus.name}` },
    );
  }
  return findings;
}

export function registerDoctorCommands(program: Command, io: CliIo, status: { code: number }): void {
  program
    .command('doctor')
    .description(
      'check what buses need: the kernel modules, the daemon, its state, the plugin socket, Docker, and drift of every bus; each problem with the command that fixes it (exit status 1 when one fails)',
    )
    .option('--json', 'print the findings as JSON')
    .option('--socket <path>', "Docker's plugin socket of the daemon", DEFAULT_PLUGIN_SOCKET)
    .option('--docker-socket <path>', "Docker's API socket", DEFAULT_DOCKER_SOCKET)
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (options: { json?: boolean; socket: string; dockerSocket: string; controlSocket?: string }) => {
      const findings = await diagnose(options);
      if (options.json === true) io.out(`${JSON.stringify(findings, null, 2)}\n`);
      else
        for (const f of findings)
          io.out(`${f.state.toUpperCase().padEnd(5)} ${f.check}: ${f.detail}${f.fix === undefined ? '' : `\n      fix: ${f.fix}`}\n`);
      if (findings.some((f) => f.state === 'fail')) status.code = 1;
    });

  program
    .command('repair')
    .description(
      "make the kernel match a bus's plan now (what the daemon also does at its next change or restart), and say what was changed",
    )
    .argument('<bus>', 'the bus (its network name)')
    .option(...CONTROL_SOCKET_OPTION)
    .action(async (name: string, options: { controlSocket?: string }) => {
      const answer = await callDaemon(controlSocketPath(options.controlSocket, DEFAULT_CONTROL_SOCKET), 'Bus.Repair', { bus: name });
      io.out(
        answer.changes.length === 0
          ? `bus ${answer.bus}: nothing to repair\n`
          : `bus ${answer.bus}: ${answer.changes.length} change${answer.changes.length === 1 ? '' : 's'}\n${answer.changes.map((c) => `  ${c}`).join('\n')}\n`,
      );
    });
}
