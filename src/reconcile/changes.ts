// What the reconciler does and reports: a change (one difference between a plan and the kernel), a step (a change
// with how to make it and how to undo it), what it observes, and the error of an apply that failed and was undone.
import { CantainerError, errorMessage } from '../errors.js';
import type { CanGwCounters, CanGwRule } from '../netlink/cangw.js';
import type { Link } from '../netlink/link.js';

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

export interface Step {
  readonly change: Change;
  readonly run: () => void;
  /** Reverses `run`; absent for steps that need no undo (bringing a link up, fixing an MTU). */
  readonly undo?: () => void;
  /** The rule a step adds, when its links' indexes are known: such steps are sent to the kernel together. */
  readonly adds?: CanGwRule;
}

/** Links of a bus namespace that are no part of any plan. */
export const IGNORED_LINKS = new Set(['lo']);

export function ruleName(rule: { source: string; destination: string; fd?: boolean }): string {
  return `${rule.source}->${rule.destination}${rule.fd === true ? ' fd' : ''}`;
}

/** Undoes applied steps in reverse order; returns the failures (the original error is what gets reported). */
export function undo(done: readonly Step[]): string[] {
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

export function isDeletion(step: Step): boolean {
  return step.change.action === 'delete';
}

/**
 * The steps with deletions first: a rule that goes is deleted before the rule that replaces it is added, so the two
 * never hold together and no frame matching both is delivered twice. A frame sent in that instant may miss the
 * receivers the change concerns (the README says so); none is ever delivered twice.
 */
export function deletesFirst(steps: readonly Step[]): Step[] {
  return [...steps.filter(isDeletion), ...steps.filter((step) => !isDeletion(step))];
}
