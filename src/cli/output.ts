// Output helpers of the commands: where text goes, and tables people read (scripts use --json).

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Left-aligned columns separated by two spaces; the header in capitals as given. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}
