// Chooses QEMU's accelerator. TCG always works; KVM is much faster but on some machines /dev/kvm exists and a KVM
// guest aborts ("failed to set MSR") or spins a core without output. So KVM is used only after a short probe boot
// with it succeeded on this host since its last boot; the verdict is cached per boot id.
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labCacheDir, type LabArtefacts } from './artefacts.js';
import { runInLab, type Accelerator } from './vm.js';

const PROBE_TIMEOUT_MS = 15_000;

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * CANTAINER_LAB_ACCEL: "tcg" (never probe), "kvm" (trust it), or "auto" (the default: probe once per host boot).
 */
export async function chooseAccelerator(artefacts: LabArtefacts, guestDir: string, log: (line: string) => void): Promise<Accelerator> {
  const wanted = process.env.CANTAINER_LAB_ACCEL ?? 'auto';
  if (wanted === 'tcg' || wanted === 'kvm') return wanted;
  if (!kvmUsable()) return 'tcg';
  const verdictFile = join(labCacheDir(), 'kvm-probe.json');
  const id = bootId();
  if (existsSync(verdictFile)) {
    const cached = JSON.parse(readFileSync(verdictFile, 'utf8')) as { bootId?: string; works?: boolean };
    if (cached.bootId === id && typeof cached.works === 'boolean') return cached.works ? 'kvm' : 'tcg';
  }
  log(`lab: probing KVM with a ${PROBE_TIMEOUT_MS / 1000} s test boot`);
  const probe = await runInLab(artefacts, guestDir, { script: 'true', timeoutMs: PROBE_TIMEOUT_MS, accel: 'kvm', memoryMb: 512, cpus: 1 });
  const works = probe.status === 0;
  log(
    `lab: KVM ${works ? `works (probe ${probe.totalMs} ms)` : `does not work here (${probe.timedOut ? 'no answer' : 'QEMU failed'}); using TCG`}`,
  );
  writeFileSync(verdictFile, `${JSON.stringify({ bootId: id, works })}\n`);
  return works ? 'kvm' : 'tcg';
}
