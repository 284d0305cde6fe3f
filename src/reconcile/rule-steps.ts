// The rule steps of an apply: in the bus namespace, missing rules are added and every other rule deleted; in the
// daemon's namespace, only the rules on the bus's own ends there (its uplinks') are looked at.
import type { RoutePort } from '../kernel/port.js';
import { ruleKey, type CanGwRule } from '../netlink/cangw.js';
import type { Link } from '../netlink/link.js';
import { resolveRule, type BusPlan, type RulePlan } from '../bus/plan.js';
import { ruleName, type Change, type Step } from './changes.js';

/**
 * Rule changes in the daemon's namespace, where the bus owns only the rules on its pairs' ends there (its
 * uplinks'): those missing are added, others on those ends deleted; nobody else's rules are looked at. Rules on
 * an interface that is not there (an unplugged adapter) wait until it is.
 */
export function stepsForHostRules(plan: BusPlan, host: RoutePort): Step[] {
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
      steps.push({
        change: { action: 'delete', object: 'rule', name, detail: 'not part of the bus' },
        run: () => host.deleteRule(rule),
        undo: () => {
          host.addRule(rule);
        },
      });
    }
  }
  return steps;
}

/**
 * Rule changes, given the links that exist (and stay): missing rules are added, every other rule deleted. Also
 * returns the planned rules by key, when every one could be resolved (what the kernel holds once they are applied).
 */
export function stepsForRules(
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
    steps.push({
      change: { action: 'delete', object: 'rule', name, detail: 'not part of the bus' },
      run: () => route.deleteRule(rule),
      undo: () => {
        route.addRule(rule);
      },
    });
  }
  return { steps, wired: resolved ? planned : undefined };
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
