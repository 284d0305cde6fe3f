// Section 1: join latency. CreateEndpoint and Join through the plugin socket, as Docker sends them, on a bus that
// has 1, 10, 50 or 100 members once joined; against a baseline that makes the same links and rules by spawning
// `ip` and `cangw` per operation, as shell-out plugins do, on the same kernel in the same VM.
import { execFileSync } from 'node:child_process';
import { systemKernel } from '../src/kernel/index.js';
import { busNamespace, planBus, type RulePlan, type VxcanPlan } from '../src/bus/plan.js';
import type { Bus, Member } from '../src/bus/model.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { dockerRequests as d, post } from '../test/support/plugin-client.js';
import { engineTakes, joinMember, newId, startDaemonProcess } from './daemon-process.js';
import { spread, type Spread } from './stats.js';

export interface JoinResult {
  readonly members: number;
  readonly ours: Spread;
  readonly baseline: Spread;
  /** Rules the join adds (what the baseline spawns cangw for). */
  readonly rules: number;
  /** Processes the baseline spawns per join. */
  readonly spawns: number;
}

/** cangw's arguments for a planned rule (the flags cantainer sets on every rule; no filters or edits here). */
export function cangwArguments(rule: RulePlan): string[] {
  return [
    '-A',
    '-s',
    rule.source,
    '-d',
    rule.destination,
    ...(rule.echo === true ? ['-e'] : []),
    ...(rule.allowToIncomingInterface === true ? ['-i'] : []),
    ...(rule.sourceTimestamp === true ? ['-t'] : []),
    ...(rule.fd === true ? ['-X'] : []),
    ...(rule.hopLimit === undefined ? [] : ['-l', String(rule.hopLimit)]),
  ];
}

async function leaveOne(plugin: string, network: string, endpoint: string): Promise<void> {
  await post(plugin, '/NetworkDriver.Leave', d.endpoint(network, endpoint));
  const deleted = await post(plugin, '/NetworkDriver.DeleteEndpoint', d.endpoint(network, endpoint));
  if (deleted.status !== 200) throw new Error(`DeleteEndpoint: ${JSON.stringify(deleted.body)}`);
}

/** The baseline's bus: the same plan, its first n-1 members wired (untimed, by the reconciler) in a namespace `ip netns` knows. */
function baselineBus(busId: string, members: number, fd: boolean): Bus {
  const list: Member[] = Array.from({ length: members }, (_, i) => ({
    id: `${busId}-${i}`,
    end: { name: `bx${busId.slice(-3)}${i}`, up: false },
  }));
  return { id: busId, name: busId, fd, members: list };
}

function baselineJoin(before: Bus, after: Bus): { run: () => void; spawns: number; rules: number } {
  const [old, next] = [planBus(before), planBus(after)];
  const known = new Set(old.rules.map((rule) => JSON.stringify(rule)));
  const rules = next.rules.filter((rule) => !known.has(JSON.stringify(rule)));
  const pair = next.links.find((link): link is VxcanPlan => link.kind === 'vxcan' && !old.links.some((o) => o.name === link.name));
  if (pair === undefined) throw new Error('the joining member has no pair in the plan');
  const ns = next.namespace;
  const commands: Array<[string, string[]]> = [
    ['ip', ['link', 'add', pair.end.name, 'mtu', String(next.mtu), 'type', 'vxcan', 'peer', 'name', pair.name, 'mtu', String(next.mtu)]],
    ['ip', ['link', 'set', pair.name, 'netns', ns]],
    ['ip', ['-n', ns, 'link', 'set', pair.name, 'up']],
    ...rules.map((rule): [string, string[]] => ['ip', ['netns', 'exec', ns, 'cangw', ...cangwArguments(rule)]]),
  ];
  return {
    spawns: commands.length,
    rules: rules.length,
    run: () => {
      for (const [file, args] of commands) execFileSync(file, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    },
  };
}

export async function measureJoin(
  sizes: readonly number[],
  samples: (members: number) => { ours: number; baseline: number },
  log: (line: string) => void,
): Promise<JoinResult[]> {
  const results: JoinResult[] = [];
  const daemon = await startDaemonProcess('/run/cantainer-bench/join');
  // The baseline's namespaces where `ip netns exec` finds them.
  const kernel = systemKernel({ netnsDir: '/run/netns' });
  const reconciler = new Reconciler(kernel);
  try {
    // A daemon that has served a few requests, as one that has run for a while: the first requests of a process
    // pay for compiling its code.
    const scratch = newId();
    await post(daemon.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(scratch));
    for (let i = 0; i < 10; i++) await leaveOne(daemon.plugin, scratch, await joinMember(daemon.plugin, scratch));
    await post(daemon.plugin, '/NetworkDriver.DeleteNetwork', d.network(scratch));
    for (const members of sizes) {
      const count = samples(members);
      const network = newId();
      const created = await post(daemon.plugin, '/NetworkDriver.CreateNetwork', d.createNetwork(network));
      if (created.status !== 200) throw new Error(`CreateNetwork: ${JSON.stringify(created.body)}`);
      for (let i = 1; i < members; i++) await joinMember(daemon.plugin, network);
      const ours: number[] = [];
      for (let i = 0; i < count.ours; i++) {
        const endpoint = newId();
        const start = performance.now();
        const created = await post(daemon.plugin, '/NetworkDriver.CreateEndpoint', d.createEndpoint(network, endpoint));
        const joined = await post(daemon.plugin, '/NetworkDriver.Join', d.join(network, endpoint));
        ours.push(performance.now() - start);
        if (created.status !== 200 || joined.status !== 200) throw new Error(`join: ${JSON.stringify([created.body, joined.body])}`);
        engineTakes(joined);
        await leaveOne(daemon.plugin, network, endpoint);
      }
      await post(daemon.plugin, '/NetworkDriver.DeleteNetwork', d.network(network));

      const busId = `base${members}`;
      const before = baselineBus(busId, members - 1, false);
      const after = baselineBus(busId, members, false);
      reconciler.apply(before);
      const join = baselineJoin(before, after);
      const baseline: number[] = [];
      for (let i = 0; i < count.baseline; i++) {
        const start = performance.now();
        join.run();
        baseline.push(performance.now() - start);
        const made = reconciler.check(before);
        if (made.length === 0) throw new Error('the baseline made nothing');
        reconciler.apply(before); // takes the joined member out again
      }
      // The baseline made exactly what cantainer plans: nothing to change once the member is in the plan.
      join.run();
      const drift = reconciler.check(after);
      if (drift.length > 0)
        throw new Error(
          `the baseline's join differs from cantainer's plan: ${drift.map((c) => `${c.action} ${c.object} ${c.name}`).join('; ')}`,
        );
      reconciler.remove(busId);
      if (kernel.namespaces.exists(busNamespace(busId))) throw new Error('the baseline namespace is still there');

      const result: JoinResult = { members, ours: spread(ours), baseline: spread(baseline), rules: join.rules, spawns: join.spawns };
      log(
        `join at ${members} members: ours p50 ${result.ours.p50.toFixed(1)} ms p99 ${result.ours.p99.toFixed(1)} ms; baseline p50 ${result.baseline.p50.toFixed(1)} ms (${join.spawns} spawns); ${(result.baseline.p50 / result.ours.p50).toFixed(1)}x`,
      );
      results.push(result);
    }
  } finally {
    await daemon.stop();
  }
  return results;
}
