// Where a process spends its time: a V8 CPU profile (node --cpu-prof) summed per function, self and inclusive.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  readonly function: string;
  /** Milliseconds in the function itself, and in it or anything it called. */
  readonly selfMs: number;
  readonly totalMs: number;
}

function keyOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\/.*?\/(dist\/|node_modules\/)/u, '$1').replace(/^node:/u, 'node:');
  return `${functionName === '' ? '(anonymous)' : functionName}${file === '' ? '' : ` ${file}:${lineNumber + 1}`}`;
}

/** Per function, busiest first (by inclusive time); `(idle)` and the profile's root are left out. */
export function summariseProfile(profile: CpuProfile): { busyMs: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const selfByKey = new Map<string, number>();
  const totalByKey = new Map<string, number>();
  let busyMs = 0;
  // Depth first from the root; a function's inclusive time counts each call stack once, even when it recurses.
  const walk = (id: number, open: ReadonlySet<string>): number => {
    const node = byId.get(id);
    if (node === undefined) return 0;
    if (node.callFrame.functionName === '(idle)') return 0;
    const key = keyOf(node);
    const own = self.get(id) ?? 0;
    const inner = new Set(open).add(key);
    let total = own;
    for (const child of node.children ?? []) total += walk(child, inner);
    if (node.callFrame.functionName === '(root)') return total;
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + own);
    if (!open.has(key)) totalByKey.set(key, (totalByKey.get(key) ?? 0) + total);
    busyMs += own;
    return total;
  };
  const root = profile.nodes[0];
  if (root !== undefined) walk(root.id, new Set());
  const functions = [...totalByKey.entries()].map(([key, totalMs]) => ({
    function: key,
    selfMs: Math.round((selfByKey.get(key) ?? 0) * 10) / 10,
    totalMs: Math.round(totalMs * 10) / 10,
  }));
  functions.sort((a, b) => b.totalMs - a.totalMs);
  return { busyMs: Math.round(busyMs), functions };
}
