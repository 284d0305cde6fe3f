// Preflight: which CAN modules this kernel has (loaded, built in, loadable or missing), the can-gw hop limit, and
// the exact command that fixes what is missing. Reading the facts is the only side effect; judging them is pure.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { CantainerError, errorMessage } from '../errors.js';

export const CAN_MODULES = ['vcan', 'vxcan', 'can_gw', 'can_raw', 'can_isotp'] as const;
export type CanModule = (typeof CAN_MODULES)[number];

/** Modules every bus needs; can_isotp is reported but optional. */
const REQUIRED: readonly CanModule[] = ['vcan', 'vxcan', 'can_gw', 'can_raw'];

export type ModuleState = 'loaded' | 'builtin' | 'loadable' | 'missing';

export interface PreflightFacts {
  readonly kernelRelease: string;
  readonly loaded: ReadonlySet<string>;
  /** Contents of modules.builtin and modules.dep of the running kernel ('' when absent). */
  readonly modulesBuiltin: string;
  readonly modulesDep: string;
  /** /sys/module/can_gw/parameters/max_hops, when can_gw is loaded. */
  readonly maxHops: number | undefined;
}

export interface ModuleReport {
  readonly module: CanModule;
  readonly state: ModuleState;
  readonly required: boolean;
}

export interface PreflightReport {
  readonly kernelRelease: string;
  readonly modules: readonly ModuleReport[];
  readonly maxHops: number | undefined;
  /** True when every required module is usable. */
  readonly ok: boolean;
  /** Commands that fix what is missing or not loaded, in order. */
  readonly fixes: readonly string[];
}

function listsModule(index: string, module: string): boolean {
  // Index lines name files such as kernel/net/can/can-gw.ko(.xz); module names use "_" where files may use "-".
  const pattern = new RegExp(`/${module.replace(/_/gu, '[-_]')}\\.ko(\\.[a-z]+)?:?(\\s|$)`, 'mu');
  return pattern.test(index);
}

export function judgePreflight(facts: PreflightFacts): PreflightReport {
  const modules = CAN_MODULES.map((module): ModuleReport => {
    const state: ModuleState = facts.loaded.has(module)
      ? 'loaded'
      : listsModule(facts.modulesBuiltin, module)
        ? 'builtin'
        : listsModule(facts.modulesDep, module)
          ? 'loadable'
          : 'missing';
    return { module, state, required: REQUIRED.includes(module) };
  });
  const fixes: string[] = [];
  const toLoad = modules.filter((m) => m.state === 'loadable').map((m) => m.module.replace(/_/gu, '-'));
  if (toLoad.length > 0) fixes.push(`modprobe -a ${toLoad.join(' ')}`);
  if (modules.some((m) => m.state === 'missing')) {
    const names = modules
      .filter((m) => m.state === 'missing')
      .map((m) => m.module)
      .join(', ');
    fixes.push(
      `kernel ${facts.kernelRelease} has no ${names}: use a kernel built with them (Debian's and Ubuntu's are; on Ubuntu: apt-get install linux-modules-extra-${facts.kernelRelease})`,
    );
  }
  const ok = modules.every((m) => !m.required || m.state !== 'missing');
  return { kernelRelease: facts.kernelRelease, modules, maxHops: facts.maxHops, ok, fixes };
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export function readPreflightFacts(root = '/'): PreflightFacts {
  const kernelRelease = release();
  const moduleDir = join(root, 'lib', 'modules', kernelRelease);
  const loaded = new Set(
    CAN_MODULES.filter(
      (module) => existsSync(join(root, 'sys', 'module', module, 'initstate')) || existsSync(join(root, 'sys', 'module', module, 'refcnt')),
    ),
  );
  const hops = Number.parseInt(readOr(join(root, 'sys', 'module', 'can_gw', 'parameters', 'max_hops'), ''), 10);
  return {
    kernelRelease,
    loaded,
    modulesBuiltin: readOr(join(moduleDir, 'modules.builtin'), ''),
    modulesDep: readOr(join(moduleDir, 'modules.dep'), ''),
    maxHops: Number.isNaN(hops) ? undefined : hops,
  };
}

export function preflight(): PreflightReport {
  return judgePreflight(readPreflightFacts());
}

export function formatPreflight(report: PreflightReport): string {
  const lines = [`kernel ${report.kernelRelease}`];
  for (const m of report.modules) lines.push(`  ${m.module.padEnd(10)} ${m.state}${m.required ? '' : ' (optional)'}`);
  lines.push(`  can_gw max_hops: ${report.maxHops ?? 'unknown (can_gw not loaded)'}`);
  lines.push(report.ok ? 'ready' : 'NOT READY: required CAN modules are missing');
  for (const fix of report.fixes) lines.push(`fix: ${fix}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Loads the required CAN modules that are loadable but not loaded (can-gw is not loaded on demand by the kernel),
 * with modprobe. Returns the modules it loaded; throws with modprobe's message when that fails.
 */
export function loadRequiredModules(report: PreflightReport = preflight()): string[] {
  const toLoad = report.modules.filter((m) => m.required && m.state === 'loadable').map((m) => m.module.replace(/_/gu, '-'));
  if (toLoad.length === 0) return [];
  try {
    execFileSync('modprobe', ['-a', ...toLoad], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new CantainerError(
      'EMODULE',
      `loading ${toLoad.join(', ')}: ${stderr === undefined || stderr === '' ? errorMessage(error) : stderr}`,
      { hint: `run: modprobe -a ${toLoad.join(' ')}` },
    );
  }
  return toLoad;
}
