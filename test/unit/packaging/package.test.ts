// What `npm run package` builds (#23): the self-contained executable, run with an empty environment (no node on
// the PATH) as the CLI, the daemon, the CNI plugin (a plain copy) and the netavark plugin; the Debian package, its
// contents, its control fields and lintian's verdict. Installing it into a Debian root is the lab's part.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildExecutable } from '../../../packaging/sea.js';
import { buildDeb } from '../../../packaging/deb.js';
import { buildImage, IMAGE_PACKAGES, type ImageResult } from '../../../packaging/image.js';
import { buildPlugin, pluginConfig, type PluginConfig } from '../../../packaging/plugin.js';
import { entryRole } from '../../../src/cli/entry.js';
import { daemonProgram } from '../../../src/cli/daemon-main.js';
import { DAEMON_DEFAULTS } from '../../../src/cli/daemon.js';
import { dockerRequests, post } from '../../support/plugin-client.js';
import { stopChild } from '../../support/child.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

describe('which program the executable is', () => {
  it('is the CNI plugin when CNI_COMMAND is set, whatever its name', () => {
    assert.equal(entryRole('/opt/cni/bin/cantainer', { CNI_COMMAND: 'ADD' }), 'cni');
    assert.equal(entryRole('cantainer-netavark', { CNI_COMMAND: 'VERSION' }), 'cni');
  });

  it('is the netavark plugin as cantainer-netavark, or from a netavark plugin directory', () => {
    assert.equal(entryRole('/usr/bin/cantainer-netavark', {}), 'netavark');
    assert.equal(entryRole('cantainer-netavark', {}), 'netavark');
    assert.equal(entryRole('/usr/libexec/netavark/cantainer', {}), 'netavark');
  });

  it('is the command line otherwise', () => {
    assert.equal(entryRole('/usr/bin/cantainer', {}), 'cli');
    assert.equal(entryRole('cantainer', { PATH: '/bin' }), 'cli');
  });
});

describe('the self-contained executable and the Debian package', () => {
  let dir = '';
  let executable = '';
  let debFile = '';
  /** No node anywhere on this PATH: what the executable needs, it carries. */
  const env = { PATH: '/usr/sbin:/sbin' };
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cantainer-pkg-'));
    executable = (await buildExecutable(root, dir, version)).executable;
  });

  after(async () => {
    for (const child of children) await stopChild(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`is named after the version and the architecture, and says its version`, () => {
    assert.equal(executable, join(dir, `cantainer-${version}-linux-${process.arch}`));
    const run = spawnSync(executable, ['--version'], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
  });

  it("starts from V8's code cache made at build time, which V8 takes", () => {
    const run = spawnSync(executable, ['--version'], { env: { ...env, CANTAINER_SEA_REPORT: '1' }, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.trim(), 'cantainer: code cache taken');
    assert.ok(
      statSync(join(dir, 'sea', 'cantainer.cache')).size > 200_000,
      'the cache holds the functions a start compiles, not only the top level (90 KiB)',
    );
  });

  it('answers as the CNI plugin from a plain copy', () => {
    const copy = join(dir, 'cni-bin', 'cantainer');
    spawnSync('mkdir', ['-p', dirname(copy)]);
    copyFileSync(executable, copy);
    const run = spawnSync(copy, [], { env: { ...env, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), true);
  });

  it('answers as the netavark plugin when called cantainer-netavark', () => {
    const link = join(dir, 'cantainer-netavark');
    symlinkSync(executable, link);
    const run = spawnSync(link, ['info'], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { version: string }).version, version);
  });

  it('runs the daemon, which loads its FFI module and answers on its socket, and leaves no unpacked module behind', async () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('cantainer-koffi-'));
    const state = join(dir, 'daemon');
    const plugin = join(state, 'plugin.sock');
    const child = spawn(
      executable,
      [
        'daemon',
        '--socket',
        plugin,
        '--control-socket',
        join(state, 'control.sock'),
        '--state-dir',
        join(state, 'state'),
        '--netns-dir',
        join(state, 'netns'),
        '--docker-socket',
        join(state, 'none.sock'),
      ],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 20_000;
    while (!existsSync(plugin)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `the daemon did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const answer = await post(plugin, '/Plugin.Activate');
    assert.deepEqual(answer.body, { Implements: ['NetworkDriver'] });
    // Making a bus goes to the kernel through the FFI: netns, netlink. Where the kernel has no CAN (as here) it
    // answers with the kernel's own error, undone; where it has, the bus is made, and removed again.
    const network = 'f'.repeat(64);
    const created = await post(plugin, '/NetworkDriver.CreateNetwork', dockerRequests.createNetwork(network, {}));
    if (created.status === 200)
      assert.equal((await post(plugin, '/NetworkDriver.DeleteNetwork', dockerRequests.network(network))).status, 200);
    else assert.match(JSON.stringify(created.body), /in netns [^:]+: E[A-Z]+ \(/u);
    assert.doesNotMatch(stderr, /cannot load the FFI module/u);
    assert.deepEqual(
      readdirSync(tmpdir()).filter((name) => name.startsWith('cantainer-koffi-')),
      before,
    );
  });
  it('is packaged as cantainer_<version>_amd64.deb with the fields apt needs', () => {
    const { deb } = buildDeb(root, dir, version, executable);
    debFile = deb;
    assert.equal(deb, join(dir, `cantainer_${version}_amd64.deb`));
    const field = (name: string): string => spawnSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).stdout.trim();
    assert.deepEqual(['Package', 'Version', 'Architecture', 'Section'].map(field), ['cantainer', version, 'amd64', 'net']);
    assert.match(field('Depends'), /libc6 \(>= 2\.28\), libgcc-s1, libstdc\+\+6/u);
    assert.ok(Number(field('Installed-Size')) > 80_000, field('Installed-Size'));
  });

  it('installs the executable, the plugins as links to it, the units, the manual page and the copyright', () => {
    const unpacked = join(dir, 'unpacked');
    assert.equal(spawnSync('dpkg-deb', ['-x', debFile, unpacked]).status, 0);
    assert.equal(statSync(join(unpacked, 'usr/bin/cantainer')).size, statSync(executable).size);
    assert.equal(statSync(join(unpacked, 'usr/bin/cantainer')).mode & 0o777, 0o755);
    assert.deepEqual(
      ['usr/bin/cantainer-netavark', 'usr/libexec/netavark/cantainer', 'opt/cni/bin/cantainer'].map((path) =>
        readlinkSync(join(unpacked, path)),
      ),
      ['cantainer', '../../bin/cantainer', '/usr/bin/cantainer'],
    );
    const service = readFileSync(join(unpacked, 'lib/systemd/system/cantainer.service'), 'utf8');
    assert.match(service, /^ExecStart=\/usr\/bin\/cantainer daemon --state-dir \/var\/lib\/cantainer$/mu);
    assert.match(
      readFileSync(join(unpacked, 'lib/systemd/system/cantainer.socket'), 'utf8'),
      /^ListenStream=\/run\/docker\/plugins\/cantainer\.sock$/mu,
    );
    assert.match(readFileSync(join(unpacked, 'usr/share/doc/cantainer/copyright'), 'utf8'), /\/usr\/share\/common-licenses\/Apache-2\.0/u);
    // The netavark plugin, as netavark runs it from its plugin directory.
    const info = spawnSync(join(unpacked, 'usr/libexec/netavark/cantainer'), ['info'], { env, encoding: 'utf8' });
    assert.equal((JSON.parse(info.stdout) as { version: string }).version, version, info.stderr);
    const page = join(unpacked, 'usr/share/man/man1/cantainer.1.gz');
    const man = spawnSync('man', ['--warnings', '-l', page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100' } });
    assert.equal(man.status, 0, man.stderr);
    assert.equal(man.stderr, '', 'groff has no warning about the page');
    const roff = gunzipSync(readFileSync(page)).toString('utf8');
    for (const command of ['cantainer ls', 'cantainer gateway add', 'cantainer tunnel add', 'cantainer daemon'])
      assert.ok(roff.includes(`.B ${command}`), command);
  });

  it('passes lintian with no error or warning (the overrides state why)', () => {
    const run = spawnSync('lintian', ['--fail-on', 'error,warning', debFile], { encoding: 'utf8', timeout: 300_000 });
    assert.notEqual(run.error?.message.includes('ENOENT'), true, 'lintian is needed: apt-get install lintian');
    const findings = `${run.stdout}${run.stderr}`.split('\n').filter((line) => /^[EW]: /u.test(line));
    assert.deepEqual(findings, []);
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });

  let image: ImageResult | undefined;
  /** A file of the image archive. */
  const member = (path: string): Buffer => {
    assert.ok(image !== undefined);
    const run = spawnSync('tar', ['-xOf', image.archive, path], { maxBuffer: 256 * 1024 * 1024 });
    assert.equal(run.status, 0, run.stderr.toString());
    return run.stdout;
  };
  const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

  it('makes the image cantainer:<version> in one archive that docker load and OCI tools read', () => {
    image = buildImage(dir, version, executable);
    assert.equal(image.archive, join(dir, 'cantainer-image.tar'));
    assert.equal(image.tag, `cantainer:${version}`);
    const [entry] = JSON.parse(member('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.ok(entry !== undefined);
    assert.deepEqual(entry.RepoTags, [`cantainer:${version}`]);
    const configBytes = member(entry.Config);
    const config = JSON.parse(configBytes.toString()) as {
      architecture: string;
      config: { Entrypoint: string[]; Cmd: string[] };
      rootfs: { diff_ids: string[] };
    };
    assert.equal(config.architecture, 'amd64');
    assert.deepEqual([config.config.Entrypoint, config.config.Cmd], [['/usr/bin/cantainer'], ['daemon']]);
    // Every blob is named by its digest, and the chain index → manifest → config and layer holds.
    assert.equal(entry.Layers.length, 1);
    const layer = member(entry.Layers[0] ?? '');
    assert.deepEqual(config.rootfs.diff_ids, [digestOf(layer)]);
    assert.equal(`sha256:${entry.Config.split('/').pop() ?? ''}`, digestOf(configBytes));
    const index = JSON.parse(member('index.json').toString()) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const [described] = index.manifests;
    assert.ok(described !== undefined);
    assert.equal(described.annotations['io.containerd.image.name'], `docker.io/library/cantainer:${version}`);
    const manifestBytes = member(`blobs/sha256/${described.digest.slice('sha256:'.length)}`);
    assert.equal(digestOf(manifestBytes), described.digest);
    const manifest = JSON.parse(manifestBytes.toString()) as {
      config: { digest: string };
      layers: Array<{ digest: string; size: number }>;
    };
    assert.equal(manifest.config.digest, digestOf(configBytes));
    assert.deepEqual(
      manifest.layers.map((l) => [l.digest, l.size]),
      [[digestOf(layer), layer.length]],
    );
  });

  it("has a root of Debian's packages that runs the executable, modprobe and a shell, with every copyright", () => {
    assert.ok(image !== undefined);
    const rootfs = image.rootfs;
    assert.equal(statSync(join(rootfs, 'usr/bin/cantainer')).size, statSync(executable).size);
    const inRoot = (command: string): ReturnType<typeof spawnSync> =>
      spawnSync('chroot', [rootfs, '/bin/sh', '-c', command], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, encoding: 'utf8' });
    const versionRun = inRoot('cantainer --version');
    assert.equal(versionRun.status, 0, String(versionRun.stderr));
    assert.equal(String(versionRun.stdout).trim(), version);
    // The daemon runs modprobe from the PATH: kmod's (busybox's sh would prefer its own applet).
    const modprobe = spawnSync('chroot', [rootfs, '/sbin/modprobe', '--version'], {
      env: { PATH: '/usr/sbin:/usr/bin' },
      encoding: 'utf8',
    });
    assert.match(modprobe.stdout, /^kmod version \d+/u, modprobe.stderr);
    const cni = inRoot('echo {} | CNI_COMMAND=VERSION cantainer');
    assert.match(String(cni.stdout), /"supportedVersions"/u, String(cni.stderr));
    assert.deepEqual(image.packages.map((name) => name.replace(/_.*$/u, '')).sort(), [...IMAGE_PACKAGES].sort());
    for (const name of IMAGE_PACKAGES)
      assert.ok(
        existsSync(join(rootfs, 'usr/share/doc', name, 'copyright')) || statSync(join(rootfs, 'usr/share/doc', name)).isSymbolicLink(),
        name,
      );
    assert.ok(!existsSync(join(rootfs, 'usr/share/man')), 'no manual pages');
  });

  it('lays out the managed plugin: a network driver on the legacy socket name, the image root, host paths as usual', () => {
    assert.ok(image !== undefined);
    const plugin = buildPlugin(dir, version, image.rootfs);
    assert.equal(plugin.dir, join(dir, 'plugin'));
    assert.deepEqual(readdirSync(plugin.dir).sort(), ['config.json', 'rootfs']);
    const config = JSON.parse(readFileSync(join(plugin.dir, 'config.json'), 'utf8')) as PluginConfig;
    assert.deepEqual(config, JSON.parse(JSON.stringify(pluginConfig(version))));
    assert.deepEqual(config.Interface, { Types: ['docker.networkdriver/1.0'], Socket: 'cantainer.sock' });
    // Docker serves the plugin's socket at /run/docker/plugins/<Socket> inside it: where the daemon listens unless told.
    assert.equal(`/run/docker/plugins/${config.Interface.Socket}`, DAEMON_DEFAULTS.socket);
    assert.deepEqual(config.Entrypoint, ['/usr/bin/cantainer', 'daemon']);
    const rootfs = join(plugin.dir, 'rootfs');
    assert.equal(statSync(join(rootfs, 'usr/bin/cantainer')).size, statSync(executable).size);
    for (const mount of config.Mounts) assert.ok(statSync(join(rootfs, mount.Destination)).isDirectory(), mount.Destination);
    // A propagated mount, so that Docker makes the plugin's root shared and the pins reach the host.
    assert.ok(statSync(join(rootfs, config.PropagatedMount)).isDirectory());
    assert.equal(config.Network.Type, 'host');
    assert.ok(config.PidHost);
    for (const capability of ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_MODULE'])
      assert.ok(config.Linux.Capabilities.includes(capability));
    // Every variable it sets is one the daemon reads.
    const daemon = daemonProgram({ out: () => true, err: () => true }, { code: 0 }).commands.find((command) => command.name() === 'daemon');
    const read = new Set(daemon?.options.map((option) => option.envVar));
    for (const variable of config.Env) assert.ok(read.has(variable.Name), `the daemon reads ${variable.Name}`);
    // What the daemon uses inside is, through the mounts, where it is on a host without the plugin.
    const onHost = (path: string): string => {
      const mount = config.Mounts.find((m) => path.startsWith(`${m.Destination}/`));
      assert.ok(mount !== undefined, `${path} is on a mount of the host`);
      return `${mount.Source}${path.slice(mount.Destination.length)}`;
    };
    const value = (name: string): string => config.Env.find((variable) => variable.Name === name)?.Value ?? '';
    assert.equal(onHost(value('CANTAINER_STATE_DIR')), DAEMON_DEFAULTS.stateDir);
    assert.equal(onHost(value('CANTAINER_NETNS_DIR')), DAEMON_DEFAULTS.netnsDir);
    // ... and the daemon answers with the host's path, for dump and send run on the host.
    assert.equal(value('CANTAINER_HOST_NETNS_DIR'), DAEMON_DEFAULTS.netnsDir);
    assert.equal(onHost(value('CANTAINER_CONTROL_SOCKET')), DAEMON_DEFAULTS.controlSocket);
    assert.equal(onHost(value('CANTAINER_DOCKER_SOCKET')), '/run/docker.sock');
    // The pins are made inside and must reach the host: that mount is shared.
    assert.ok(config.Mounts.find((m) => m.Name === 'run')?.Options.includes('rshared'));
    // Settable as users set them: `docker plugin set cantainer CANTAINER_LOG_LEVEL=debug`.
    assert.deepEqual(
      config.Env.filter((variable) => variable.Settable.includes('value')).map((variable) => variable.Name),
      ['CANTAINER_LOG_LEVEL', 'CANTAINER_METRICS_LISTEN', 'CANTAINER_VERIFY_EVERY'],
    );
  });
});
