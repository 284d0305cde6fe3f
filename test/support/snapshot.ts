// What the kernel holds, by name, in a form tests compare with deepEqual: the links of the daemon's namespace and
// of every cantainer namespace ("name kind mtu up|down"), and the can-gw rules with link names for ifindexes.
import { CURRENT_NETNS, type KernelPort, type RoutePort } from '../../src/kernel/index.js';
import type { CanGwRule } from '../../src/netlink/cangw.js';
import type { BusPlan } from '../../src/bus/plan.js';

export interface NamespaceSnapshot {
  readonly links: string[];
  readonly rules: string[];
}

export interface KernelSnapshot {
  readonly host: NamespaceSnapshot;
  readonly namespaces: Record<string, NamespaceSnapshot>;
}

function ruleText(rule: Omit<CanGwRule, 'sourceIndex' | 'destinationIndex'>, source: string, destination: string): string {
  const flags = [
    rule.fd === true ? 'fd' : '',
    rule.echo === true ? 'e' : '',
    rule.allowToIncomingInterface === true ? 'i' : '',
    rule.hopLimit === undefined ? '' : `l${rule.hopLimit}`,
  ].filter(Boolean);
  const extras = [
    rule.filter === undefined ? '' : `filter ${rule.filter.id.toString(16)}:${rule.filter.mask.toString(16)}`,
    rule.modifications === undefined ? '' : `mods ${Object.keys(rule.modifications).join('+')}`,
    rule.xorChecksum === undefined ? '' : 'xor',
    rule.crc8Checksum === undefined ? '' : 'crc8',
  ].filter(Boolean);
  return [`${source}>${destination} ${flags.join(',')}`, ...extras].join(' ');
}

function snapshotOf(route: RoutePort): NamespaceSnapshot {
  const links = route.listLinks().filter((link) => link.name !== 'lo');
  const names = new Map(links.map((link) => [link.index, link.name]));
  return {
    links: links.map((link) => `${link.name} ${link.kind ?? '-'} ${link.mtu ?? '-'} ${link.up ? 'up' : 'down'}`).sort(),
    rules: route
      .listRules()
      .map(({ rule }) =>
        ruleText(
          rule,
          names.get(rule.sourceIndex) ?? `#${rule.sourceIndex}`,
          names.get(rule.destinationIndex) ?? `#${rule.destinationIndex}`,
        ),
      )
      .sort(),
  };
}

function withRoute<T>(route: RoutePort, fn: (route: RoutePort) => T): T {
  try {
    return fn(route);
  } finally {
    route.close();
  }
}

export function kernelSnapshot(kernel: KernelPort): KernelSnapshot {
  const namespaces: Record<string, NamespaceSnapshot> = {};
  for (const name of kernel.namespaces.list()) namespaces[name] = withRoute(kernel.route(kernel.owned(name)), snapshotOf);
  return { host: withRoute(kernel.route(CURRENT_NETNS), snapshotOf), namespaces };
}

/** The snapshot a bus namespace has when it holds exactly its plan, with every link up. */
export function planSnapshot(plan: BusPlan): NamespaceSnapshot {
  return {
    links: plan.links.map((link) => `${link.name} ${link.kind} ${plan.mtu} up`).sort(),
    rules: plan.rules.map((rule) => ruleText(rule, rule.source, rule.destination)).sort(),
  };
}
