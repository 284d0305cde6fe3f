import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../../../src/bus/model.js';
import { parseState, StateFormatError } from '../../../src/state/schema.js';
import { EMPTY_STATE, STATE_FILE, StateFileError, StateStore } from '../../../src/state/store.js';

const bus: Bus = {
  id: 'net-1',
  name: 'powertrain',
  fd: true,
  members: [
    { id: 'ep-1', end: { name: 'vx1' }, annotations: { prefix: 'can' } },
    { id: 'ep-2', end: { name: 'dcan0', up: true } },
    { id: 'ep-3', end: { name: 'can0', netns: '/proc/7/ns/net' } },
  ],
  annotations: { origin: 'test' },
};

describe('state store', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'cantainer-state-')), 'state');
    store = new StateStore(dir, { now: () => new Date('2026-01-02T03:04:05.678Z') });
  });
  afterEach(() => {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('starts empty when there is no file, and creates its directory private on the first save', () => {
    assert.deepEqual(store.load(), { state: EMPTY_STATE });
    store.save({ buses: [bus] });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(store.path).mode & 0o777, 0o600);
  });

  it('round-trips buses, members and annotations exactly, with the schema version in the file', () => {
    const gateway = {
      source: 'powertrain',
      destination: 'body',
      both: false,
      accept: ['7DF/7FF'],
      reject: [],
      edits: [{ operation: 'set', field: 'id', value: '123' }],
      xorChecksum: { from: 0, to: 6, at: 7, init: 0 },
    } as const;
    store.save({ buses: [bus, { id: 'net-2', name: 'body', fd: false, members: [] }], gateways: [gateway] });
    assert.deepEqual(store.load(), { state: { buses: [bus, { id: 'net-2', name: 'body', fd: false, members: [] }], gateways: [gateway] } });
    assert.equal((JSON.parse(readFileSync(store.path, 'utf8')) as { version: unknown }).version, 2);
  });

  it('reads a version 1 file (before gateways) as having none', () => {
    store.save(EMPTY_STATE);
    writeFileSync(store.path, JSON.stringify({ version: 1, buses: [bus] }));
    assert.deepEqual(store.load(), { state: { buses: [bus], gateways: [] } });
  });

  it('replaces the file by rename: no temporary file is left, and a stale one from a crash is ignored', () => {
    store.save({ buses: [bus] });
    writeFileSync(`${store.path}.tmp`, '{"half": ');
    assert.deepEqual(store.load().state.buses, [bus]);
    store.save({ buses: [] });
    assert.deepEqual(readdirSync(dir), [STATE_FILE]);
    assert.deepEqual(store.load().state.buses, []);
  });

  it('keeps a corrupt file aside, says where and why, and goes on empty', () => {
    store.save({ buses: [bus] });
    writeFileSync(store.path, '{"version": 1, "buses": [');
    const loaded = store.load();
    assert.deepEqual(loaded.state, EMPTY_STATE);
    assert.ok(loaded.problem instanceof StateFileError);
    const keptAt = `${store.path}.unreadable-2026-01-02T03-04-05-678Z`;
    assert.equal(loaded.problem.keptAt, keptAt);
    assert.match(
      loaded.problem.message,
      /^state file .*state\.json: file: not JSON .*; the file was kept as .*unreadable-2026-01-02T03-04-05-678Z and the daemon goes on with an empty state$/u,
    );
    assert.equal(readFileSync(keptAt, 'utf8'), '{"version": 1, "buses": [');
    assert.equal(existsSync(store.path), false);
    assert.deepEqual(store.load(), { state: EMPTY_STATE }, 'the next start begins cleanly');
  });

  it('keeps a file of an unknown version aside rather than misreading it', () => {
    store.save(EMPTY_STATE);
    writeFileSync(store.path, JSON.stringify({ version: 3, buses: [], gateways: [] }));
    const loaded = store.load();
    assert.match(loaded.problem?.message ?? '', /version: 3 is not a state version this cantainer reads \(it reads versions 1 and 2\)/u);
    assert.ok(existsSync(loaded.problem?.keptAt ?? ''));
  });
});

describe('state schema', () => {
  const refuses = (state: unknown, field: string, detail: RegExp): void => {
    assert.throws(
      () => parseState(JSON.stringify(state)),
      (error: unknown) => error instanceof StateFormatError && error.field === field && detail.test(error.message),
    );
  };

  it('names the first bad field', () => {
    refuses({ version: 1, buses: {} }, 'buses', /is not an array/u);
    refuses(
      { version: 2, buses: [], gateways: [{ source: 'a', destination: 'a', both: false, accept: [], reject: [], edits: [] }] },
      'gateways[0]',
      /destination: "a" is not valid; allowed: another bus than the source/u,
    );
    refuses(
      { version: 2, buses: [], gateways: [{ source: 'a', destination: 'b', both: false, accept: ['xyz'], reject: [], edits: [] }] },
      'gateways[0]',
      /accept: "xyz"/u,
    );
    const ab = { source: 'a', destination: 'b', both: false, accept: [], reject: [], edits: [] };
    refuses({ version: 2, buses: [], gateways: [ab, { ...ab, both: true }] }, 'gateways', /a second gateway between a <> b/u);
    refuses({ version: 2, buses: [], gateways: [ab, ab] }, 'gateways', /a second gateway between a <> b/u);
    refuses({ version: 1, buses: [{ ...bus, fd: 'yes' }] }, 'buses[0].fd', /"yes" is not true or false/u);
    refuses(
      { version: 1, buses: [{ ...bus, members: [{ id: 'x', end: { name: 7 } }] }] },
      'buses[0].members[0].end.name',
      /7 is not a string/u,
    );
    refuses({ version: 1, buses: [{ ...bus, annotations: { a: 1 } }] }, 'buses[0].annotations.a', /1 is not a string/u);
    refuses({ buses: [] }, 'version', /undefined is not a state version/u);
    refuses([], 'file', /is not an object/u);
  });

  it('applies the bus rules: a 16-character end name, duplicate bus ids', () => {
    refuses(
      { version: 1, buses: [{ ...bus, members: [{ id: 'x', end: { name: 'a23456789012345x' } }] }] },
      'buses[0]',
      /member x interface: "a23456789012345x"/u,
    );
    refuses({ version: 1, buses: [bus, bus] }, 'buses[1].id', /"net-1" appears twice/u);
  });

  it("keeps a bus's span across hosts, and refuses one that cannot span (#24)", () => {
    const spanned: Bus = { ...bus, span: { mode: 'nodes', hub: '10.0.0.1:7000', nodes: ['10.0.0.1', '10.0.0.2'] } };
    assert.deepEqual(
      parseState(JSON.stringify({ version: 2, buses: [spanned, { ...bus, id: 'net-2', span: { mode: 'swarm', port: 29000 } }] })).buses,
      [spanned, { ...bus, id: 'net-2', span: { mode: 'swarm', port: 29000 } }],
    );
    refuses({ version: 2, buses: [{ ...bus, span: { mode: 'swarm', port: '29000' } }] }, 'buses[0].span.port', /"29000" is not a number/u);
    refuses(
      { version: 2, buses: [{ ...bus, span: { mode: 'nodes', nodes: ['10.0.0.2'] } }] },
      'buses[0]',
      /bus\.span hub: .*a span of nodes names it/u,
    );
  });

  it('drops unknown fields instead of carrying them into the typed state', () => {
    const parsed = parseState(JSON.stringify({ version: 1, buses: [{ ...bus, surprise: 1 }] }));
    assert.deepEqual(parsed.buses[0], bus);
  });
});

describe('state store on a disk that takes fewer bytes than asked (#22)', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'cantainer-state-')), 'state');
    store = new StateStore(dir);
  });
  afterEach(() => {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  const enospc = (): never => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };

  it('writes in as many pieces as the disk takes', () => {
    const pieces: number[] = [];
    const slow = new StateStore(dir, {
      write: (fd, buffer, offset, length) => {
        const n = writeSync(fd, buffer, offset, Math.min(length, 100));
        pieces.push(n);
        return n;
      },
    });
    slow.save({ buses: [bus], gateways: [] });
    assert.ok(pieces.length > 1);
    assert.deepEqual(parseState(readFileSync(join(dir, STATE_FILE), 'utf8')).buses, [bus]);
  });

  it('keeps the good file when the disk fills up mid-write, and leaves no temporary file', () => {
    store.save({ buses: [bus], gateways: [] });
    const good = readFileSync(join(dir, STATE_FILE));
    let calls = 0;
    const full = new StateStore(dir, {
      write: (fd, buffer, offset, length) => (++calls === 1 ? writeSync(fd, buffer, offset, Math.floor(length / 2)) : enospc()),
    });
    assert.throws(() => {
      full.save({ buses: [bus, { ...bus, id: 'net-2' }], gateways: [] });
    }, /ENOSPC/u);
    assert.deepEqual(readFileSync(join(dir, STATE_FILE)), good);
    assert.deepEqual(readdirSync(dir), [STATE_FILE]);
    const stalled = new StateStore(dir, { write: () => 0 });
    assert.throws(() => {
      stalled.save(EMPTY_STATE);
    }, /no progress after 0 of \d+ bytes/u);
    assert.deepEqual(readFileSync(join(dir, STATE_FILE)), good);
    assert.deepEqual(readdirSync(dir), [STATE_FILE]);
  });
});
