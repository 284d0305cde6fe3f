import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Errno } from '../../../src/netlink/errno.js';
import { retryInterrupted } from '../../../src/kernel/retry.js';

/** A scripted system call: each entry is a return value, or an errno for a failed call. */
function scripted(outcomes: Array<number | { errno: number }>): { call: () => number; errno: () => number; calls: () => number } {
  let index = 0;
  let lastErrno = 0;
  return {
    call: () => {
      const next = outcomes[index++];
      if (next === undefined) throw new Error('called more often than scripted');
      if (typeof next === 'number') return next;
      lastErrno = next.errno;
      return -1;
    },
    errno: () => lastErrno,
    calls: () => index,
  };
}

describe('retryInterrupted', () => {
  it('repeats a call interrupted by a signal and returns what the repeated call returned', () => {
    const call = scripted([{ errno: Errno.EINTR }, { errno: Errno.EINTR }, 36]);
    assert.deepEqual(retryInterrupted(call.call, call.errno), { ok: true, value: 36 });
    assert.equal(call.calls(), 3);
  });

  it('reports EAGAIN (no data) at once, not as an interruption', () => {
    const call = scripted([{ errno: Errno.EAGAIN }]);
    assert.deepEqual(retryInterrupted(call.call, call.errno), { ok: false, errno: Errno.EAGAIN });
    assert.equal(call.calls(), 1);
  });

  it('reports other errors at once', () => {
    const call = scripted([{ errno: Errno.EINTR }, { errno: Errno.ENOBUFS }]);
    assert.deepEqual(retryInterrupted(call.call, call.errno), { ok: false, errno: Errno.ENOBUFS });
  });

  it('gives up after the attempt limit instead of spinning forever', () => {
    const call = scripted(Array.from({ length: 5 }, () => ({ errno: Errno.EINTR })));
    assert.deepEqual(retryInterrupted(call.call, call.errno, 5), { ok: false, errno: Errno.EINTR });
    assert.equal(call.calls(), 5);
  });

  it('returns 0 (an empty read) as a success', () => {
    const call = scripted([0]);
    assert.deepEqual(retryInterrupted(call.call, call.errno), { ok: true, value: 0 });
  });
});
