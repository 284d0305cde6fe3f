// Sets of CAN ids as lists of disjoint kernel filters. A can-gw rule carries one filter (can_id/can_mask), and
// several rules between the same two interfaces forward a frame once per rule that matches it, so "accept these,
// except those" must become filters that never overlap: then every frame is matched by at most one rule and is
// forwarded at most once. The sets are unions of ternary cubes over the 30 bits that identify a frame (the EFF
// flag and 29 id bits); the RTR and error flags are never part of a filter, so data and remote frames match alike.
import { InvalidValueError } from '../errors.js';
import { CAN_EFF_FLAG, CAN_EFF_MASK, CAN_INV_FILTER, CAN_SFF_MASK } from './frame.js';

/** A kernel can_filter: a frame matches when (frame.can_id & mask) === (id & mask). Flags included. */
export interface IdFilter {
  readonly id: number;
  readonly mask: number;
}

/** The bits a filter may look at: the EFF flag and the 29-bit id. */
const KEY_BITS = (CAN_EFF_FLAG | CAN_EFF_MASK) >>> 0;

/** A cube: the frames whose key bits under `care` equal `value`. */
interface Cube {
  readonly value: number;
  readonly care: number;
}

/** Every standard frame (EFF clear, bits above the 11-bit id clear) and every extended frame. */
const UNIVERSE: readonly Cube[] = [
  { value: 0, care: (CAN_EFF_FLAG | (CAN_EFF_MASK & ~CAN_SFF_MASK)) >>> 0 },
  { value: CAN_EFF_FLAG >>> 0, care: CAN_EFF_FLAG >>> 0 },
];

function cube(filter: IdFilter): Cube {
  const care = (filter.mask & KEY_BITS) >>> 0;
  return { value: (filter.id & care) >>> 0, care };
}

function disjoint(a: Cube, b: Cube): boolean {
  const both = (a.care & b.care) >>> 0;
  return ((a.value ^ b.value) & both) >>> 0 !== 0;
}

/** a minus b as disjoint cubes (the disjoint sharp product). */
function minus(a: Cube, b: Cube): Cube[] {
  if (disjoint(a, b)) return [a];
  const pieces: Cube[] = [];
  let rest = a;
  for (let bit = 31; bit >= 0; bit--) {
    const m = (1 << bit) >>> 0;
    if ((b.care & m) === 0 || (rest.care & m) !== 0) continue;
    // The half of `rest` whose bit differs from b's lies outside b: keep it; go on with the other half.
    pieces.push({ value: ((rest.value & ~m) | (~b.value & m)) >>> 0, care: (rest.care | m) >>> 0 });
    rest = { value: ((rest.value & ~m) | (b.value & m)) >>> 0, care: (rest.care | m) >>> 0 };
  }
  // What is left of `rest` lies inside b.
  return pieces;
}

function minusAll(pieces: Cube[], remove: readonly Cube[]): Cube[] {
  let result = pieces;
  for (const r of remove) result = result.flatMap((piece) => minus(piece, r));
  return result;
}

/** The union of cubes as disjoint cubes. */
function union(cubes: readonly Cube[]): Cube[] {
  const result: Cube[] = [];
  for (const c of cubes) result.push(...minusAll([c], result));
  return result;
}

/**
 * The frames in any of `accept` (every frame when it is empty) and in none of `reject`, as filters no two of which
 * match the same frame, restricted to frames that exist (a standard id has 11 bits).
 */
export function disjointFilters(accept: readonly IdFilter[], reject: readonly IdFilter[] = []): IdFilter[] {
  const base = accept.length === 0 ? [...UNIVERSE] : union(accept.map(cube)).flatMap((c) => UNIVERSE.flatMap((u) => intersect(c, u)));
  return minusAll(base, union(reject.map(cube))).map((c) => ({ id: c.value, mask: c.care }));
}

/** Ids to let through: those in any of `accept` (every id when it is empty) and in none of `reject`. */
export interface IdSelection {
  readonly accept: readonly IdFilter[];
  readonly reject: readonly IdFilter[];
}

/**
 * The frames every one of `selections` lets through, as kernel filters no two of which match the same frame;
 * `[undefined]` (one rule without a filter) when they let everything through. "Everything but one set" becomes a
 * single inverted filter (CAN_INV_FILTER) rather than its complement in many pieces.
 */
export function selectionFilters(selections: readonly IdSelection[]): Array<IdFilter | undefined> {
  const accepting = selections.filter((selection) => selection.accept.length > 0);
  const rejects = selections.flatMap((selection) => selection.reject);
  if (accepting.length === 0 && rejects.length === 0) return [undefined];
  const [single] = rejects;
  if (accepting.length === 0 && rejects.length === 1 && single !== undefined)
    return [{ id: (single.id | CAN_INV_FILTER) >>> 0, mask: single.mask }];
  let base: Cube[] = [...UNIVERSE];
  for (const selection of accepting) {
    const allowed = union(selection.accept.map(cube));
    base = base.flatMap((piece) => allowed.flatMap((other) => intersect(piece, other)));
  }
  return minusAll(base, union(rejects.map(cube))).map((c) => ({ id: c.value, mask: c.care }));
}

function intersect(a: Cube, b: Cube): Cube[] {
  if (disjoint(a, b)) return [];
  return [{ value: ((a.value & a.care) | (b.value & b.care)) >>> 0, care: (a.care | b.care) >>> 0 }];
}

/** Whether a frame with this can_id (flags included) passes the filter, as the kernel decides it (inverted too). */
export function matchesFilter(filter: IdFilter, canId: number): boolean {
  const inverted = (filter.id & CAN_INV_FILTER) !== 0;
  const equal = ((canId ^ filter.id) & filter.mask & ~CAN_INV_FILTER) >>> 0 === 0;
  return inverted ? !equal : equal;
}

const FILTER_SYNTAX =
  'ID or ID/MASK in hex: 3 digits for a standard id (123/7F0), 8 for an extended one (18DAF110/1FFFFF00); ID:MASK as candump writes it, and 0x before ids and masks, are taken too';

/**
 * Parses `ID/MASK` (or `ID` alone for exactly that id), in hex as candump writes them. Eight digits make an
 * extended id, as in can-utils; the filter then matches extended frames only, and a short one standard frames only.
 */
export function parseIdFilter(field: string, text: string): IdFilter {
  // candump's ID:MASK and python-can's 0x prefixes are the same filter.
  const match = /^(?:0[xX])?([0-9A-Fa-f]{1,8})(?:[/:](?:0[xX])?([0-9A-Fa-f]{1,8}))?$/u.exec(text);
  if (match?.[1] === undefined) throw new InvalidValueError(field, text, FILTER_SYNTAX);
  const extended = match[1].length === 8;
  const limit = extended ? CAN_EFF_MASK : CAN_SFF_MASK;
  const id = Number.parseInt(match[1], 16);
  const mask = match[2] === undefined ? limit : Number.parseInt(match[2], 16);
  if (id > limit || mask > limit)
    throw new InvalidValueError(
      field,
      text,
      `${FILTER_SYNTAX}; a ${extended ? 'extended id and mask fit in 29' : 'standard id and mask fit in 11'} bits`,
    );
  return extended ? { id: (id | CAN_EFF_FLAG) >>> 0, mask: (mask | CAN_EFF_FLAG) >>> 0 } : { id, mask: (mask | CAN_EFF_FLAG) >>> 0 };
}

export function formatIdFilter(filter: IdFilter): string {
  const extended = (filter.id & CAN_EFF_FLAG) !== 0;
  const digits = extended ? 8 : 3;
  const idMask = extended ? CAN_EFF_MASK : CAN_SFF_MASK;
  const hex = (n: number): string => (n & idMask).toString(16).toUpperCase().padStart(digits, '0');
  return `${hex(filter.id)}/${hex(filter.mask)}`;
}
