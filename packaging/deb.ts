// The Debian package: the self-contained executable in /usr/bin, the CNI plugin and the netavark plugin as links
// to it, the systemd socket and service (enabled and started on install, so Docker finds the plugin socket at
// once), the manual page, the copyright. Removing stops the daemon and leaves the buses and the state; purging
// removes the state. Built with dpkg-deb alone: no debhelper, no fakeroot.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildProgram } from '../src/cli/main.js';
import { manPage } from '../src/cli/manpage.js';
import { packageArch } from './names.js';

export interface DebResult {
  readonly deb: string;
  readonly bytes: number;
}

const DESCRIPTION = `virtual CAN buses for containers
 cantainer makes a CAN bus a container network: docker network create -d
 cantainer powertrain creates a bus, and every container on it gets a SocketCAN
 interface (a vxcan end) that sees every frame any other member sends, exactly
 once, in order. The buses are wired by the kernel's can-gw rules in a hidden
 network namespace per bus.
 .
 It is a Docker network plugin (libnetwork remote driver), a CNI plugin and a
 netavark plugin for Podman 5, with CAN FD, gateways between buses, hardware
 interfaces on a bus, and tunnels to other hosts in cannelloni's format.`;

/** The maintainer scripts: what dh_installsystemd would write, by hand, and the state removed on purge only. */
const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
	deb-systemd-helper unmask cantainer.socket >/dev/null || true
	deb-systemd-helper unmask cantainer.service >/dev/null || true
	if deb-systemd-helper --quiet was-enabled cantainer.socket; then
		deb-systemd-helper enable cantainer.socket >/dev/null || true
	else
		deb-systemd-helper update-state cantainer.socket >/dev/null || true
	fi
	if deb-systemd-helper --quiet was-enabled cantainer.service; then
		deb-systemd-helper enable cantainer.service >/dev/null || true
	else
		deb-systemd-helper update-state cantainer.service >/dev/null || true
	fi
	# Enabled on first install, so that Docker finds the plugin socket at once and after every boot.
	if [ -z "$2" ]; then
		deb-systemd-helper enable cantainer.socket cantainer.service >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		deb-systemd-invoke restart cantainer.socket cantainer.service >/dev/null || true
	fi
fi
`;

const PRERM = `#!/bin/sh
set -e
# The daemon stops; the buses stay in the kernel and the state stays on disk until purge.
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	deb-systemd-invoke stop cantainer.service cantainer.socket >/dev/null || true
fi
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper mask cantainer.socket cantainer.service >/dev/null || true
	fi
fi
if [ "$1" = purge ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge cantainer.socket cantainer.service >/dev/null || true
		deb-systemd-helper unmask cantainer.socket cantainer.service >/dev/null || true
	fi
	rm -rf /var/lib/cantainer
fi
`;

/** Why lintian's complaints that remain are right for this package. */
const LINTIAN_OVERRIDES = `# A Node.js single executable application: node with the bundled code injected, built as Node.js builds it
# (not position-independent, its own zlib inside, as every Node.js binary from nodejs.org has).
cantainer: hardening-no-pie [usr/bin/cantainer]
cantainer: embedded-library zlib [usr/bin/cantainer]
# The CNI plugin goes where every CNI runtime looks for plugins: /opt/cni/bin is the CNI convention.
cantainer: dir-or-file-in-opt [opt/cni/]
cantainer: dir-or-file-in-opt [opt/cni/bin/]
cantainer: dir-or-file-in-opt [opt/cni/bin/cantainer]
`;

/** The MIT licence as the bundled components state it (Node.js, koffi, commander). */
const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.`;

/** A licence text as a DEP-5 paragraph body: indented, blank lines as " .". */
function indented(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((line) => (line.trim() === '' ? ' .' : ` ${line}`))
    .join('\n');
}

function copyright(year: number): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cantainer
Comment: /usr/bin/cantainer is a Node.js single executable application: it
 carries Node.js (MIT; its own licence file lists what Node.js bundles), koffi
 (MIT) and commander (MIT) beside cantainer's code.

Files: *
Copyright: ${year} the cantainer authors
License: Apache-2.0

Files: usr/bin/cantainer
Copyright: ${year} the cantainer authors
 Node.js contributors
 2021-2025 Niels Martignène (koffi)
 2011 TJ Holowaychuk (commander)
License: Apache-2.0 and MIT

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this file except in compliance with the License. You may obtain a copy of
 the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations under
 the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in "/usr/share/common-licenses/Apache-2.0".

License: MIT
${indented(MIT)}
`;
}

function changelog(version: string, date: Date): string {
  const stamp = date.toUTCString().replace(/GMT$/u, '+0000');
  return `cantainer (${version}) unstable; urgency=medium

  * Release ${version}.

 -- cantainer maintainers <cantainer@users.noreply.github.com>  ${stamp}
`;
}

function write(root: string, path: string, text: string | Buffer, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

function link(root: string, path: string, target: string): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  symlinkSync(target, file);
}

/** The systemd units of the checkout, with the executable where the package puts it. */
function unit(projectRoot: string, name: string): string {
  return readFileSync(join(projectRoot, 'packaging', 'systemd', name), 'utf8').replaceAll('/usr/local/bin/cantainer', '/usr/bin/cantainer');
}

/** Sizes in KiB of everything the package installs, as dpkg counts Installed-Size. */
function installedKiB(root: string, paths: readonly string[]): number {
  return paths.reduce((sum, path) => sum + Math.ceil(statSync(join(root, path)).size / 1024), 0);
}

export function buildDeb(projectRoot: string, out: string, version: string, executable: string, date = new Date()): DebResult {
  const stage = join(out, 'deb');
  rmSync(stage, { recursive: true, force: true });
  const files: string[] = [];
  const put = (path: string, text: string | Buffer, mode = 0o644): void => {
    write(stage, path, text, mode);
    files.push(path);
  };
  mkdirSync(join(stage, 'usr', 'bin'), { recursive: true });
  copyFileSync(executable, join(stage, 'usr', 'bin', 'cantainer'));
  chmodSync(join(stage, 'usr', 'bin', 'cantainer'), 0o755);
  files.push('usr/bin/cantainer');
  link(stage, 'usr/bin/cantainer-netavark', 'cantainer');
  // netavark runs the plugin named after the driver from its plugin directory (src/cli/entry.ts knows it there).
  link(stage, 'usr/libexec/netavark/cantainer', '../../bin/cantainer');
  link(stage, 'opt/cni/bin/cantainer', '/usr/bin/cantainer');
  put('lib/systemd/system/cantainer.service', unit(projectRoot, 'cantainer.service'));
  put('lib/systemd/system/cantainer.socket', unit(projectRoot, 'cantainer.socket'));
  const program = buildProgram({ out: () => true, err: () => true });
  put('usr/share/man/man1/cantainer.1.gz', gzipSync(manPage(program, version, date.toISOString().slice(0, 10)), { level: 9 }));
  link(stage, 'usr/share/man/man1/cantainer-netavark.1.gz', 'cantainer.1.gz');
  put('usr/share/doc/cantainer/copyright', copyright(date.getUTCFullYear()));
  put('usr/share/doc/cantainer/changelog.gz', gzipSync(changelog(version, date), { level: 9 }));
  put('usr/share/lintian/overrides/cantainer', LINTIAN_OVERRIDES);
  write(
    stage,
    'DEBIAN/md5sums',
    files
      .map(
        (path) =>
          `${createHash('md5')
            .update(readFileSync(join(stage, path)))
            .digest('hex')}  ${path}\n`,
      )
      .join(''),
  );
  write(stage, 'DEBIAN/postinst', POSTINST, 0o755);
  write(stage, 'DEBIAN/prerm', PRERM, 0o755);
  write(stage, 'DEBIAN/postrm', POSTRM, 0o755);
  write(
    stage,
    'DEBIAN/control',
    [
      'Package: cantainer',
      `Version: ${version}`,
      `Architecture: ${packageArch()}`,
      'Maintainer: cantainer maintainers <cantainer@users.noreply.github.com>',
      `Installed-Size: ${installedKiB(stage, files)}`,
      // What node itself links against; the kernel's CAN modules come with Debian's kernels.
      'Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6, init-system-helpers (>= 1.52)',
      'Recommends: docker.io | podman',
      'Suggests: can-utils',
      'Section: net',
      'Priority: optional',
      `Description: ${DESCRIPTION}`,
      '',
    ].join('\n'),
  );
  const deb = join(out, `cantainer_${version}_${packageArch()}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: 'pipe' });
  return { deb, bytes: statSync(deb).size };
}
