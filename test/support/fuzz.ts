// Malformed and mutated requests for the daemon's sockets, from a seed, so that a failing run can be repeated: raw
// bytes, broken HTTP, unknown methods, every method with fields of the wrong type, bad JSON, bodies over the limit
// (declared and not), deeply nested bodies, slow headers. None of them may change anything: a body that names a
// method that changes state always has a required field that cannot be taken.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { seededRandom } from './helpers.js';
import { CONTROL_ENDPOINTS } from '../../src/control/api.js';

export type FuzzSocket = 'plugin' | 'control';

export interface FuzzRequest {
  readonly socket: FuzzSocket;
  /** What kind of bad input it is, for the report. */
  readonly kind: string;
  /** What goes on the connection, in the pieces it is written in. */
  readonly pieces: readonly Buffer[];
  /** Milliseconds between pieces (slow headers). */
  readonly gapMs: number;
  /** The request is cut short: the server can only answer when its request timeout ends it. */
  readonly incomplete: boolean;
}

const PLUGIN_METHODS = [
  'Plugin.Activate',
  'NetworkDriver.GetCapabilities',
  'NetworkDriver.CreateNetwork',
  'NetworkDriver.DeleteNetwork',
  'NetworkDriver.AllocateNetwork',
  'NetworkDriver.FreeNetwork',
  'NetworkDriver.CreateEndpoint',
  'NetworkDriver.DeleteEndpoint',
  'NetworkDriver.EndpointOperInfo',
  'NetworkDriver.Join',
  'NetworkDriver.Leave',
  'NetworkDriver.DiscoverNew',
  'NetworkDriver.DiscoverDelete',
  'NetworkDriver.ProgramExternalConnectivity',
  'NetworkDriver.RevokeExternalConnectivity',
];
/** The plugin methods that change state, by the field each requires (given a wrong type, so they cannot). */
const PLUGIN_KEYS: Readonly<Record<string, string>> = {
  'NetworkDriver.CreateNetwork': 'NetworkID',
  'NetworkDriver.DeleteNetwork': 'NetworkID',
  'NetworkDriver.CreateEndpoint': 'EndpointID',
  'NetworkDriver.DeleteEndpoint': 'EndpointID',
  'NetworkDriver.Join': 'EndpointID',
  'NetworkDriver.Leave': 'EndpointID',
};
/** Methods of the control socket that change nothing, whatever they are sent. */
const READ_ONLY = new Set([
  'Bus.List',
  'Bus.Inspect',
  'Gateway.List',
  'Uplink.List',
  'Tunnel.List',
  'Member.Check',
  'Member.List',
  'Daemon.Status',
  'Fault.List',
  'Topology.Get',
]);
/** For each method that changes state, a required field the fuzzer always sends a value it cannot take. */
const CONTROL_KEYS: Readonly<Record<string, string>> = {
  'Bus.Repair': 'bus',
  'Gateway.Add': 'source',
  'Gateway.Remove': 'source',
  'Uplink.Add': 'bus',
  'Uplink.Remove': 'bus',
  'Tunnel.Add': 'bus',
  'Tunnel.Remove': 'bus',
  'Member.Attach': 'bus',
  'Member.Detach': 'bus',
  'Fault.Add': 'bus',
  'Fault.Remove': 'bus',
};
/** Every method the control socket has (a new one is fuzzed from the day it exists). */
const CONTROL_METHODS = Object.keys(CONTROL_ENDPOINTS)
  .map((path) => path.slice(1))
  .filter((method) => method !== 'Events.Stream');
for (const method of CONTROL_METHODS)
  if (!READ_ONLY.has(method) && CONTROL_KEYS[method] === undefined)
    throw new Error(`fuzz: control method ${method} changes state: name the field that keeps the fuzzer's requests from taking effect`);

export interface FuzzTargets {
  /** Names and ids that exist, so that mutated requests come close to real ones. */
  readonly buses: readonly string[];
  readonly networkIds: readonly string[];
  readonly maxBodyBytes: number;
}

function http(method: string, path: string, body: Buffer | string, headers: Record<string, string> = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: cantainer', `Content-Length: ${bytes.length}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), bytes]);
}

export function fuzzRequests(seed: number, count: number, targets: FuzzTargets): FuzzRequest[] {
  const next = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const int = (max: number): number => Math.floor(next() * max);
  const wrongValues = (): unknown[] => [
    int(1 << 20),
    -1,
    3.5,
    true,
    null,
    [],
    [pick(targets.buses)],
    {},
    { nested: { deeper: pick(targets.buses) } },
    '',
    'x'.repeat(int(5000)),
    '\u0000\uffff\ud800',
    '../../etc/passwd',
  ];
  const nearValues = (): unknown[] => [...wrongValues(), pick(targets.buses), pick(targets.networkIds), 'can0', '127.0.0.1:1', 'udp'];
  const fields = [
    'NetworkID',
    'EndpointID',
    'Options',
    'Interface',
    'SandboxKey',
    'IPv4Data',
    'bus',
    'source',
    'destination',
    'interface',
    'name',
    'member',
    'netns',
    'transport',
    'listen',
    'peer',
    'accept',
    'reject',
    'set',
    'both',
    'wait',
    'create',
    'fd',
    'annotations',
  ];

  const mutatedBody = (method: string, key: string | undefined): Record<string, unknown> => {
    const body: Record<string, unknown> = {};
    for (let i = int(6); i > 0; i--) body[pick(fields)] = pick(nearValues());
    if (key !== undefined) body[key] = pick(wrongValues().filter((value) => typeof value !== 'string'));
    if (method === 'NetworkDriver.CreateNetwork' && next() < 0.5)
      body.Options = { 'com.docker.network.generic': { [pick(['fd', 'gateway', 'uplink', 'tunnel', 'send'])]: pick(nearValues()) } };
    return body;
  };

  const makers: Array<[number, () => Omit<FuzzRequest, 'gapMs' | 'incomplete'> & Partial<FuzzRequest>]> = [
    [
      3,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'random bytes',
        pieces: [Buffer.concat([Buffer.from(Array.from({ length: 1 + int(2000) }, () => int(256))), Buffer.from('\r\n\r\n')])],
      }),
    ],
    [
      3,
      () => {
        const method = pick(PLUGIN_METHODS);
        return {
          socket: 'plugin',
          kind: 'plugin method, fields of wrong types',
          pieces: [http('POST', `/${method}`, JSON.stringify(mutatedBody(method, PLUGIN_KEYS[method])))],
        };
      },
    ],
    [
      3,
      () => {
        const method = pick(CONTROL_METHODS);
        return {
          socket: 'control',
          kind: 'control method, fields of wrong types',
          pieces: [http('POST', `/${method}`, JSON.stringify(mutatedBody(method, CONTROL_KEYS[method])))],
        };
      },
    ],
    [
      2,
      () => {
        const socket = next() < 0.5 ? 'plugin' : 'control';
        const method = pick(socket === 'plugin' ? PLUGIN_METHODS : CONTROL_METHODS);
        const good = JSON.stringify(mutatedBody(method, (socket === 'plugin' ? PLUGIN_KEYS : CONTROL_KEYS)[method]));
        const broken = pick([
          good.slice(0, int(good.length)),
          `${good}}`,
          good.replace(/:/u, ''),
          `[${good}`,
          '{"a":1,}',
          "{'a':1}",
          'null',
          '"text"',
          '42',
          '\u0000',
        ]);
        return { socket, kind: 'bad JSON', pieces: [http('POST', `/${method}`, broken)] };
      },
    ],
    [
      2,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'unknown method',
        pieces: [
          http(
            'POST',
            pick([
              '/',
              '/Nothing',
              '/Bus.List/../Bus.Repair',
              `/${'A'.repeat(int(4000))}`,
              '/NetworkDriver.',
              '/%00',
              '/Plugin.Activate?x=1',
            ]),
            '{}',
          ),
        ],
      }),
    ],
    [
      1,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'wrong HTTP method',
        pieces: [http(pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']), '/Bus.List', '{}')],
      }),
    ],
    [
      1,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'declared body over the limit',
        // Only the headers and a little of the body: the answer must come without the rest.
        pieces: [
          Buffer.from(`POST /Bus.List HTTP/1.1\r\nHost: x\r\nContent-Length: ${targets.maxBodyBytes + 1 + int(1 << 30)}\r\n\r\n{"a":`),
        ],
      }),
    ],
    [
      1,
      () => {
        const size = targets.maxBodyBytes + 1 + int(64 * 1024);
        const chunk = Buffer.alloc(size, 0x20);
        const head = Buffer.from(
          `POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`,
        );
        return {
          socket: next() < 0.5 ? 'plugin' : 'control',
          kind: 'undeclared body over the limit',
          pieces: [Buffer.concat([head, chunk, Buffer.from('\r\n0\r\n\r\n')])],
        };
      },
    ],
    [
      1,
      () => {
        const depth = 1000 + int(200_000);
        const body = `{"Options":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        const method = pick(['NetworkDriver.CreateNetwork', 'Member.Attach', 'Bus.Inspect']);
        return {
          socket: method.startsWith('Network') ? 'plugin' : 'control',
          kind: 'deeply nested body',
          pieces: [http('POST', `/${method}`, body)],
        };
      },
    ],
    [
      1,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'broken headers',
        pieces: [
          Buffer.from(
            pick([
              'POST /Bus.List HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}',
              'POST /Bus.List HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
              `POST /Bus.List HTTP/1.1\r\nX: ${'y'.repeat(20_000)}\r\n\r\n{}`,
              'POST /Bus.List HTTP/9.9\r\n\r\n',
              'POST /Bus.List\r\n\r\n',
              'POST  HTTP/1.1\r\n\r\n',
              'POST /Bus.List HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
              'POST /Bus.List HTTP/1.1\r\nHost: a\rb\r\n\r\n',
            ]),
          ),
        ],
      }),
    ],
    [
      2,
      () => ({
        socket: next() < 0.5 ? 'plugin' : 'control',
        kind: 'read-only request',
        pieces: [
          http(
            'POST',
            pick(['/Plugin.Activate', '/NetworkDriver.GetCapabilities', '/Bus.List', '/Daemon.Status', '/Tunnel.List', '/Gateway.List']),
            '',
          ),
        ],
      }),
    ],
    [
      1,
      () => {
        const whole = http('POST', '/Bus.List', '{}');
        const pieces = Array.from({ length: Math.ceil(whole.length / 8) }, (_, i) => whole.subarray(i * 8, i * 8 + 8));
        return { socket: next() < 0.5 ? 'plugin' : 'control', kind: 'slow headers', pieces, gapMs: 2 + int(10) };
      },
    ],
  ];
  const total = makers.reduce((sum, [weight]) => sum + weight, 0);
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < count; i++) {
    let roll = next() * total;
    const maker = makers.find(([weight]) => (roll -= weight) < 0)?.[1] ?? makers[0]![1];
    const made = maker();
    requests.push({ gapMs: 0, incomplete: false, ...made });
  }
  // A few requests cut short: only the request timeout can end them.
  for (let i = 0; i < Math.max(1, Math.floor(count / 1000)); i++)
    requests.push({
      socket: i % 2 === 0 ? 'plugin' : 'control',
      kind: 'request cut short',
      pieces: [Buffer.from(`POST /${i % 2 === 0 ? 'Plugin.Activate' : 'Bus.List'} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"a"`)],
      gapMs: 0,
      incomplete: true,
    });
  return requests;
}

/** What became of one request. */
export interface FuzzOutcome {
  readonly request: FuzzRequest;
  /** The HTTP status answered, if any. */
  readonly status?: number;
  /** Milliseconds until the answer's first bytes, or until the connection closed without one. */
  readonly ms: number;
  /** The connection closed before an answer came; or no answer came within the wait. */
  readonly closedWithoutAnswer: boolean;
  readonly noAnswer: boolean;
}

/** Sends one request on a connection of its own; waits up to `waitMs` for the answer's status line. */
export function sendFuzz(socketPath: string, request: FuzzRequest, waitMs: number): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(socketPath);
    let text = '';
    let settled = false;
    const settle = (outcome: Omit<FuzzOutcome, 'request' | 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ request, ms: performance.now() - started, ...outcome });
    };
    const timer = setTimeout(() => {
      settle({ closedWithoutAnswer: false, noAnswer: true });
    }, waitMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /u.exec(text);
      if (match !== null) settle({ status: Number(match[1]), closedWithoutAnswer: false, noAnswer: false });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      settle({ closedWithoutAnswer: true, noAnswer: false });
    });
    socket.on('connect', () => {
      void (async () => {
        for (const piece of request.pieces) {
          if (settled) return;
          socket.write(piece);
          if (request.gapMs > 0) await new Promise((done) => setTimeout(done, request.gapMs));
        }
      })();
    });
  });
}

/** Sends the requests, `concurrency` connections at a time (bursts of many at once), in order of the list. */
export async function runFuzz(
  sockets: Readonly<Record<FuzzSocket, string>>,
  requests: readonly FuzzRequest[],
  options: { readonly concurrency: number; readonly waitMs: number },
): Promise<FuzzOutcome[]> {
  const outcomes: FuzzOutcome[] = new Array<FuzzOutcome>(requests.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    for (let i = nextIndex++; i < requests.length; i = nextIndex++) {
      const request = requests[i]!;
      // A request cut short is only answered when the server's request timeout ends it.
      outcomes[i] = await sendFuzz(sockets[request.socket], request, request.incomplete ? options.waitMs + 15_000 : options.waitMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}

/** Counts by kind and status, and the requests that got no answer or a closed connection. */
export function fuzzReport(outcomes: readonly FuzzOutcome[]): {
  readonly byKind: Record<string, Record<string, number>>;
  readonly unanswered: FuzzOutcome[];
  readonly closed: FuzzOutcome[];
  readonly slowestMs: number;
} {
  const byKind: Record<string, Record<string, number>> = {};
  for (const outcome of outcomes) {
    const key = outcome.status === undefined ? (outcome.noAnswer ? 'no answer' : 'closed') : String(outcome.status);
    const kind = (byKind[outcome.request.kind] ??= {});
    kind[key] = (kind[key] ?? 0) + 1;
  }
  return {
    byKind,
    unanswered: outcomes.filter((outcome) => outcome.noAnswer),
    closed: outcomes.filter((outcome) => outcome.closedWithoutAnswer),
    slowestMs: Math.max(0, ...outcomes.filter((outcome) => !outcome.request.incomplete).map((outcome) => outcome.ms)),
  };
}

/**
 * The promises every fuzz run checks: each complete request answered within the wait, no connection closed without
 * an answer, each request cut short answered 408 when its time is up. Failures name the first few requests.
 */
export function assertEveryRequestAnswered(outcomes: readonly FuzzOutcome[]): void {
  const { unanswered, closed } = fuzzReport(outcomes);
  const named = (list: readonly FuzzOutcome[]): string[] =>
    list.slice(0, 5).map(
      (o) =>
        `${o.request.kind} (${Math.round(o.ms)} ms): ${JSON.stringify(
          Buffer.concat([...o.request.pieces])
            .subarray(0, 100)
            .toString('latin1'),
        )}`,
    );
  assert.deepEqual(named(unanswered.filter((o) => !o.request.incomplete)), [], 'every complete request answered at once');
  assert.deepEqual(named(closed), [], 'no connection closed without an answer');
  const cut = outcomes.filter((o) => o.request.incomplete);
  assert.ok(cut.length > 0 && cut.every((o) => o.status === 408), 'a request cut short is answered 408 when its time is up');
}
