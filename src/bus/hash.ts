// Kernel names derived from ids: the first characters of a SHA-256, so they are stable across restarts and fit
// the kernel's 15-character interface names.
import { createHash } from 'node:crypto';

export function shortHash(text: string, length = 12): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}
