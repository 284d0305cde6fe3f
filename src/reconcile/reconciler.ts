// Makes the kernel match a bus's plan: reads what exists in the bus namespace, works out the difference, applies
// it, and undoes its own work when a step fails. It only ever touches cantainer's own namespaces and, in them,
// the links and rules a plan names, so it can run at any time, as often as needed, with the same result: after a
// restart, after someone deleted a rule or the whole namespace by hand, or for every request.
import { CantainerError, errorMessage } from '../errors.js';
import { KernelError } from '../kernel/errors.js';
import { CURRENT_NETNS, type KernelPort, type NetnsTarget, type RoutePort } from '../kernel/port.js';
import { Errno } from '../netlink/errno.js';
import { ruleKey, type CanGwCounters, type CanGwRule } from '../netlink/cangw.js';
import type { Link } from '../netlink/link.js';
import type { Bus } from '../bus/model.js';
import {
  busNamespace,
  memberPairs,
  planBus,
  resolveRule,
  type BusAttachments,
  type BusPlan,
  type LinkPlan,
  type RulePlan,
  type VxcanPlan,
} from '../bus/plan.js';

export type ChangeAction = 'create' | 'delete' | 'fix';

/** One difference between a plan and the kernel, as applied or as found by a check. */
export interface Change {
  readonly action: ChangeAction;
  readonly object: 'namespace' | 'link' | 'rule';
  /** The namespace, link or `source->destination` (with ` fd` for FD rules). */
  readonly name: string;
  readonly detail?: string;
}

/** Where a member's pair is: its host end in the bus namespace, and whether its end is still where it was made. */
export interface MemberPresence {
  readonly memberId: string;
  readonly hostEnd: boolean;
  /** The end is still in the namespace it was created in, paired with the host end (never moved away). */
  readonly endInPlace: boolean;
  /** The namespace file the end was created in no longer opens (for ends created in a namespace file). */
  readonly namespaceGone?: boolean;
}

/** A rule as found in a bus namespace: its links by name, and how many frames it handled, dropped, deleted. */
export interface ObservedRule extends Omit<CanGwRule, 'sourceIndex' | 'destinationIndex'> {
  readonly source: string;
  readonly destination: string;
  readonly counters: CanGwCounters;
}

export interface ObservedBus {
  readonly namespace: string;
  readonly links: readonly Link[];
  readonly rules: readonly ObservedRule[];
}

export class ReconcileError extends CantainerError {
  readonly bus: string;
  /** Undo steps that failed too: objects that may be left over until the next reconcile. */
  readonly undoFailures: readonly string[];

  constructor(bus: string, cause: unknown, undone: number, undoFailures: string[]) {
    const reason = errorMessage(cause);
    const tail =
      undoFailures.length === 0 ? `; undone: ${undone} step${undone === 1 ? '' : 's'}` : `; undoing failed too: ${undoFailures.join('; ')}`;
    super('ERECONCILE', `wiring bus ${bus}: ${reason}${tail}`, {
      cause,
      ...(cause instanceof CantainerError && cause.hint !== undefined ? { hint: cause.hint } : {}),
    });
    this.bus = bus;
    this.undoFailures = undoFailures;
  }
}

interface Step {
  readonly change: Change;
  readonly run: () => void;
  /** Reverses `run`; absent for steps that need no undo (bringing a link up, fixing an MTU). */
  readonly undo?: () => void;
  /** The rule a step adds, when its links' indexes are known: such steps are sent to the kernel together. */
  readonly adds?: CanGwRule;
}

const IGNORED_LINKS = new Set(['lo']);

function ruleName(rule: { source: string; destination: string; fd?: boolean }): string {
  return `${rule.source}->${rule.destination}${rule.fd === true ? ' fd' : ''}`;
}

export interface ReconcilerOptions {
  /** Called for every change applied, in order. */
  readonly onChange?: (bus: string, change: Change) => void;
  /** How long to wait for a member end of a dying namespace to go away before giving up (default 2000 ms). */
  readonly staleEndWaitMs?: number;
}

/** Polls `condition` synchronously (kernel calls are synchronous) until it holds or `ms` pass. */
function waitUntil(condition: () => boolean, ms: number): boolean {
  const deadline = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    Atomics.wait(pause, 0, 0, 20);
  }
}

/** Undoes applied steps in reverse order; returns the failures (the original error is what gets reported). */
function undo(done: readonly Step[]): string[] {
  const failures: string[] = [];
  for (const step of [...done].reverse()) {
    if (step.undo === undefined) continue;
    try {
      step.undo();
    } catch (error) {
      failures.push(`${step.change.action} ${step.change.object} ${step.change.name}: ${errorMessage(error)}`);
    }
  }
  return failures;
}

export interface ApplyOptions {
  /**
   * Take the bus's rules to be those its last successful apply left (less those on links gone since) instead of
   * reading them all from the kernel: on a large bus that dump costs more than the rest of a join. Links are read
   * in any case. What changed behind the reconciler's back is then found by the next apply without it.
   */
  readonly trustRules?: boolean;
}

export class Reconciler {
  readonly #kernel: KernelPort;
  readonly #onChange: ((bus: string, change: Change) => void) | undefined;
  readonly #staleEndWaitMs: number;
  /** Per bus namespace, the rules its last successful apply left in the kernel (see ApplyOptions.trustRules). */
  readonly #known = new Map<string, ReadonlyMap<string, CanGwRule>>();

  constructor(kernel: KernelPort, options: ReconcilerOptions = {}) {
    this.#kernel = kernel;
    this.#onChange = options.onChange;
    this.#staleEndWaitMs = options.staleEndWaitMs ?? 2000;
  }

  /** What `apply` would change, without changing anything (drift between the plan and the kernel). */
  check(bus: Bus, attachments: BusAttachments = {}): Change[] {
    const plan = planBus(bus, attachments);
    if (!this.#kernel.namespaces.exists(plan.namespace)) {
      return [
        { action: 'create', object: 'namespace', name: plan.namespace },
        ...plan.links.map((link): Change => ({ action: 'create', object: 'link', name: link.name })),
        ...plan.rules.map((rule): Change => ({ action: 'create', object: 'rule', name: ruleName(rule) })),
        ...plan.hostRules.map((rule): Change => ({ action: 'create', object: 'rule', name: `host ${ruleName(rule)}` })),
      ];
    }
    const busChanges = this.#withRoute(plan.namespace, (route) => {
      const links = route.listLinks();
      const linkSteps = this.#linkSteps(plan, links, route);
      // Links that will be created or deleted take their rules along: rules are compared on the others only.
      const replaced = new Set(linkSteps.filter((step) => step.change.action !== 'fix').map((step) => step.change.name));
      const kept = links.filter((link) => !replaced.has(link.name));
      return [...linkSteps.map((step) => step.change), ...this.#ruleSteps(plan, kept, route).steps.map((step) => step.change)];
    });
    if (plan.hostEnds.length === 0) return busChanges;
    const host = this.#kernel.route(CURRENT_NETNS);
    try {
      return [...busChanges, ...this.#hostRuleSteps(plan, host).map((step) => step.change)];
    } finally {
      host.close();
    }
  }

  /** Makes the kernel match the bus; returns what it changed (nothing when it already matched). */
  apply(bus: Bus, attachments: BusAttachments = {}, options: ApplyOptions = {}): Change[] {
    const plan = planBus(bus, attachments);
    const trusted = options.trustRules === true ? this.#known.get(plan.namespace) : undefined;
    // Forgotten until this apply succeeds: a failed one leaves the kernel's rules uncertain.
    this.#known.delete(plan.namespace);
    const done: Step[] = [];
    const run = (step: Step): void => {
      step.run();
      done.push(step);
      this.#onChange?.(plan.busName, step.change);
    };
    let route: RoutePort | undefined;
    let host: RoutePort | undefined;
    try {
      if (!this.#kernel.namespaces.exists(plan.namespace)) {
        run({
          change: { action: 'create', object: 'namespace', name: plan.namespace },
          run: () => this.#kernel.namespaces.create(plan.namespace),
          undo: () => this.#kernel.namespaces.delete(plan.namespace),
        });
      }
      const open = this.#kernel.route(this.#kernel.owned(plan.namespace));
      route = open;
      const before = open.listLinks();
      const linkSteps = this.#linkSteps(plan, before, open);
      for (const step of linkSteps) run(step);
      // The links as they are now: those the steps touched looked up again (a join touches one; a dump of every
      // link of a large bus costs more), the others as they were.
      const touched = new Set(linkSteps.map((step) => step.change.name));
      const after = [...before.filter((link) => !touched.has(link.name)), ...[...touched].flatMap((name) => open.findLink(name) ?? [])];
      const { steps: ruleSteps, wired } = this.#ruleSteps(plan, after, open, trusted);
      // Rules to add go to the kernel in one batch (a large bus adds hundreds at a join); each success is undoable.
      const batched = ruleSteps.filter((step): step is Step & { adds: CanGwRule } => step.adds !== undefined);
      const failures = open.addRules(batched.map((step) => step.adds));
      let failure: Error | undefined;
      batched.forEach((step, i) => {
        const error = failures[i];
        if (error !== undefined) {
          failure ??= error;
          return;
        }
        done.push({ change: step.change, run: step.run, undo: () => open.deleteRule(step.adds) });
        this.#onChange?.(plan.busName, step.change);
      });
      if (failure !== undefined) throw failure;
      for (const step of ruleSteps) if (step.adds === undefined) run(step);
      if (plan.hostEnds.length > 0) {
        host = this.#kernel.route(CURRENT_NETNS);
        for (const step of this.#hostRuleSteps(plan, host)) run(step);
      }
      // The kernel now holds exactly the plan's rules (missing ones added, others deleted): remember them.
      if (wired !== undefined) this.#known.set(plan.namespace, wired);
    } catch (error) {
      // Undone while the routes are still open: the undo steps use them.
      throw new ReconcileError(plan.busName, error, done.length, undo(done));
    } finally {
      route?.close();
      host?.close();
    }
    return done.map((step) => step.change);
  }

  /**
   * Where each member's pair is, without changing anything. With `ends`, also whether each end is still where it
   * was created (one link dump per namespace the ends were created in).
   */
  presence(bus: Bus, options: { ends?: boolean } = {}): MemberPresence[] {
    // Only the members' pairs: planning the rules too would cost more than the rest on a large bus.
    const members = memberPairs(bus);
    const namespace = busNamespace(bus.id);
    const hostEnds = new Map<string, Link>();
    if (members.length > 0 && this.#kernel.namespaces.exists(namespace)) {
      this.#withRoute(namespace, (route) => {
        for (const link of route.listLinks()) hostEnds.set(link.name, link);
      });
    }
    const places = new Map<string | undefined, Map<string, Link> | undefined>();
    /** The links where the member's end was created; undefined when that namespace is gone, and the end with it. */
    const linksAt = (member: VxcanPlan): Map<string, Link> | undefined => {
      const place = this.#placeOf(member);
      if (places.has(place.path)) return places.get(place.path);
      let links: Map<string, Link> | undefined;
      try {
        const route = this.#kernel.route(place);
        try {
          links = new Map(route.listLinks().map((link) => [link.name, link]));
        } finally {
          route.close();
        }
      } catch {
        links = undefined;
      }
      places.set(place.path, links);
      return links;
    };
    return members.map((member) => {
      const host = hostEnds.get(member.name);
      if (host?.kind !== 'vxcan') {
        // A pair made into a namespace file: whether that namespace is still there tells a member to rewire from a gone one.
        const gone = member.end.netns !== undefined && member.end.busNamespace === undefined && linksAt(member) === undefined;
        return { memberId: member.memberId, hostEnd: false, endInPlace: false, ...(gone ? { namespaceGone: true } : {}) };
      }
      if (options.ends !== true) return { memberId: member.memberId, hostEnd: true, endInPlace: false };
      const end = linksAt(member)?.get(member.end.name);
      return { memberId: member.memberId, hostEnd: true, endInPlace: end?.kind === 'vxcan' && end.peerIndex === host.index };
    });
  }

  /** What the bus namespace holds now: its links, and its rules by link name with the kernel's counters. */
  observe(busId: string): ObservedBus | undefined {
    const namespace = busNamespace(busId);
    if (!this.#kernel.namespaces.exists(namespace)) return undefined;
    const route = this.#kernel.route(this.#kernel.owned(namespace));
    try {
      const links = route.listLinks().filter((link) => !IGNORED_LINKS.has(link.name));
      const names = new Map(links.map((link) => [link.index, link.name]));
      const rules = route.listRules().map(({ rule, counters }): ObservedRule => {
        const { sourceIndex, destinationIndex, ...rest } = rule;
        return {
          ...rest,
          source: names.get(sourceIndex) ?? `#${sourceIndex}`,
          destination: names.get(destinationIndex) ?? `#${destinationIndex}`,
          counters,
        };
      });
      return { namespace, links, rules };
    } finally {
      route.close();
    }
  }

  /** The name of the end, in a namespace elsewhere (a container's), whose pair is this member's host end. */
  memberEndIn(busId: string, hostEnd: string, netns: NetnsTarget): string | undefined {
    const host = this.#withRoute(busNamespace(busId), (route) => route.findLink(hostEnd));
    if (host === undefined) return undefined;
    const route = this.#kernel.route(netns);
    try {
      return route.listLinks().find((link) => link.kind === 'vxcan' && link.peerIndex === host.index && link.peerNetnsId !== undefined)
        ?.name;
    } finally {
      route.close();
    }
  }

  /** Removes a bus from the kernel: every link in its namespace (with the member ends), then the namespace. */
  remove(busId: string): boolean {
    return this.#removeNamespace(busNamespace(busId));
  }

  /** Deletes cantainer's namespaces that belong to none of `buses` (left by a crash or a removed bus). */
  sweep(buses: readonly Bus[]): string[] {
    const wanted = new Set(buses.map((bus) => busNamespace(bus.id)));
    const removed = this.#kernel.namespaces.list().filter((name) => !wanted.has(name));
    for (const name of removed) this.#removeNamespace(name);
    return removed;
  }

  #removeNamespace(name: string): boolean {
    this.#known.delete(name);
    if (!this.#kernel.namespaces.exists(name)) return false;
    // The kernel destroys a namespace asynchronously, and member ends elsewhere with it: deleting the links
    // first makes them go now, so their names are free again when this returns.
    const route = this.#kernel.route(this.#kernel.owned(name));
    try {
      for (const link of route.listLinks()) if (!IGNORED_LINKS.has(link.name)) route.deleteLink(link.name);
    } finally {
      route.close();
    }
    return this.#kernel.namespaces.delete(name);
  }

  #withRoute<T>(namespace: string, fn: (route: RoutePort) => T): T {
    const route = this.#kernel.route(this.#kernel.owned(namespace));
    try {
      return fn(route);
    } finally {
      route.close();
    }
  }

  #linkSteps(plan: BusPlan, links: readonly Link[], route: RoutePort): Step[] {
    const steps: Step[] = [];
    const observed = new Map(links.map((link) => [link.name, link]));
    // A tunnel's pair has both ends here: the far one is the bus's too.
    const planned = new Set(
      plan.links.flatMap((link) =>
        link.kind === 'vxcan' && link.end.busNamespace === plan.namespace ? [link.name, link.end.name] : [link.name],
      ),
    );
    for (const link of links) {
      if (IGNORED_LINKS.has(link.name) || planned.has(link.name)) continue;
      steps.push({
        change: { action: 'delete', object: 'link', name: link.name, detail: 'not part of the bus' },
        run: () => route.deleteLink(link.name),
      });
    }
    for (const want of plan.links) {
      const have = observed.get(want.name);
      if (have !== undefined && have.kind !== want.kind) {
        steps.push({
          change: { action: 'delete', object: 'link', name: want.name, detail: `a ${have.kind ?? 'non-CAN'} link, not ${want.kind}` },
          run: () => route.deleteLink(want.name),
        });
      }
      if (have === undefined || have.kind !== want.kind) {
        steps.push(this.#createLink(want, route));
        continue;
      }
      if (have.mtu !== want.mtu) {
        steps.push({
          change: { action: 'fix', object: 'link', name: want.name, detail: `MTU ${have.mtu ?? '?'} instead of ${want.mtu}` },
          run: () => {
            route.setLinkUp(want.name, false);
            route.setMtu(want.name, want.mtu);
            route.setLinkUp(want.name, true);
          },
        });
      } else if (!have.up) {
        steps.push({
          change: { action: 'fix', object: 'link', name: want.name, detail: 'down' },
          run: () => {
            route.setLinkUp(want.name, true);
          },
        });
      }
    }
    return steps;
  }

  #createLink(want: LinkPlan, route: RoutePort): Step {
    const change: Change = {
      action: 'create',
      object: 'link',
      name: want.name,
      ...(want.kind === 'vxcan' ? { detail: `${pairOwner(want)}, end ${want.end.name}` } : {}),
    };
    const undo = (): void => {
      route.deleteLink(want.name);
    };
    if (want.kind === 'vcan')
      return {
        change,
        run: () => {
          route.createVcan({ name: want.name, mtu: want.mtu, up: true });
        },
        undo,
      };
    return {
      change,
      run: () => {
        this.#createPair(want, route);
      },
      undo,
    };
  }

  /** Where the far end of a pair belongs: a member's namespace file, another bus's namespace, or here. */
  #placeOf(link: VxcanPlan): NetnsTarget {
    if (link.end.busNamespace !== undefined) return this.#kernel.owned(link.end.busNamespace);
    return link.end.netns === undefined ? CURRENT_NETNS : { label: link.end.netns, path: link.end.netns };
  }

  #createPair(want: VxcanPlan, route: RoutePort): void {
    const place = this.#placeOf(want);
    const pair = { name: want.name, mtu: want.mtu, peer: { name: want.end.name, mtu: want.end.mtu ?? want.mtu, netns: place } };
    const far = this.#kernel.route(place);
    try {
      try {
        route.createVxcanPair(pair);
      } catch (error) {
        // A vxcan of that name where the end belongs is usually the end of a namespace the kernel is still
        // destroying (namespaces die asynchronously): wait for it, a little, then try once more. Never delete it:
        // it may be another bus's member.
        if (!(error instanceof KernelError && error.errno === Errno.EEXIST) || far.findLink(want.end.name)?.kind !== 'vxcan') throw error;
        if (!waitUntil(() => far.findLink(want.end.name) === undefined, this.#staleEndWaitMs)) throw error;
        route.createVxcanPair(pair);
      }
      try {
        route.setLinkUp(want.name, true);
        if (want.end.up === true) far.setLinkUp(want.end.name, true);
      } catch (error) {
        route.deleteLink(want.name);
        throw error;
      }
    } finally {
      far.close();
    }
  }

  /**
   * Rule changes in the daemon's namespace, where the bus owns only the rules on its pairs' ends there (its
   * uplinks'): those missing are added, others on those ends deleted; nobody else's rules are looked at. Rules on
   * an interface that is not there (an unplugged adapter) wait until it is.
   */
  #hostRuleSteps(plan: BusPlan, host: RoutePort): Step[] {
    const links = host.listLinks();
    const index = new Map(links.map((link) => [link.name, link.index]));
    const ours = new Set(plan.hostEnds.flatMap((name) => (index.has(name) ? [index.get(name) as number] : [])));
    const observed = byKey(
      host.listRules().flatMap(({ rule }) => (ours.has(rule.sourceIndex) || ours.has(rule.destinationIndex) ? [rule] : [])),
    );
    const steps: Step[] = [];
    for (const want of plan.hostRules) {
      const rule = resolveRule(want, (name) => index.get(name));
      if (rule === undefined) continue;
      const matches = observed.get(ruleKey(rule));
      if (matches !== undefined && matches.length > 0) {
        matches.pop();
        continue;
      }
      const step = addRuleStep(want, rule, host);
      steps.push({ ...step, change: { ...step.change, name: `host ${step.change.name}` } });
    }
    const names = new Map(links.map((link) => [link.index, link.name]));
    for (const extras of observed.values()) {
      for (const rule of extras) {
        const name = `host ${names.get(rule.sourceIndex) ?? rule.sourceIndex}->${names.get(rule.destinationIndex) ?? rule.destinationIndex}`;
        steps.push({ change: { action: 'delete', object: 'rule', name, detail: 'not part of the bus' }, run: () => host.deleteRule(rule) });
      }
    }
    return steps;
  }

  /**
   * Rule changes, given the links that exist (and stay): missing rules are added, every other rule deleted. Also
   * returns the planned rules by key, when every one could be resolved (what the kernel holds once they are applied).
   */
  #ruleSteps(
    plan: BusPlan,
    links: readonly Link[],
    route: RoutePort,
    trusted?: ReadonlyMap<string, CanGwRule>,
  ): { steps: Step[]; wired: Map<string, CanGwRule> | undefined } {
    const index = new Map(links.map((link) => [link.name, link.index]));
    const present = new Set(links.map((link) => link.index));
    // Trusted rules on a link that is gone went with it in the kernel.
    const holds = (rule: CanGwRule): boolean => present.has(rule.sourceIndex) && present.has(rule.destinationIndex);
    const observed = trusted === undefined ? byKey(route.listRules().map((entry) => entry.rule)) : new Map<string, CanGwRule[]>();
    const steps: Step[] = [];
    const planned = new Map<string, CanGwRule>();
    let resolved = true;
    for (const want of plan.rules) {
      const rule = resolveRule(want, (name) => index.get(name));
      if (rule === undefined) {
        resolved = false;
        steps.push(addRuleStep(want, undefined, route));
        continue;
      }
      const key = ruleKey(rule);
      planned.set(key, rule);
      if (trusted === undefined) {
        const matches = observed.get(key);
        if (matches !== undefined && matches.length > 0) {
          matches.pop();
          continue;
        }
      } else {
        const have = trusted.get(key);
        if (have !== undefined && holds(have)) continue;
      }
      steps.push(addRuleStep(want, rule, route));
    }
    // What is left is not in the plan: duplicates, rules added by hand, leftovers of an earlier plan. Rules on
    // links that are not kept vanish with those links.
    const extras =
      trusted === undefined ? [...observed.values()].flat() : [...trusted].flatMap(([key, rule]) => (planned.has(key) ? [] : [rule]));
    const names = new Map(links.map((link) => [link.index, link.name]));
    for (const rule of extras) {
      const source = names.get(rule.sourceIndex);
      const destination = names.get(rule.destinationIndex);
      if (source === undefined || destination === undefined) continue;
      const name = ruleName({ source, destination, ...(rule.fd === true ? { fd: true } : {}) });
      steps.push({ change: { action: 'delete', object: 'rule', name, detail: 'not part of the bus' }, run: () => route.deleteRule(rule) });
    }
    return { steps, wired: resolved ? planned : undefined };
  }
}

/** Rules grouped by key: identical rules may coexist in the kernel, and each is matched or deleted on its own. */
function byKey(rules: readonly CanGwRule[]): Map<string, CanGwRule[]> {
  const grouped = new Map<string, CanGwRule[]>();
  for (const rule of rules) {
    const key = ruleKey(rule);
    const same = grouped.get(key);
    if (same === undefined) grouped.set(key, [rule]);
    else same.push(rule);
  }
  return grouped;
}

function addRuleStep(want: RulePlan, known: CanGwRule | undefined, route: RoutePort): Step {
  const change: Change = { action: 'create', object: 'rule', name: ruleName(want) };
  let added: CanGwRule | undefined;
  return {
    change,
    ...(known === undefined ? {} : { adds: known }),
    run: () => {
      const rule = known ?? resolveRule(want, (name) => route.findLink(name)?.index);
      if (rule === undefined) throw new Error(`rule ${change.name}: one of its links is missing`);
      route.addRule(rule);
      added = rule;
    },
    undo: () => {
      if (added !== undefined) route.deleteRule(added);
    },
  };
}

/** Whose pair a planned pair is, for change details. */
function pairOwner(pair: VxcanPlan): string {
  if (pair.memberId !== undefined) return `member ${pair.memberId}`;
  if (pair.tunnelOf !== undefined) return `tunnel ${pair.tunnelOf}`;
  if (pair.uplinkOf !== undefined) return `uplink ${pair.uplinkOf}`;
  return `gateway ${pair.gatewayKey ?? '?'}`;
}
