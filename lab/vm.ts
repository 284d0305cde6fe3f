// Boots Debian's kernel in QEMU with this machine's root filesystem shared read-only, runs one shell script in
// the guest and returns its output and exit status. One VM per call; every VM runs under a timeout and is killed
// by its own pid when the call ends, fails or the calling process exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabArtefacts } from './artefacts.js';

export type Accelerator = 'tcg' | 'kvm';

export interface LabRunOptions {
  /** Shell script run by /bin/sh in the guest, as root, in `cwd`. */
  readonly script: string;
  /** Guest working directory; the host's paths are the guest's paths. Defaults to the current directory. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Give up when the guest has not reached its first command by then (default 60 s; a boot takes 5-10 s). */
  readonly bootTimeoutMs?: number;
  readonly accel: Accelerator;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /**
   * Another root filesystem for the guest (lab/roots.ts) instead of this machine's, which is then shared beside it
   * at /host: the checkout is bound at its own path and this machine's node is on the PATH, so tests run as usual.
   */
  readonly root?: string;
  /**
   * Where files the guest writes to $CANTAINER_ARTIFACTS (screenshots, pictures) are copied when the run ends; the
   * guest's own files are gone with it.
   */
  readonly artifactsDir?: string;
  /** Receives the guest console (kernel messages and the script's output) as it arrives. */
  readonly onConsole?: (text: string) => void;
}

export interface LabRunResult {
  /** The script's exit status; null when it never finished (timeout, crash). */
  readonly status: number | null;
  /** The script's standard output and error, interleaved. */
  readonly output: string;
  readonly console: string;
  readonly timedOut: boolean;
  /** The guest never reached its first command: the VM was killed by the boot watchdog or QEMU failed. */
  readonly bootFailed: boolean;
  /** Milliseconds from starting QEMU to the guest's first command. */
  readonly bootMs: number | undefined;
  readonly totalMs: number;
}

const READY_MARKER = 'CANTAINER_LAB_READY';

function shellQuote(value: string): string {
  return `'${value.replace(/'/gu, `'\\''`)}'`;
}

/** Where the guest sees the job share's artefacts folder. */
const GUEST_ARTIFACTS = '/run/lab/artifacts';

function jobScript(options: LabRunOptions): string {
  const env = { ...(options.artifactsDir === undefined ? {} : { CANTAINER_ARTIFACTS: GUEST_ARTIFACTS }), ...options.env };
  const exports = Object.entries(env).map(([key, value]) => `export ${key}=${shellQuote(value)}`);
  const cwd = shellQuote(options.cwd ?? process.cwd());
  const host =
    options.root === undefined
      ? []
      : [
          `mkdir -p ${cwd} /usr/local/bin && mount --bind /host${cwd} ${cwd} && ln -sf /host${process.execPath} /usr/local/bin/node || exit 125`,
        ];
  return ['set -u', ...exports, ...host, `cd ${cwd} || exit 125`, options.script, ''].join('\n');
}

export function qemuArguments(
  artefacts: LabArtefacts,
  jobDir: string,
  options: Pick<LabRunOptions, 'accel' | 'memoryMb' | 'cpus' | 'root'>,
): string[] {
  const accel = options.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  const share = (path: string, tag: string, readonly: boolean): string[] => [
    '-virtfs',
    `local,path=${path},mount_tag=${tag},security_model=none,multidevs=remap${readonly ? ',readonly=on' : ''}`,
  ];
  return [
    ...accel,
    '-m',
    String(options.memoryMb ?? 2048),
    '-smp',
    String(options.cpus ?? 2),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    artefacts.vmlinuz,
    '-initrd',
    artefacts.initrd,
    '-append',
    'console=ttyS0 quiet loglevel=3 panic=-1',
    ...share(options.root ?? '/', 'hostroot', true),
    ...(options.root === undefined ? [] : share('/', 'host', true)),
    ...share(artefacts.modulesDir, 'modules', true),
    ...share(jobDir, 'job', false),
  ];
}

const running = new Set<number>();
let exitHookInstalled = false;

function killRunning(): void {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killRunning);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killRunning();
      process.kill(process.pid, signal);
    });
  }
}

export async function runInLab(artefacts: LabArtefacts, guestDir: string, options: LabRunOptions): Promise<LabRunResult> {
  const jobDir = mkdtempSync(join(tmpdir(), 'cantainer-lab-'));
  writeFileSync(join(jobDir, 'job.sh'), jobScript(options));
  copyFileSync(join(guestDir, 'stage2.sh'), join(jobDir, 'stage2.sh'));
  installExitHook();
  const started = Date.now();
  const child = spawn('qemu-system-x86_64', qemuArguments(artefacts, jobDir, options), { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid !== undefined) running.add(pid);
  let consoleText = '';
  let bootMs: number | undefined;
  // Decoded as streams so that a character split across two reads stays whole.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const onData = (text: string): void => {
    consoleText += text;
    if (bootMs === undefined && consoleText.includes(READY_MARKER)) bootMs = Date.now() - started;
    options.onConsole?.(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const bootWatchdog = setTimeout(() => {
    if (bootMs === undefined) child.kill('SIGKILL');
  }, options.bootTimeoutMs ?? 60_000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', () => {
        resolve();
      });
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(bootWatchdog);
    if (pid !== undefined) running.delete(pid);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  try {
    const statusFile = join(jobDir, 'status');
    const status = existsSync(statusFile) ? Number.parseInt(readFileSync(statusFile, 'utf8'), 10) : null;
    const outputFile = join(jobDir, 'output');
    const output = existsSync(outputFile) ? readFileSync(outputFile, 'utf8') : '';
    const artifacts = join(jobDir, 'artifacts');
    if (options.artifactsDir !== undefined && existsSync(artifacts)) {
      mkdirSync(options.artifactsDir, { recursive: true });
      for (const name of readdirSync(artifacts)) copyFileSync(join(artifacts, name), join(options.artifactsDir, name));
    }
    return {
      status: Number.isNaN(status) ? null : status,
      output,
      console: consoleText,
      timedOut,
      bootFailed: bootMs === undefined,
      bootMs,
      totalMs: Date.now() - started,
    };
  } finally {
    rmSync(jobDir, { recursive: true, force: true });
  }
}
