// Timed buses (bitrate=N): the rates a flood gets against the bit formula, at 125k, 500k and 1M and for extended
// ids, short frames and FD frames, and the arbitration scenario; measured as the lab test measures them
// (test/support/timed-bus.ts), against the daemon as its own process.
import { execFileSync } from 'node:child_process';
import { classicFrame, fdFrame } from '../src/can/frame.js';
import {
  arbitration,
  arbitrationLine,
  bytes,
  eightBytes,
  flood,
  floodLine,
  type ArbitrationResult,
  type FloodResult,
} from '../test/support/timed-bus.js';
import { startDaemonProcess } from './daemon-process.js';

export interface TimingResult {
  readonly rows: readonly FloodResult[];
  readonly arbitration: ArbitrationResult;
}

const NAMESPACES = ['bt-a', 'bt-b', 'bt-c', 'bt-d'];

export async function measureTiming(seconds: number, log: (line: string) => void): Promise<TimingResult> {
  const daemon = await startDaemonProcess('/run/cantainer-bench/timing');
  for (const ns of NAMESPACES) execFileSync('ip', ['netns', 'add', ns]);
  const lab = { control: daemon.control, namespaces: NAMESPACES };
  try {
    const rows: FloodResult[] = [];
    const run = async (row: Parameters<typeof flood>[1]): Promise<void> => {
      const result = await flood(lab, { ...row, seconds });
      log(`timing: ${floodLine(result)}`);
      rows.push(result);
    };
    for (const bitrate of [125_000, 500_000, 1_000_000])
      await run({ bus: `b8-${bitrate}`, label: '8-byte standard', timing: { bitrate }, make: (r) => eightBytes(0x123, r) });
    await run({
      bus: 'bext',
      label: '8-byte extended',
      timing: { bitrate: 500_000 },
      make: (r) => classicFrame({ id: 0x18fe_f100, extended: true, data: bytes(8, r) }),
    });
    await run({
      bus: 'bshort',
      label: '2-byte standard',
      timing: { bitrate: 125_000 },
      make: (r) => classicFrame({ id: 0x2a0, data: bytes(2, r) }),
    });
    await run({
      bus: 'bfd',
      label: '64-byte FD with BRS',
      timing: { bitrate: 500_000, dbitrate: 2_000_000 },
      fd: true,
      make: (r) => fdFrame({ id: 0x0c8, brs: true, data: bytes(64, r) }),
    });
    const arbitrated = await arbitration(lab, 'barb', 125_000, seconds + 1);
    log(`timing: ${arbitrationLine(arbitrated)}`);
    return { rows, arbitration: arbitrated };
  } finally {
    for (const ns of NAMESPACES) execFileSync('ip', ['netns', 'del', ns]);
    await daemon.stop();
  }
}
