// The time as the kernel stamps received frames (SO_TIMESTAMP, CLOCK_REALTIME), in microseconds, finer than
// Date.now(): the epoch time when the process started plus the monotonic time since.
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
