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
  /** The distribution, from /etc/os-release: its ID and the IDs it is like (ubuntu; debian), for the package advice. */
  readonly distribution?: readonly string[];
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

/** What may follow a module's file name in an index: a compression suffix, and in modules.dep a colon. */
const AFTER_NAME = /^(\.[a-z]+)?:?$/u;

function listsModule(index: string, module: string): boolean {
  // Index lines name files such as kernel/net/can/can-gw.ko(.xz); module names use "_" where files may use "-".
  // Searched as plain text: modules.dep is large, and the daemon reads it on every start.
  for (const name of new Set([module, module.replace(/_/gu, '-')])) {
    const needle = `/${name}.ko`;
    for (let at = index.indexOf(needle); at >= 0; at = index.indexOf(needle, at + 1)) {
      const start = at + needle.length;
      let end = start;
      while (end < index.length && !/\s/u.test(index[end] ?? '')) end++;
      if (AFTER_NAME.test(index.slice(start, end))) return true;
    }
  }
  return false;
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
  const file = (m: ModuleReport): string => m.module.replace(/_/gu, '-');
  const toLoad = modules.filter((m) => m.required && m.state === 'loadable').map(file);
  if (toLoad.length > 0) fixes.push(`modprobe -a ${toLoad.join(' ')}`);
  const optional = modules.filter((m) => !m.required && m.state === 'loadable').map(file);
  if (optional.length > 0) fixes.push(`modprobe -a ${optional.join(' ')}  (optional: ${OPTIONAL_USE})`);
  const advice = kernelAdvice(facts.kernelRelease, facts.distribution ?? []);
  const missing = modules.filter((m) => m.required && m.state === 'missing').map((m) => m.module);
  if (missing.length > 0) fixes.push(`kernel ${facts.kernelRelease} has no ${missing.join(', ')}: ${advice}`);
  const missingOptional = modules.filter((m) => !m.required && m.state === 'missing').map((m) => m.module);
  if (missingOptional.length > 0)
    fixes.push(`kernel ${facts.kernelRelease} has no ${missingOptional.join(', ')} (optional: ${OPTIONAL_USE}): ${advice}`);
  const ok = modules.every((m) => !m.required || m.state !== 'missing');
  return { kernelRelease: facts.kernelRelease, modules, maxHops: facts.maxHops, ok, fixes };
}

/** What the optional module is for. */
const OPTIONAL_USE = 'only ISO-TP and UDS tools in containers need it';

/** How to get a kernel with the CAN modules, in the words of the distribution it runs on. */
export function kernelAdvice(kernelRelease: string, distribution: readonly string[]): string {
  const is = (id: string): boolean => distribution.includes(id);
  if (is('ubuntu')) return `apt-get install linux-modules-extra-${kernelRelease}, then run this again`;
  if (is('debian'))
    return "Debian's standard kernel has them: apt-get install linux-image-$(dpkg --print-architecture) and boot it (the cloud kernel has no CAN)";
  if (is('fedora') || is('rhel') || is('centos')) return `dnf install kernel-modules-extra-${kernelRelease}, then run this again`;
  if (is('arch')) return "Arch's standard kernel has them: pacman -S linux and boot it";
  return 'use a kernel built with CONFIG_CAN_VCAN, CONFIG_CAN_VXCAN, CONFIG_CAN_GW and CONFIG_CAN_RAW';
}

/** The ID and ID_LIKE words of an os-release file. */
export function parseOsRelease(text: string): string[] {
  const value = (key: string): string =>
    new RegExp(`^${key}=(.*)$`, 'mu')
      .exec(text)?.[1]
      ?.replace(/^["']|["']$/gu, '')
      .trim() ?? '';
  return [value('ID'), ...value('ID_LIKE').split(/\s+/u)].filter((word) => word !== '').map((word) => word.toLowerCase());
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
    distribution: parseOsRelease(readOr(join(root, 'etc', 'os-release'), '')),
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
