// BENCHMARKS.md from the sections' results: pure, so that its tables are tested without a VM.
import type { ComposeResult } from './compose.js';
import type { DaemonResult } from './daemon.js';
import type { DataPlaneResult } from './dataplane.js';
import type { JoinResult } from './join.js';
import type { ProfileResult } from './profiles.js';
import type { TunnelResult } from './tunnel.js';
import type { SoakResult } from './soak.js';
import type { TimingResult } from './timing.js';

export interface BenchResults {
  readonly machine?: { kernel: string; cpus: number; cpuModel: string; memoryMiB: number; node: string; canGwMaxHops: number };
  readonly join?: readonly JoinResult[];
  readonly dataplane?: readonly DataPlaneResult[];
  readonly tunnel?: readonly TunnelResult[];
  readonly compose?: ComposeResult;
  readonly daemon?: DaemonResult;
  readonly profile?: readonly ProfileResult[];
  readonly soak?: SoakResult;
  readonly timing?: TimingResult;
}

export interface RunFacts {
  readonly date: string;
  readonly commit: string;
  readonly hostCpu: string;
  readonly accel: string;
  readonly totalSeconds: number;
}

/** Parses the guest's output: one `BENCH_RESULT {"section":..., "value":...}` line per section. */
export function parseResults(output: string): BenchResults {
  const results: BenchResults & Record<string, unknown> = {};
  for (const line of output.split('\n')) {
    const at = line.indexOf('BENCH_RESULT ');
    if (at < 0) continue;
    const { section, value } = JSON.parse(line.slice(at + 'BENCH_RESULT '.length)) as { section: string; value: unknown };
    results[section] = value;
  }
  return results;
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const ratio = (value: number): string => `${value >= 10 ? value.toFixed(0) : value.toFixed(1)}x`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const percent = (value: number): string => `${(100 * value).toFixed(0)}%`;

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export const JOIN_TARGET = { members: 50, ratio: 100 };
export const DATAPLANE_TARGET = 0.9;

function joinSection(join: readonly JoinResult[]): string {
  const rows = join.map((r) => [
    String(r.members),
    ms(r.ours.p50),
    ms(r.ours.p99),
    String(r.ours.samples),
    ms(r.baseline.p50),
    ms(r.baseline.p99),
    String(r.baseline.samples),
    `${r.spawns} (${r.rules} rules)`,
    ratio(r.baseline.p50 / r.ours.p50),
  ]);
  const at = join.find((r) => r.members === JOIN_TARGET.members);
  const verdict =
    at === undefined
      ? 'not measured'
      : at.baseline.p50 / at.ours.p50 >= JOIN_TARGET.ratio
        ? `**met**: ${ratio(at.baseline.p50 / at.ours.p50)}`
        : `**missed**: ${ratio(at.baseline.p50 / at.ours.p50)}`;
  return [
    '## 1. Join latency',
    '',
    'CreateEndpoint and Join through the plugin socket, as Docker sends them, until the member is wired (its pair, and a rule to and from every other member and the monitor); the bus has that many members once joined. Baseline: the same pair and the same rules made by spawning `ip` and `ip netns exec NS cangw` per operation, as shell-out plugins do (checked to leave exactly what cantainer plans). Times in ms; p99 of fewer than 100 samples is the slowest sample.',
    '',
    table(['Members', 'cantainer p50', 'p99', 'n', 'baseline p50', 'p99', 'n', 'baseline spawns', 'faster (p50)'], rows),
    '',
    `Target: at least ${JOIN_TARGET.ratio}x faster at ${JOIN_TARGET.members} members: ${verdict}.`,
  ].join('\n');
}

function pathCells(f: DataPlaneResult['ours']): string[] {
  return [
    f.fps.toFixed(0),
    `${f.lost}/${f.sent}`,
    String(f.duplicates),
    String(f.outOfOrder),
    `${f.latencyUs.p50.toFixed(0)} / ${f.latencyUs.p99.toFixed(0)}`,
  ];
}

function dataplaneSection(rows: readonly DataPlaneResult[]): string {
  // Each frame on a bus of N members is delivered N times (the other members and the monitor); the baseline's once.
  const counted = rows.some((r) => r.perFrame !== undefined);
  const lines = rows.map((r) => [
    r.fd ? 'FD (64 bytes)' : 'classic (8 bytes)',
    String(r.members),
    ...pathCells(r.ours),
    percent(r.ours.fps / r.baseline.fps),
    `${(r.ours.fps * r.members).toFixed(0)} (${percent((r.ours.fps * r.members) / r.baseline.fps)})`,
    ...(counted ? [r.perFrame === undefined ? '' : `${r.perFrame.forwarded.toFixed(1)} / ${r.perFrame.deleted.toFixed(1)}`] : []),
    r.baseline.fps.toFixed(0),
    `${r.baseline.lost}/${r.baseline.sent}`,
    `${r.baseline.latencyUs.p50.toFixed(0)} / ${r.baseline.latencyUs.p99.toFixed(0)}`,
  ]);
  const short = rows.filter((r) => r.ours.fps / r.baseline.fps < DATAPLANE_TARGET);
  const lossy = rows.filter((r) => r.ours.lost > 0 || r.ours.duplicates > 0 || r.ours.outOfOrder > 0);
  return [
    '## 2. Data plane',
    '',
    "One member floods the bus (can-utils' `cangen -g 0`, a counter in the data) and another member's `candump` receives; frames per second from its first to its last arrival; lost, duplicated and out-of-order frames from the counter. Latency: 1000 frames at 1 ms intervals, from just before the send call (CLOCK_REALTIME) to the kernel's receive timestamp at the receiver's socket (the same clock), in µs. Baseline: a hand-made vxcan pair from each of two namespaces into a third and one can-gw rule between them (`cangw -A -s a -d b -i`). Every frame on the bus also reaches each other member and the monitor; the baseline delivers to one receiver only." +
      (counted
        ? " The kernel's work per frame, from the bus's can-gw counters: frames forwarded (one per delivery) and frames the hop limit stopped (those echoed in the monitor meet its rules again): this is where a sender's time goes as the bus grows."
        : ''),
    '',
    table(
      [
        'Frames',
        'Members',
        'fps',
        'lost',
        'dup',
        'out of order',
        'latency p50 / p99 (µs)',
        'of baseline fps',
        'deliveries/s (of baseline)',
        ...(counted ? ['kernel per frame: forwarded / stopped'] : []),
        'baseline fps',
        'baseline lost',
        'baseline latency',
      ],
      lines,
    ),
    '',
    `Target: at least ${percent(DATAPLANE_TARGET)} of the baseline's throughput with zero loss, exactly once: ${short.length === 0 && lossy.length === 0 ? '**met** in every row' : `**missed** in ${[...new Set([...short, ...lossy])].map((r) => `${r.fd ? 'FD' : 'classic'} ${r.members}`).join(', ')}`}.`,
  ].join('\n');
}

function tunnelSection(rows: readonly TunnelResult[]): string {
  const drops = (r: TunnelResult): string => {
    const dropped = {
      ...((r.senderCounters?.dropped ?? {}) as Record<string, number>),
      ...((r.counters.dropped ?? {}) as Record<string, number>),
    };
    const lost = Number(r.counters.packetsLost ?? 0);
    const causes = [...Object.entries(dropped), ...(lost > 0 ? [['datagrams lost', lost] as const] : [])].filter(([, n]) => n > 0);
    return causes.length === 0 ? '0' : causes.map(([cause, n]) => `${n} ${cause}`).join(', ');
  };
  const lines = rows.map((r) => [
    r.transport.toUpperCase(),
    r.fd ? 'FD (64 bytes)' : 'classic (8 bytes)',
    ...pathCells(r.ours),
    percent(r.ours.fps / r.baseline.fps),
    drops(r),
    r.baseline.fps.toFixed(0),
    `${r.baseline.latencyUs.p50.toFixed(0)} / ${r.baseline.latencyUs.p99.toFixed(0)}`,
  ]);
  return [
    '## 3. Tunnels (CAN over IP)',
    '',
    'Two cantainer daemons on this machine, each with a bus of one ECU, joined by a tunnel on loopback (UDP with the default 1000 µs flush timeout, or TCP); the same floods and paced frames as the data plane section, from the ECU on one bus to the ECU on the other. Baseline: the same frames through one plain can-gw rule between two vxcan pairs. Drops as the two tunnels counted them (datagrams lost: gaps in the UDP sequence numbers at the receiver).',
    '',
    table(
      [
        'Transport',
        'Frames',
        'fps',
        'lost',
        'dup',
        'out of order',
        'latency p50 / p99 (µs)',
        'of baseline fps',
        'tunnel drops',
        'baseline fps',
        'baseline latency',
      ],
      lines,
    ),
    ...cannelloniComparison(rows),
  ].join('\n');
}

/** Where cantainer stands against cannelloni in one row: the targets of the comparison, each met or not. */
export function againstCannelloni(r: TunnelResult): { delivered: boolean; rate: boolean; tail: boolean; tcpLossless: boolean } | undefined {
  const theirs = r.cannelloni;
  if (theirs === undefined) return undefined;
  return {
    delivered: r.ours.received - r.ours.duplicates >= theirs.received - theirs.duplicates,
    rate: r.ours.fps >= theirs.fps,
    tail: r.ours.latencyUs.p99 <= theirs.latencyUs.p99,
    tcpLossless: r.transport !== 'tcp' || r.ours.lost === 0,
  };
}

function cannelloniComparison(rows: readonly TunnelResult[]): string[] {
  const compared = rows.filter((r) => r.cannelloni !== undefined);
  if (compared.length === 0) return [];
  const mark = (ok: boolean): string => (ok ? 'yes' : '**no**');
  return [
    '',
    "Against cannelloni 2.1.2 in the same run: two cannelloni processes on loopback, each on a vxcan pair to its ECU, with its buffer timeout set to 1000 µs as cantainer's (its own default is 100 ms). Targets: at least as many frames delivered, a receive rate no lower, nothing lost over TCP, a paced p99 latency no worse.",
    '',
    table(
      [
        'Transport',
        'Frames',
        'delivered (cantainer / cannelloni)',
        'fps',
        'p50 / p99 µs',
        'more delivered',
        'rate',
        'nothing lost (TCP)',
        'p99',
      ],
      compared.map((r) => {
        const theirs = r.cannelloni as NonNullable<TunnelResult['cannelloni']>;
        const verdict = againstCannelloni(r) ?? { delivered: false, rate: false, tail: false, tcpLossless: false };
        return [
          r.transport.toUpperCase(),
          r.fd ? 'FD' : 'classic',
          `${r.ours.received - r.ours.duplicates} / ${theirs.received - theirs.duplicates} of ${r.ours.sent}`,
          `${r.ours.fps.toFixed(0)} / ${theirs.fps.toFixed(0)}`,
          `${r.ours.latencyUs.p50.toFixed(0)}/${r.ours.latencyUs.p99.toFixed(0)} vs ${theirs.latencyUs.p50.toFixed(0)}/${theirs.latencyUs.p99.toFixed(0)}`,
          mark(verdict.delivered),
          mark(verdict.rate),
          r.transport === 'tcp' ? mark(verdict.tcpLossless) : '-',
          mark(verdict.tail),
        ];
      }),
    ),
  ];
}

function composeSection(c: ComposeResult): string {
  return [
    '## 4. `docker compose up` of 20 ECUs',
    '',
    `${c.services} services on one cantainer network (docker-compose ${c.composeVersion}, Docker Engine ${c.dockerVersion}), \`up -d\` from nothing to all running, median of ${c.rounds}; the same services on a bridge network as the baseline. Time inside the daemon: the union of its plugin requests' intervals during \`up\` (requests overlap), from its request log.`,
    '',
    table(
      ['', 'seconds'],
      [
        ['`up -d` on a cantainer bus', c.upSeconds.toFixed(1)],
        ['`up -d` on a bridge network', c.bridgeUpSeconds.toFixed(1)],
        ['ratio', ratio(c.upSeconds / c.bridgeUpSeconds)],
        [
          `inside the cantainer daemon (${c.requests} requests)`,
          `${c.daemonSeconds.toFixed(2)} (${(100 * c.daemonShare).toFixed(1)}% of \`up\`)`,
        ],
      ],
    ),
    '',
    table(
      ['Request', 'count', 'summed seconds'],
      c.methods.map((m) => [m.method, String(m.count), m.totalSeconds.toFixed(2)]),
    ),
    ...(c.retried.length === 0 ? [] : ['', `Rounds run again after the engine failed them: ${c.retried.join('; ')}.`]),
  ].join('\n');
}

/**
 * Growth over a soak, within noise or not: from the end of its second tenth to the end of its last. The first tenth
 * is where the JavaScript heap grows to its working size, once; a leak grows on through every tenth after it.
 */
export function soakVerdict(soak: SoakResult): { rssMiB: number; fds: number; joinRatio: number; flat: boolean } {
  const first = soak.windows.length >= 3 ? soak.windows[1] : soak.windows[0];
  const last = soak.windows.at(-1);
  if (first === undefined || last === undefined) return { rssMiB: 0, fds: 0, joinRatio: 1, flat: false };
  const rssMiB = Math.round((last.rssMiB - first.rssMiB) * 10) / 10;
  const fds = last.fds - first.fds;
  const joinRatio = last.joinMs.p50 / first.joinMs.p50;
  // Noise: the garbage collector moves RSS by several MiB either way; a leak of one object per cycle would not.
  return { rssMiB, fds, joinRatio, flat: rssMiB <= 16 && fds <= 0 && joinRatio <= 1.25 && soak.linksAfter === soak.linksBefore };
}

/** Whether a flood row meets the target: within 5% of the formula, every frame once and in order or counted. */
export function timingRowMet(r: TimingResult['rows'][number]): boolean {
  return Math.abs(r.measuredFps / r.formulaFps - 1) <= 0.05 && r.inOrder && r.received + r.busFull === r.sent && r.unwired === 0;
}

function timingSection(t: TimingResult): string {
  const rate = (bitrate: number): string => (bitrate >= 1_000_000 ? `${bitrate / 1_000_000}M` : `${bitrate / 1000}k`);
  const a = t.arbitration;
  const msText = (us: number): string => (us / 1000).toFixed(2);
  const missed = t.rows.filter((r) => !timingRowMet(r));
  return [
    '## 6. Timed buses (`bitrate=N`)',
    '',
    "One member floods a timed bus at 1.2 times what it carries, another receives; members are network namespaces attached to the daemon (its own process) over its control socket. Measured: the frames received per second while the bus was saturated (from 0.5 s in to the end of the flood, by the kernel's receive times). Formula: the same frames' bits on the wire (README, \"Timed buses\") at the bus's bit rates. Frames beyond a sender's queue are dropped and counted (bus-full); every other frame arrived once, in order.",
    '',
    table(
      ['Frames', 'bit rate', 'bits a frame', 'formula fps', 'measured fps', 'ratio', 'sent', 'received', 'bus-full', 'once, in order'],
      t.rows.map((r) => [
        r.label,
        `${rate(r.bitrate)}${r.dbitrate === undefined ? '' : ` / ${rate(r.dbitrate)}`}`,
        r.bitsPerFrame.toFixed(1),
        r.formulaFps.toFixed(0),
        r.measuredFps.toFixed(0),
        (r.measuredFps / r.formulaFps).toFixed(3),
        String(r.sent),
        String(r.received),
        String(r.busFull),
        r.inOrder && r.received + r.busFull === r.sent ? 'yes' : '**no**',
      ]),
    ),
    '',
    `Target, within 5% of the formula with every frame accounted for: ${missed.length === 0 ? '**met** in every row' : `**missed** in ${missed.map((r) => `${r.label} at ${rate(r.bitrate)}`).join(', ')}`}.`,
    '',
    `**Arbitration** at ${rate(a.bitrate)}: two members flood 0x100 and 0x200 at the bus's whole rate each, a third sends 0x050 every 10 frame times (10% load). Of the ${a.floodFrames} flood frames that crossed, ${(a.share * 100).toFixed(1)}% were 0x100 (target 95%). 0x050: ${a.sparseReceived.length} of ${a.sparseSent} received, from its send to its receipt p50 ${msText(a.waitUs.p50)} ms, p99 ${msText(a.waitUs.p99)} ms, max ${msText(a.waitUs.max)} ms, against a frame time of ${msText(a.frameUs)} ms (target: two frame times plus scheduling noise: the daemon's timer step of about 1 ms, and the emulator's).`,
  ].join('\n');
}

function soakSection(soak: SoakResult): string {
  const verdict = soakVerdict(soak);
  return [
    '## 7. Soak (`npm run bench -- soak`)',
    '',
    `${soak.cycles} member join/leave cycles (CreateEndpoint, Join, the engine's move of the end, Leave, DeleteEndpoint, as Docker sends them) on a bus of ${soak.residents} members that stay, with a gateway added and removed every tenth cycle (${soak.gatewayCycles} times), against the daemon on the real kernel; ${soak.seconds} s. Each row is a tenth of the run: join latency in it, resident memory and open descriptors at its end.`,
    '',
    table(
      ['Cycles', 'join p50 (ms)', 'join p99 (ms)', 'RSS (MiB)', 'open fds'],
      soak.windows.map((w) => [`${w.fromCycle}-${w.toCycle}`, ms(w.joinMs.p50), ms(w.joinMs.p99), w.rssMiB.toFixed(1), String(w.fds)]),
    ),
    '',
    `From the end of the second tenth to the end of the last (the first is where the heap grows to its working size, once): RSS ${verdict.rssMiB >= 0 ? '+' : ''}${verdict.rssMiB} MiB, open descriptors ${verdict.fds >= 0 ? '+' : ''}${verdict.fds}, join p50 ${ratio(verdict.joinRatio)}; the bus's members and rules ${soak.linksBefore} before, ${soak.linksAfter} after. Target, no growth beyond noise (16 MiB, no descriptor, 1.25x): ${verdict.flat ? 'met' : '**not met**'}.`,
  ].join('\n');
}

function daemonSection(d: DaemonResult): string {
  return [
    '## 5. The daemon: cold start and memory',
    '',
    `From spawning \`cantainer daemon\` to its first answered request (Plugin.Activate, Docker's first), median of ${d.rounds}, against a bare Node.js HTTP server on a unix socket answering the same request. The daemon answers Activate and GetCapabilities before it has loaded its buses; "ready" is the first answer to a request that needs them (EndpointOperInfo), once the state is loaded and every bus wired. Resident memory (VmRSS) one second after start, and after 100 members joined one bus.`,
    '',
    table(
      ['', 'cantainer', 'bare Node.js', 'ratio'],
      [
        [
          'cold start to first answer',
          `${ms(d.coldStartMs)} ms`,
          `${ms(d.baselineColdStartMs)} ms`,
          ratio(d.coldStartMs / d.baselineColdStartMs),
        ],
        ...(d.readyMs === undefined ? [] : [['cold start to ready', `${ms(d.readyMs)} ms`, '', '']]),
        ['restart with a bus of 100 members in the state, to ready', `${ms(d.restartWith100Ms)} ms`, '', ''],
        ['resident memory, idle', mib(d.rssIdleBytes), mib(d.baselineRssBytes), ratio(d.rssIdleBytes / d.baselineRssBytes)],
        ['resident memory, 100 members', mib(d.rss100Bytes), '', ''],
        ...(d.executable === undefined
          ? []
          : [
              [
                'cold start to first answer, self-contained executable',
                `${ms(d.executable.coldStartMs)} ms`,
                `${ms(d.baselineColdStartMs)} ms`,
                ratio(d.executable.coldStartMs / d.baselineColdStartMs),
              ],
              ...(d.executable.readyMs === undefined
                ? []
                : [['cold start to ready, self-contained executable', `${ms(d.executable.readyMs)} ms`, '', '']]),
              [
                'resident memory, idle, self-contained executable',
                mib(d.executable.rssIdleBytes),
                mib(d.baselineRssBytes),
                ratio(d.executable.rssIdleBytes / d.baselineRssBytes),
              ],
            ]),
      ],
    ),
    ...(d.executable === undefined
      ? []
      : [
          '',
          `CNI ADD end to end against a running daemon (the plugin process started as a runtime starts it, with a new namespace, to its exit with the result; median of ${d.executable.cniRounds}, each followed by a DEL): ${ms(d.executable.cniAddMs)} ms with the self-contained executable, ${ms(d.executable.cniAddNodeMs)} ms with the checkout through \`node bin/cantainer\`.`,
        ]),
  ].join('\n');
}

function profileSection(profiles: readonly ProfileResult[]): string {
  return [
    '## Where the time goes',
    '',
    'V8 CPU profiles of the daemon (sampled; inclusive and self time per function, the busiest 30).',
    ...profiles.flatMap((p) => [
      '',
      `### ${p.what}: ${p.busyMs} ms busy in ${p.wallMs} ms`,
      '',
      table(
        ['inclusive ms', 'self ms', 'function'],
        p.functions.map((f) => [f.totalMs.toFixed(1), f.selfMs.toFixed(1), `\`${f.function}\``]),
      ),
    ]),
  ].join('\n');
}

export function renderReport(results: BenchResults, facts: RunFacts, analysis: string): string {
  const m = results.machine;
  const parts = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${facts.date} (commit ${facts.commit.slice(0, 12)}; ${Math.round(facts.totalSeconds / 60)} min). Every figure comes with a baseline measured in the same VM run: under emulation absolute times are not stable, ratios are.`,
    '',
    table(
      ['Machine', ''],
      [
        ['host CPU', facts.hostCpu],
        [
          'lab VM',
          `${m?.cpus ?? '?'} vCPU (${facts.accel.toUpperCase()}${facts.accel === 'tcg' ? ', emulated: expect times 10-30x a native host' : ''}), ${m?.memoryMiB ?? '?'} MiB`,
        ],
        ['kernel', `${m?.kernel ?? '?'} (Debian), can-gw max_hops ${m?.canGwMaxHops ?? '?'}`],
        ['Node.js', m?.node ?? '?'],
      ],
    ),
    '',
    analysis.trim(),
  ];
  if (results.join) parts.push('', joinSection(results.join));
  if (results.dataplane) parts.push('', dataplaneSection(results.dataplane));
  if (results.tunnel) parts.push('', tunnelSection(results.tunnel));
  if (results.compose) parts.push('', composeSection(results.compose));
  if (results.daemon) parts.push('', daemonSection(results.daemon));
  if (results.profile) parts.push('', profileSection(results.profile));
  if (results.timing) parts.push('', timingSection(results.timing));
  if (results.soak) parts.push('', soakSection(results.soak));
  parts.push('', '## Raw results', '', '```json', JSON.stringify(results, null, 1), '```', '');
  return parts.join('\n');
}
