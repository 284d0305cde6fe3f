// The desired state on disk: one JSON file with a schema version, written atomically (temporary file, fsync,
// rename, fsync of the directory), so that a crash at any moment leaves either the old or the new state. A file
// that cannot be read (corrupt, or written by a newer version) is moved aside, never overwritten, and reported;
// the caller then keeps serving with an empty state and must not clean the kernel up on its basis.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CantainerError, errorMessage } from '../errors.js';
import type { Bus } from '../bus/model.js';
import { parseState, serializeState, STATE_VERSION, type DesiredState } from './schema.js';

export const STATE_FILE = 'state.json';

export class StateFileError extends CantainerError {
  /** Where the unreadable file was moved. */
  readonly keptAt: string;

  constructor(message: string, keptAt: string, cause: unknown) {
    super('ESTATE', `${message}; the file was kept as ${keptAt} and the daemon goes on with an empty state`, {
      cause,
      hint: `inspect or repair ${keptAt}; to use it again, stop the daemon and move it back to ${STATE_FILE}`,
    });
    this.keptAt = keptAt;
  }
}

export interface LoadedState {
  readonly state: DesiredState;
  /** Set when the file could not be used: the state is then empty, and does not describe the kernel. */
  readonly problem?: StateFileError;
}

/** Writes up to `length` bytes of `buffer` from `offset` to `fd`, returning how many it wrote (writeSync's contract). */
export type StateWrite = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

export const EMPTY_STATE: DesiredState = { buses: [], gateways: [] };

export class StateStore {
  readonly dir: string;
  readonly path: string;
  readonly #now: () => Date;
  readonly #write: StateWrite;

  constructor(dir: string, options: { now?: () => Date; write?: StateWrite } = {}) {
    this.dir = dir;
    this.path = join(dir, STATE_FILE);
    this.#now = options.now ?? (() => new Date());
    this.#write = options.write ?? ((fd, buffer, offset, length) => writeSync(fd, buffer, offset, length));
  }

  load(): LoadedState {
    if (!existsSync(this.path)) return { state: EMPTY_STATE };
    const text = readFileSync(this.path, 'utf8');
    try {
      return { state: parseState(text) };
    } catch (error) {
      const keptAt = `${this.path}.unreadable-${this.#now().toISOString().replace(/[:.]/gu, '-')}`;
      renameSync(this.path, keptAt);
      return {
        state: EMPTY_STATE,
        problem: new StateFileError(`state file ${this.path}: ${errorMessage(error)}`, keptAt, error),
      };
    }
  }

  save(state: DesiredState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const bytes = Buffer.from(serializeState(state), 'utf8');
    const temporary = `${this.path}.tmp`;
    // A temporary file left by a crash (or planted there) is never written through: a new file each time.
    rmSync(temporary, { force: true });
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      try {
        // A write may take fewer bytes than asked (a nearly full disk): write until every byte is down, and check
        // the size the file has before it replaces the good one. A short file must never be renamed over it.
        for (let done = 0; done < bytes.length;) {
          const written = this.#write(fd, bytes, done, bytes.length - done);
          if (written <= 0) throw new Error(`writing ${temporary}: no progress after ${done} of ${bytes.length} bytes`);
          done += written;
        }
        fsyncSync(fd);
        const size = fstatSync(fd).size;
        if (size !== bytes.length) throw new Error(`${temporary} holds ${size} bytes after writing ${bytes.length}`);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
    renameSync(temporary, this.path);
    // The rename itself is durable only once the directory is synced.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

export function findBus(state: DesiredState, id: string): Bus | undefined {
  return state.buses.find((bus) => bus.id === id);
}

export { STATE_VERSION, type DesiredState };
