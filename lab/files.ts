// The test files of the real-kernel suite, in the order they run, each in the VM it needs. An explicit list, so
// that a file is in the suite because it is named here (a unit test checks that every file under test/lab/ is),
// and the order is the one that was proven rather than whatever a folder listing gives.

/** In one VM on this machine's root and Docker engine, in this order. */
export const LAB_FILES = [
  'activation',
  'bus',
  'cli',
  'cni',
  'compose',
  'daemon-socket',
  'dashboard',
  'docker-driver',
  'docker-gateways',
  'docker',
  'fuzz',
  'gateway-compose',
  'gateways',
  'isotp',
  'kernel-contract',
  'kernel',
  'measure',
  'modules',
  'podman-cni',
  'reliability',
  'survival',
  'timing',
  'tunnel',
].map((name) => `dist/test/lab/${name}.test.js`);

/** Run again on each newer Docker engine of the matrix (lab/engines.ts). */
export const MATRIX_FILES = ['dist/test/lab/docker-driver.test.js'];

/** In a VM booted on a Debian trixie root (lab/roots.ts): Podman 5 with netavark. */
export const TRIXIE_FILES = ['dist/test/lab/trixie/podman5.test.js'];

/**
 * In a VM booted on a Debian bookworm root with Docker and no Node.js on its PATH (lab/roots.ts): what
 * `npm run package` builds, installed as users install it (the Debian package, the image).
 */
export const INSTALL_FILES = [
  'dist/test/lab/install/deb.test.js',
  'dist/test/lab/install/image.test.js',
  'dist/test/lab/install/plugin.test.js',
  'dist/test/lab/install/swarm.test.js',
];
