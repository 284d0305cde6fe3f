// The lab harness's own logic, without booting anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { missingHostTools } from '../../../lab/artefacts.js';
import { parseStrace } from '../../../lab/golden.js';
import { qemuArguments } from '../../../lab/vm.js';
import { INSTALL_FILES, LAB_FILES, MATRIX_FILES, TRIXIE_FILES } from '../../../lab/files.js';
import { jobLines } from '../../../lab/console.js';
import { projectPath } from '../../support/helpers.js';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const artefacts = { kernelRelease: '6.1.0-56-amd64', vmlinuz: '/c/vmlinuz', modulesDir: '/c/modules', initrd: '/c/initrd' };

describe('lab harness', () => {
  it('names missing host tools with the packages that provide them', () => {
    const message = missingHostTools('/nonexistent');
    assert.ok(message !== undefined);
    assert.match(message, /^lab: missing qemu-system-x86_64, busybox, cpio, /u);
    assert.match(message, /install with: apt-get install qemu-system-x86 busybox-static cpio/u);
  });

  it('boots TCG by default and KVM only when chosen, sharing the root read-only and the job directory writable', () => {
    const tcg = qemuArguments(artefacts, '/tmp/job', { accel: 'tcg' }).join(' ');
    assert.match(tcg, /-accel tcg/u);
    assert.doesNotMatch(tcg, /kvm/u);
    assert.match(tcg, /local,path=\/,mount_tag=hostroot,security_model=none,multidevs=remap,readonly=on/u);
    assert.match(tcg, /local,path=\/tmp\/job,mount_tag=job,security_model=none,multidevs=remap( |$)/u);
    assert.match(qemuArguments(artefacts, '/tmp/job', { accel: 'kvm' }).join(' '), /-accel kvm -cpu host/u);
  });

  it('extracts the datagrams from strace hex dumps', () => {
    const strace = [
      'sendto(3, [{nlmsg_len=36, nlmsg_type=0x18 /* NLMSG_??? */, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=0, nlmsg_pid=0}, "\\x1d"], 36, 0, NULL, 0) = 36',
      ' | 00000  24 00 00 00 18 00 05 00  00 00 00 00 00 00 00 00  $............... |',
      ' | 00010  1d 01 01 00 08 00 09 00  02 00 00 00 08 00 0a 00  ................ |',
      ' | 00020  03 00 00 00                                       ....             |',
      'recvfrom(3, [{nlmsg_len=36, nlmsg_type=NLMSG_ERROR, ...}], 8192, 0, NULL, NULL) = 36',
      ' * 36 bytes in buffer 0',
      ' | 00000  24 00 00 00 02 00 00 01  00 00 00 00 de 00 00 00  $.....ab cd ef.. |',
      '+++ exited with 0 +++',
    ].join('\n');
    const exchanges = parseStrace(strace);
    assert.deepEqual(
      exchanges.map((e) => e.direction),
      ['sent', 'received'],
    );
    assert.equal(exchanges[0]?.hex, '240000001800050000000000000000001d010100080009000200000008000a0003000000');
    assert.equal(exchanges[1]?.hex, '2400000002000001' + '00000000de000000', 'the ASCII column is not read as hex');
  });

  it('runs every test file under test/lab, each once, in the order lab/files.ts gives', () => {
    const found = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? found(join(dir, entry.name)) : entry.name.endsWith('.test.ts') ? [join(dir, entry.name)] : [],
      );
    const sources = found(projectPath('test', 'lab')).map((path) =>
      relative(projectPath(), path)
        .replace(/^test\//u, 'dist/test/')
        .replace(/\.ts$/u, '.js'),
    );
    const listed = [...LAB_FILES, ...TRIXIE_FILES, ...INSTALL_FILES];
    assert.deepEqual([...listed].sort(), [...sources].sort());
    assert.equal(new Set(listed).size, listed.length);
    for (const file of MATRIX_FILES) assert.ok(LAB_FILES.includes(file), file);
  });

  it("shows the job its own lines, whole, and none of the guest kernel's, however the console splits them (#22)", () => {
    let shown = '';
    const filter = jobLines((text) => (shown += text));
    for (const piece of [
      'CANTAINER_LAB_READY 3.1\r\nbus powertrain: 3 ECUs\r\n[  112.35',
      '7035] sysrq: Power Off\r\n[  112.4] Call Trace:\r\n[',
      '  112.4]  <TASK>\r\n[  112.5]  do_group_exit+0x35/0x90\r\ndemo: the last li',
      'ne',
    ])
      filter.write(piece);
    filter.end();
    assert.equal(shown, 'bus powertrain: 3 ECUs\ndemo: the last line\n');
  });
});
