// The link steps of an apply: links of the bus namespace that are not in the plan go, missing ones are made
// (vcans, and vxcan pairs whose far end goes where it belongs), wrong ones fixed (MTU, down).
import { KernelError } from '../kernel/errors.js';
import { CURRENT_NETNS, describeOperation, type KernelPort, type NetnsTarget, type RoutePort, type VxcanPair } from '../kernel/port.js';
import { Errno } from '../netlink/errno.js';
import type { Link } from '../netlink/link.js';
import type { BusPlan, LinkPlan, VxcanPlan } from '../bus/plan.js';
import { IGNORED_LINKS, type Change, type Step } from './changes.js';

export interface LinkContext {
  readonly kernel: KernelPort;
  /** How long to wait for a member end of a dying namespace to go away before giving up. */
  readonly staleEndWaitMs: number;
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

export function stepsForLinks(context: LinkContext, plan: BusPlan, links: readonly Link[], route: RoutePort): Step[] {
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
      steps.push(createLink(context, want, route));
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

function createLink(context: LinkContext, want: LinkPlan, route: RoutePort): Step {
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
      createPair(context, want, route);
    },
    undo,
  };
}

/** Where the far end of a pair belongs: a member's namespace file, another bus's namespace, or here. */
export function placeOf(kernel: KernelPort, link: VxcanPlan): NetnsTarget {
  if (link.end.busNamespace !== undefined) return kernel.owned(link.end.busNamespace);
  return link.end.netns === undefined ? CURRENT_NETNS : { label: link.end.netns, path: link.end.netns };
}

function pairSpecOf(want: VxcanPlan, place: NetnsTarget): VxcanPair {
  return { name: want.name, mtu: want.mtu, peer: { name: want.end.name, mtu: want.end.mtu ?? want.mtu, netns: place } };
}

function createPair(context: LinkContext, want: VxcanPlan, route: RoutePort): void {
  const place = placeOf(context.kernel, want);
  const { netns, netnsId } = want.end;
  if (netns !== undefined && netnsId !== undefined) {
    // Never wire into a stranger's namespace: the path must still name the one the member joined in.
    const found = context.kernel.identify(netns);
    if (found.kind !== 'netns' || found.id !== netnsId)
      throw new KernelError(
        describeOperation.createVxcanPair(pairSpecOf(want, place)),
        Errno.ENOENT,
        `${netns} no longer names the member's namespace`,
      );
  }
  const pair = pairSpecOf(want, place);
  const far = context.kernel.route(place);
  try {
    try {
      route.createVxcanPair(pair);
    } catch (error) {
      // A vxcan of that name where the end belongs is usually the end of a namespace the kernel is still
      // destroying (namespaces die asynchronously): wait for it, a little, then try once more. Never delete it:
      // it may be another bus's member.
      if (!(error instanceof KernelError && error.errno === Errno.EEXIST) || far.findLink(want.end.name)?.kind !== 'vxcan') throw error;
      if (!waitUntil(() => far.findLink(want.end.name) === undefined, context.staleEndWaitMs)) throw error;
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

/** Whose pair a planned pair is, for change details. */
function pairOwner(pair: VxcanPlan): string {
  if (pair.memberId !== undefined) return `member ${pair.memberId}`;
  if (pair.tunnelOf !== undefined) return `tunnel ${pair.tunnelOf}`;
  if (pair.uplinkOf !== undefined) return `uplink ${pair.uplinkOf}`;
  return `gateway ${pair.gatewayKey ?? '?'}`;
}
