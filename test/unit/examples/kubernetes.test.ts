// examples/kubernetes, checked as far as a machine without a cluster can (#23): every document parses; the
// DaemonSet runs the daemon from the image this version builds, with the flags the daemon has and the node's paths
// it uses by default; the init container puts the executable where the CNI plugin is looked for; each
// NetworkAttachmentDefinition's config is one the CNI plugin accepts; pods ask for attachments that exist.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../../src/cli/main.js';
import { DAEMON_DEFAULTS } from '../../../src/cli/daemon.js';
import { parseNetworkConfig } from '../../../src/cni/spec.js';
import { checkSpan } from '../../../src/bus/span.js';
import { projectPath } from '../../support/helpers.js';

interface Mount {
  readonly name: string;
  readonly mountPath: string;
  readonly mountPropagation?: string;
  readonly readOnly?: boolean;
}
interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly securityContext?: { privileged?: boolean };
  readonly volumeMounts?: Mount[];
}
interface PodSpec {
  readonly hostNetwork?: boolean;
  readonly hostPID?: boolean;
  readonly initContainers?: Container[];
  readonly containers: Container[];
  readonly volumes?: Array<{ name: string; hostPath?: { path: string } }>;
}
interface Resource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

const dir = projectPath('examples', 'kubernetes');
const { version } = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string };

/** Every document of every manifest, parsed strictly: a YAML error or warning fails here. */
function resources(): Resource[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8'), { strict: true, uniqueKeys: true }).map((doc, i) => {
        assert.deepEqual([...doc.errors, ...doc.warnings], [], `${file} document ${i + 1}`);
        const resource = doc.toJS() as Resource;
        assert.ok(typeof resource.apiVersion === 'string' && typeof resource.kind === 'string', `${file} document ${i + 1}`);
        assert.ok(typeof resource.metadata.name === 'string', `${file} document ${i + 1} has a name`);
        return resource;
      }),
    );
}

/** The long options `cantainer daemon` takes. */
function daemonFlags(): Set<string> {
  const daemon = buildProgram({ out: () => true, err: () => true }).commands.find((command) => command.name() === 'daemon');
  assert.ok(daemon !== undefined);
  return new Set(daemon.options.map((option) => option.long ?? ''));
}

describe('examples/kubernetes', () => {
  const all = resources();
  const daemonSet = all.find((resource) => resource.kind === 'DaemonSet');
  assert.ok(daemonSet !== undefined, 'a DaemonSet');
  const pod = (daemonSet.spec.template as { spec: PodSpec }).spec;
  const mountsOf = (container: Container): Map<string, { mount: Mount; hostPath: string | undefined }> =>
    new Map(
      (container.volumeMounts ?? []).map((mount) => {
        const volume = pod.volumes?.find((v) => v.name === mount.name);
        assert.ok(volume !== undefined, `${container.name} mounts ${mount.name}, a volume the pod declares`);
        return [mount.mountPath, { mount, hostPath: volume.hostPath?.path }];
      }),
    );

  it('runs the daemon on every node from the image this version builds, on the host network and PIDs', () => {
    assert.equal(daemonSet.apiVersion, 'apps/v1');
    const selector = (daemonSet.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
    const labels = (daemonSet.spec.template as { metadata: { labels: Record<string, string> } }).metadata.labels;
    for (const [key, value] of Object.entries(selector)) assert.equal(labels[key], value, `the template carries ${key}`);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.hostPID, true);
    const daemon = pod.containers.find((container) => container.name === 'daemon');
    assert.ok(daemon !== undefined);
    assert.equal(daemon.image, `cantainer:${version}`);
    assert.equal(daemon.securityContext?.privileged, true);
    const args = daemon.args ?? [];
    assert.equal(args[0], 'daemon');
    const flags = daemonFlags();
    for (const flag of args.filter((arg) => arg.startsWith('--'))) assert.ok(flags.has(flag), `cantainer daemon takes ${flag}`);
  });

  it("mounts the node's paths the daemon uses: namespaces shared back to the node, state, pods' namespaces, modules", () => {
    const daemon = pod.containers.find((container) => container.name === 'daemon');
    assert.ok(daemon !== undefined);
    const mounts = mountsOf(daemon);
    const run = dirname(DAEMON_DEFAULTS.netnsDir);
    assert.equal(dirname(DAEMON_DEFAULTS.controlSocket), run, 'the control socket and the pinned namespaces share one directory');
    assert.deepEqual(
      [mounts.get(run)?.hostPath, mounts.get(run)?.mount.mountPropagation],
      [run, 'Bidirectional'],
      'pinned namespaces outlive the container',
    );
    const args = daemon.args ?? [];
    const stateDir = args[args.indexOf('--state-dir') + 1] ?? DAEMON_DEFAULTS.stateDir;
    assert.equal(mounts.get(stateDir)?.hostPath, stateDir, 'the state is on the node');
    assert.deepEqual(
      [mounts.get('/run/netns')?.hostPath, mounts.get('/run/netns')?.mount.mountPropagation],
      ['/run/netns', 'HostToContainer'],
    );
    assert.deepEqual([mounts.get('/lib/modules')?.hostPath, mounts.get('/lib/modules')?.mount.readOnly], ['/lib/modules', true]);
  });

  it("puts the image's executable into the node's /opt/cni/bin as cantainer, renamed into place", () => {
    const init = pod.initContainers?.[0];
    assert.ok(init !== undefined);
    assert.equal(init.image, `cantainer:${version}`);
    const script = (init.command ?? []).join(' ');
    const target = [...mountsOf(init)].find(([, { hostPath }]) => hostPath === '/opt/cni/bin')?.[0];
    assert.ok(target !== undefined, 'the node’s /opt/cni/bin is mounted');
    assert.match(
      script,
      new RegExp(`cp /usr/bin/cantainer ${target}/\\.cantainer\\.new && mv ${target}/\\.cantainer\\.new ${target}/cantainer$`, 'u'),
    );
  });

  it('has NetworkAttachmentDefinitions the CNI plugin accepts, and pods that ask for them', () => {
    const attachments = all.filter((resource) => resource.kind === 'NetworkAttachmentDefinition');
    assert.ok(attachments.length > 0);
    for (const attachment of attachments) {
      assert.equal(attachment.apiVersion, 'k8s.cni.cncf.io/v1');
      const config = parseNetworkConfig(attachment.spec.config as string);
      assert.equal(config.name, attachment.metadata.name);
      // What the daemon checks of a span: the hub's address, the nodes' addresses.
      if (config.span !== undefined) checkSpan(config.span);
    }
    const names = new Set(attachments.map((attachment) => attachment.metadata.name));
    const pods = all.flatMap((resource) =>
      resource.kind === 'Pod'
        ? [resource]
        : resource.kind === 'Deployment'
          ? [
              {
                ...resource,
                metadata: { ...(resource.spec.template as { metadata: Resource['metadata'] }).metadata, name: resource.metadata.name },
              },
            ]
          : [],
    );
    assert.ok(pods.length > 0);
    for (const p of pods) {
      const asked = p.metadata.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '';
      const list = asked.trim().startsWith('[')
        ? (JSON.parse(asked) as Array<{ name: string }>).map((entry) => entry.name)
        : asked.split(',').map((entry) => entry.trim().replace(/@.*$/u, ''));
      for (const name of list) assert.ok(names.has(name), `${p.metadata.name} asks for ${name}`);
    }
  });
});
