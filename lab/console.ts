// What of the guest's console a person watching `npm run demo` or `npm run lab` sees: the job's own lines, without
// the guest kernel's (bracketed timestamps: module loads, and the power-off at the end). The serial console hands
// text over in pieces that may end mid-line, so lines are put back together before they are judged.

/** A guest kernel's console line: `[   12.345678] ...`. */
const KERNEL_LINE = /^\[\s*\d+\.\d+\]/u;

export interface ConsoleFilter {
  /** Takes the next piece of console text. */
  write(text: string): void;
  /** Shows a last line that had no newline. */
  end(): void;
}

/** Passes the job's lines to `show`, whole, and drops the kernel's and the lab's own markers. */
export function jobLines(show: (text: string) => void): ConsoleFilter {
  let pending = '';
  const judge = (line: string): void => {
    const bare = line.replace(/\r$/u, '');
    if (KERNEL_LINE.test(bare) || bare.startsWith('CANTAINER_LAB_READY')) return;
    show(`${bare}\n`);
  };
  return {
    write: (text) => {
      pending += text;
      for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
        judge(pending.slice(0, at));
        pending = pending.slice(at + 1);
      }
    },
    end: () => {
      if (pending !== '') judge(pending);
      pending = '';
    },
  };
}
