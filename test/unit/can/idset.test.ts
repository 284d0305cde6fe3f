import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidValueError } from '../../../src/errors.js';
import { CAN_EFF_FLAG, CAN_RTR_FLAG } from '../../../src/can/frame.js';
import {
  disjointFilters,
  formatIdFilter,
  matchesFilter,
  parseIdFilter,
  selectionFilters,
  type IdFilter,
  type IdSelection,
} from '../../../src/can/idset.js';
import { parseIdList } from '../../../src/bus/model.js';
import { seededRandom } from '../../support/helpers.js';

const EFF = CAN_EFF_FLAG >>> 0;

function matching(filters: readonly IdFilter[], canId: number): number {
  return filters.filter((filter) => matchesFilter(filter, canId)).length;
}

describe('CAN id filters', () => {
  it('parses standard and extended filters as the kernel needs them, EFF flag in the mask', () => {
    assert.deepEqual(parseIdFilter('accept', '123/7F0'), { id: 0x123, mask: (0x7f0 | EFF) >>> 0 });
    assert.deepEqual(parseIdFilter('accept', '7DF'), { id: 0x7df, mask: (0x7ff | EFF) >>> 0 });
    assert.deepEqual(parseIdFilter('accept', '18DAF110/1FFFFF00'), { id: (0x18daf110 | EFF) >>> 0, mask: (0x1fffff00 | EFF) >>> 0 });
    assert.equal(formatIdFilter(parseIdFilter('accept', '123/7f0')), '123/7F0');
    assert.equal(formatIdFilter(parseIdFilter('accept', '18daf110/1fffff00')), '18DAF110/1FFFFF00');
  });

  it("takes candump's ID:MASK and 0x prefixes as python-can users write them (#22)", () => {
    assert.deepEqual(parseIdFilter('accept', '123:7F0'), parseIdFilter('accept', '123/7F0'));
    assert.deepEqual(parseIdFilter('accept', '0x7DF'), parseIdFilter('accept', '7DF'));
    assert.deepEqual(parseIdFilter('accept', '0x123/0x7F0'), parseIdFilter('accept', '123/7F0'));
    assert.deepEqual(parseIdFilter('accept', '0x18DAF110:0X1FFFFF00'), parseIdFilter('accept', '18DAF110/1FFFFF00'));
    assert.deepEqual(parseIdList('--filter', ['123~7FF', '100/700']), parseIdList('--filter', ['!123', '100/700']));
  });

  it('refuses what is not a filter, naming the field and the syntax', () => {
    for (const bad of ['', 'xyz', '123/', '800', '123/FFF', '20000000', '123/7FF/1', '0x', '123:', '0x0x123', '123:7FF/1']) {
      assert.throws(
        () => parseIdFilter('--accept', bad),
        (error: unknown) =>
          error instanceof InvalidValueError && error.field === '--accept' && /ID or ID\/MASK in hex/u.test(error.message),
        bad,
      );
    }
  });

  it('keeps standard and extended ids apart', () => {
    const standard = parseIdFilter('f', '123');
    assert.equal(matchesFilter(standard, 0x123), true);
    assert.equal(matchesFilter(standard, (0x123 | EFF) >>> 0), false, 'an extended frame with the same low bits');
    assert.equal(matchesFilter(standard, (0x123 | CAN_RTR_FLAG) >>> 0), true, 'a remote frame of that id');
  });

  it('gives two filters for everything: all standard and all extended frames', () => {
    const all = disjointFilters([]);
    assert.equal(all.length, 2);
    for (const id of [0, 0x7ff, EFF, (0x1fffffff | EFF) >>> 0]) assert.equal(matching(all, id), 1);
  });

  it('turns overlapping accepts into disjoint filters: 100/700 and 123 match 0x123 once', () => {
    const filters = disjointFilters([parseIdFilter('a', '100/700'), parseIdFilter('a', '123')]);
    assert.equal(matching(filters, 0x123), 1);
    assert.equal(matching(filters, 0x1ff), 1);
    assert.equal(matching(filters, 0x200), 0);
  });

  it('rejects ids from everything, or from the accepted ones', () => {
    const allBut = disjointFilters([], [parseIdFilter('r', '7DF')]);
    assert.equal(matching(allBut, 0x7df), 0);
    assert.equal(matching(allBut, 0x7de), 1);
    assert.equal(matching(allBut, (0x7df | EFF) >>> 0), 1, 'the extended id 0x7DF is another id');
    assert.equal(allBut.length, 12, 'the other 2047 standard ids in 11 filters, and every extended frame in one');
    const some = disjointFilters([parseIdFilter('a', '100/700')], [parseIdFilter('r', '120/7F0'), parseIdFilter('r', '1FF')]);
    for (let id = 0; id <= 0x7ff; id++) {
      const expected = (id & 0x700) === 0x100 && (id & 0x7f0) !== 0x120 && id !== 0x1ff ? 1 : 0;
      assert.equal(matching(some, id), expected, id.toString(16));
    }
  });

  it('matches every frame exactly as often as set algebra says: once inside the set, never outside (random lists)', () => {
    const random = seededRandom(20261125);
    const pick = (): IdFilter => {
      const extended = random() < 0.3;
      const idBits = extended ? 0x1fffffff : 0x7ff;
      const id = Math.floor(random() * (idBits + 1));
      // Masks with few set bits make large, overlapping sets.
      let mask = 0;
      for (let bit = 0; bit < (extended ? 29 : 11); bit++) if (random() < 0.25) mask |= 1 << bit;
      return { id: extended ? (id | EFF) >>> 0 : id, mask: (mask | EFF) >>> 0 };
    };
    for (let round = 0; round < 200; round++) {
      const accept = Array.from({ length: Math.floor(random() * 4) }, pick);
      const reject = Array.from({ length: Math.floor(random() * 4) }, pick);
      const filters = disjointFilters(accept, reject);
      for (let sample = 0; sample < 200; sample++) {
        const extended = random() < 0.5;
        const canId = extended ? (Math.floor(random() * 0x20000000) | EFF) >>> 0 : Math.floor(random() * 0x800);
        const inAccept = accept.length === 0 || accept.some((f) => matchesFilter(f, canId));
        const inReject = reject.some((f) => matchesFilter(f, canId));
        assert.equal(matching(filters, canId), inAccept && !inReject ? 1 : 0, `round ${round}, id ${canId.toString(16)}`);
      }
    }
  });

  it("intersects selections (a sender's and a receiver's, a gateway's): once inside all of them, never outside (random)", () => {
    const random = seededRandom(7);
    const pick = (): IdFilter => {
      const extended = random() < 0.3;
      const id = Math.floor(random() * (extended ? 0x20000000 : 0x800));
      let mask = 0;
      for (let bit = 0; bit < (extended ? 29 : 11); bit++) if (random() < 0.3) mask |= 1 << bit;
      return { id: extended ? (id | EFF) >>> 0 : id, mask: (mask | EFF) >>> 0 };
    };
    for (let round = 0; round < 200; round++) {
      const selections: IdSelection[] = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        accept: Array.from({ length: Math.floor(random() * 3) }, pick),
        reject: Array.from({ length: Math.floor(random() * 2) }, pick),
      }));
      const filters = selectionFilters(selections);
      for (let sample = 0; sample < 200; sample++) {
        const canId = random() < 0.5 ? (Math.floor(random() * 0x20000000) | EFF) >>> 0 : Math.floor(random() * 0x800);
        const inside = selections.every(
          (s) => (s.accept.length === 0 || s.accept.some((f) => matchesFilter(f, canId))) && !s.reject.some((f) => matchesFilter(f, canId)),
        );
        const count = filters.filter((f) => f === undefined || matchesFilter(f, canId)).length;
        assert.equal(count, inside ? 1 : 0, `round ${round}, id ${canId.toString(16)}`);
      }
    }
    assert.deepEqual(selectionFilters([{ accept: [], reject: [] }]), [undefined]);
    assert.deepEqual(
      selectionFilters([
        { accept: [], reject: [parseIdFilter('r', '7DF')] },
        { accept: [], reject: [] },
      ]),
      [{ id: 0x200007df, mask: (0x7ff | EFF) >>> 0 }],
    );
  });
});
