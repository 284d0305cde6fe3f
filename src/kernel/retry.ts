// A system call interrupted by a signal (EINTR) did nothing and is simply repeated; only EAGAIN means "no data".
// Treating EINTR as EAGAIN made a netlink reply that was merely interrupted look like a 5 s timeout.
import { Errno } from '../netlink/errno.js';

export type CallOutcome = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly errno: number };

/** Runs `call` (returning a negative number on failure, with `errno()` then set) until it is not interrupted. */
export function retryInterrupted(call: () => number, errno: () => number, maxAttempts = 1000): CallOutcome {
  for (let attempt = 1; ; attempt++) {
    const value = call();
    if (value >= 0) return { ok: true, value };
    const code = errno();
    if (code !== Errno.EINTR || attempt >= maxAttempts) return { ok: false, errno: code };
  }
}
