// The layers of src/: the bus core speaks no front door's language, imports point down only, and nothing imports
// itself through others.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { projectPath } from '../../support/helpers.js';

const root = projectPath('src');
const FRONT_DOOR_WORDS = /docker|libnetwork|endpoint|sandbox|netavark|podman|\bcni\b|kubernetes/iu;

describe('core boundaries', () => {
  for (const folder of ['bus', 'reconcile', 'state', 'service', 'tunnel', 'timing', 'cannelloni']) {
    it(`src/${folder} names no front door`, () => {
      const files = readdirSync(join(root, folder)).filter((name) => name.endsWith('.ts'));
      assert.ok(files.length > 0);
      for (const file of files) {
        const text = readFileSync(join(root, folder, file), 'utf8');
        const hit = FRONT_DOOR_WORDS.exec(text);
        assert.equal(hit, null, `src/${folder}/${file} mentions "${hit?.[0] ?? ''}"`);
      }
    });
  }
});

/** Each folder of src/ and the folders it may import from (src/README.md shows the same map). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  '.': ['netlink'],
  can: ['.'],
  netlink: ['.', 'can'],
  cannelloni: ['.', 'can'],
  metrics: ['.'],
  kernel: ['.', 'can', 'netlink'],
  transport: ['.', 'metrics'],
  bus: ['.', 'can', 'netlink'],
  reconcile: ['.', 'can', 'netlink', 'kernel', 'bus'],
  state: ['.', 'bus'],
  timing: ['.', 'can', 'kernel', 'bus'],
  service: ['.', 'can', 'netlink', 'kernel', 'bus', 'reconcile', 'state', 'timing'],
  tunnel: ['.', 'can', 'cannelloni', 'kernel', 'bus'],
  control: ['.', 'can', 'bus', 'service', 'tunnel', 'timing', 'transport'],
  docker: ['.', 'can', 'bus', 'service', 'transport'],
  topology: ['.', 'bus', 'control'],
  dashboard: ['.', 'can', 'netlink', 'kernel', 'bus', 'service', 'control', 'topology', 'transport'],
  cni: ['.', 'control'],
  netavark: ['.', 'control'],
  daemon: ['.', 'metrics', 'kernel', 'state', 'service', 'tunnel', 'timing', 'transport', 'control', 'docker', 'dashboard'],
  cli: ['.', 'can', 'netlink', 'kernel', 'bus', 'transport', 'control', 'topology', 'docker', 'daemon', 'cni', 'netavark'],
};

interface Import {
  readonly from: string;
  readonly to: string;
  /** Erased at compile time (`import type`, `export type`): no module is loaded for it. */
  readonly typeOnly: boolean;
  /** `await import(...)`: loaded only when that code runs. */
  readonly dynamic: boolean;
}

function sourceFiles(dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: Import[] = [];
  const resolve = (target: string): string => normalize(join(dirname(file), target)).replace(/\.js$/u, '.ts');
  for (const match of text.matchAll(/^(import|export)(\s+type)?\s[^;]*?from\s+'(\.[^']+)'/gmsu)) {
    const clause = match[0];
    // `import { type A, type B }` loads nothing either.
    const names = /\{([^}]*)\}/u.exec(clause)?.[1];
    const allTypes =
      names !== undefined &&
      !/^import\s+\w/u.test(clause) &&
      names.split(',').every((name) => name.trim() === '' || name.trim().startsWith('type '));
    found.push({ from: file, to: resolve(match[3] ?? ''), typeOnly: match[2] !== undefined || allTypes, dynamic: false });
  }
  for (const match of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/gu))
    found.push({ from: file, to: resolve(match[1] ?? ''), typeOnly: false, dynamic: true });
  return found;
}

describe('layers', () => {
  const files = sourceFiles();
  const imports = files.flatMap(importsOf);

  it('every folder of src/ has its place in the map', () => {
    assert.deepEqual([...new Set(files.map((file) => dirname(file).split(sep)[0] ?? '.'))].sort(), Object.keys(MAY_IMPORT).sort());
  });

  it('imports point down only', () => {
    const wrong = imports.filter(({ from, to }) => {
      const [own, target] = [dirname(from).split(sep)[0] ?? '.', dirname(to).split(sep)[0] ?? '.'];
      return own !== target && !(MAY_IMPORT[own] ?? []).includes(target);
    });
    assert.deepEqual(
      wrong.map(({ from, to }) => `${from} -> ${to}`),
      [],
    );
  });

  it('no module imports itself through others', () => {
    const next = new Map<string, string[]>();
    for (const { from, to } of imports) next.set(from, [...(next.get(from) ?? []), to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const to of next.get(file) ?? []) visit(to, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});

describe('what the commands and plugins load', () => {
  const imports = sourceFiles().flatMap(importsOf);
  /** The modules loaded at start by `entry`: static imports that are not erased, followed through. */
  const loadedBy = (entry: string): Set<string> => {
    const seen = new Set<string>([entry]);
    const queue = [entry];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      for (const edge of imports) {
        if (edge.from !== file || edge.typeOnly || edge.dynamic || seen.has(edge.to)) continue;
        seen.add(edge.to);
        queue.push(edge.to);
      }
    }
    return seen;
  };
  const HEAVY = /^(service|reconcile|state|tunnel|timing|docker\/driver|daemon\/daemon|control\/api)\b/u;

  for (const entry of ['cli/main.ts', 'cni/main.ts', 'netavark/main.ts']) {
    it(`${entry} loads neither the service nor the reconciler at start`, () => {
      assert.deepEqual([...loadedBy(entry)].filter((file) => HEAVY.test(file)).sort(), []);
    });
  }

  it('the daemon does load them (the test above can see them)', () => {
    const loaded = loadedBy('daemon/daemon.ts');
    assert.ok(loaded.has('service/buses.ts') && loaded.has('reconcile/reconciler.ts') && loaded.has('control/api.ts'));
  });
});

describe('room to live in', () => {
  const files = sourceFiles();
  it('no file of src/ is over 450 lines', () => {
    const long = files.flatMap((file) => {
      const lines = readFileSync(join(root, file), 'utf8').split('\n').length;
      return lines > 450 ? [`${file}: ${lines}`] : [];
    });
    assert.deepEqual(long, []);
  });

  it('no class of src/ is over 300 lines', () => {
    const long = files.flatMap((file) => {
      const lines = readFileSync(join(root, file), 'utf8').split('\n');
      return lines.flatMap((line, start) => {
        const name = /^(?:export )?class (\w+)/u.exec(line)?.[1];
        if (name === undefined) return [];
        // A class ends at the first closing brace at the start of a line after it (the formatter puts it there).
        const length = lines.slice(start).findIndex((text) => text === '}') + 1;
        return length > 300 ? [`${file}: class ${name}, ${length} lines`] : [];
      });
    });
    assert.deepEqual(long, []);
  });
});
