// Makes the kernel match a bus's plan: reads what exists in the bus namespace, works out the difference, applies
// it, and undoes its own work when a step fails. It only ever touches cantainer's own namespaces and, in them,
// the links and rules a plan names, so it can run at any time, as often as needed, with the same result: after a
// restart, after someone deleted a rule or the whole namespace by hand, or for every request.
import { CURRENT_NETNS, type KernelPort, type NetnsTarget, type RoutePort } from '../kernel/port.js';
import type { CanGwRule } from '../netlink/cangw.js';
import type { Link } from '../netlink/link.js';
import type { Bus } from '../bus/model.js';
import { busNamespace, memberPairs, planBus, type BusAttachments, type VxcanPlan } from '../bus/plan.js';
import {
  deletesFirst,
  IGNORED_LINKS,
  isDeletion,
  ReconcileError,
  ruleName,
  undo,
  type Change,
  type MemberPresence,
  type ObservedBus,
  type ObservedRule,
  type Step,
} from './changes.js';
import { placeOf, stepsForLinks, type LinkContext } from './link-steps.js';
import { stepsForHostRules, stepsForRules } from './rule-steps.js';

export type { Change, ChangeAction, MemberPresence, ObservedBus, ObservedRule } from './changes.js';
export { ReconcileError } from './changes.js';

export interface ReconcilerOptions {
  /** Called for every change applied, in order. */
  readonly onChange?: (bus: string, change: Change) => void;
  /** How long to wait for a member end of a dying namespace to go away before giving up (default 2000 ms). */
  readonly staleEndWaitMs?: number;
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
  readonly #links: LinkContext;
  /** Per bus namespace, the rules its last successful apply left in the kernel (see ApplyOptions.trustRules). */
  readonly #known = new Map<string, ReadonlyMap<string, CanGwRule>>();

  constructor(kernel: KernelPort, options: ReconcilerOptions = {}) {
    this.#kernel = kernel;
    this.#onChange = options.onChange;
    this.#links = { kernel, staleEndWaitMs: options.staleEndWaitMs ?? 2000 };
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
      const linkSteps = stepsForLinks(this.#links, plan, links, route);
      // Links that will be created or deleted take their rules along: rules are compared on the others only.
      const replaced = new Set(linkSteps.filter((step) => step.change.action !== 'fix').map((step) => step.change.name));
      const kept = links.filter((link) => !replaced.has(link.name));
      return [...linkSteps.map((step) => step.change), ...stepsForRules(plan, kept, route).steps.map((step) => step.change)];
    });
    if (plan.hostEnds.length === 0) return busChanges;
    const host = this.#kernel.route(CURRENT_NETNS);
    try {
      return [...busChanges, ...stepsForHostRules(plan, host).map((step) => step.change)];
    } finally {
      host.close();
    }
  }

  /** Makes the kernel match the bus; returns what it changed (nothing when it already matched). */
  apply(bus: Bus, attachments: BusAttachments = {}, options: ApplyOptions = {}): Change[] {
    const plan = planBus(bus, attachments);
    // A namespace made again (removed by hand, lost with a reboot) numbers its links as the old one did: rules
    // remembered from the old one would match keys of the new links and be skipped. Only an existing one is trusted.
    const trusted =
      options.trustRules === true && this.#kernel.namespaces.exists(plan.namespace) ? this.#known.get(plan.namespace) : undefined;
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
      const linkSteps = stepsForLinks(this.#links, plan, before, open);
      for (const step of linkSteps) run(step);
      // The links as they are now: those the steps touched looked up again (a join touches one; a dump of every
      // link of a large bus costs more), the others as they were.
      const touched = new Set(linkSteps.map((step) => step.change.name));
      const after = [...before.filter((link) => !touched.has(link.name)), ...[...touched].flatMap((name) => open.findLink(name) ?? [])];
      const { steps: ruleSteps, wired } = stepsForRules(plan, after, open, trusted);
      // Deletions first (see deletesFirst), then the additions.
      for (const step of ruleSteps) if (isDeletion(step)) run(step);
      // Rules to add go to the kernel in one batch (a large bus adds hundreds at a join); each success is undoable.
      const batched = ruleSteps.filter((step): step is Step & { adds: CanGwRule } => step.adds !== undefined);
      let failures: ReturnType<RoutePort['addRules']>;
      try {
        failures = open.addRules(batched.map((step) => step.adds));
      } catch (error) {
        // The batch failed as a whole (its acknowledgements lost): the kernel may have taken any of its rules, so
        // every one is undone (deleting one it never took changes nothing).
        for (const step of batched) done.push({ change: step.change, run: step.run, undo: () => open.deleteRule(step.adds) });
        throw error;
      }
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
      for (const step of ruleSteps) if (step.adds === undefined && !isDeletion(step)) run(step);
      if (plan.hostEnds.length > 0) {
        host = this.#kernel.route(CURRENT_NETNS);
        for (const step of deletesFirst(stepsForHostRules(plan, host))) run(step);
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
      const place = placeOf(this.#kernel, member);
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
    // A path that names another namespace than the one the member joined in (a PID reused) is never looked inside:
    // checked only where the answer looks there (a join with every pair alive asks nothing of the members' paths).
    return members.map((member) => {
      const host = hostEnds.get(member.name);
      if (host?.kind !== 'vxcan') {
        // A pair made into a namespace file: whether that namespace is still there tells a member to rewire from a gone one.
        const gone =
          member.end.netns !== undefined &&
          member.end.busNamespace === undefined &&
          (!this.#sameNamespace(member) || linksAt(member) === undefined);
        return { memberId: member.memberId, hostEnd: false, endInPlace: false, ...(gone ? { namespaceGone: true } : {}) };
      }
      if (options.ends !== true) return { memberId: member.memberId, hostEnd: true, endInPlace: false };
      if (!this.#sameNamespace(member)) return { memberId: member.memberId, hostEnd: true, endInPlace: false, namespaceGone: true };
      const end = linksAt(member)?.get(member.end.name);
      return { memberId: member.memberId, hostEnd: true, endInPlace: end?.kind === 'vxcan' && end.peerIndex === host.index };
    });
  }

  /** The member's namespace file names the namespace it joined in (true when it was made with no identity). */
  #sameNamespace(member: VxcanPlan): boolean {
    const { netns, netnsId } = member.end;
    if (netns === undefined || netnsId === undefined) return true;
    const found = this.#kernel.identify(netns);
    return found.kind === 'netns' && found.id === netnsId;
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
    if (!this.#kernel.namespaces.exists(name)) {
      // A stray file of that name (no namespace) goes too, so that the name is free again.
      this.#kernel.namespaces.delete(name);
      return false;
    }
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
}
