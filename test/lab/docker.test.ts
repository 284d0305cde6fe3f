import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sh } from '../support/lab.js';

describe('Docker engine in the lab', () => {
  it('starts dockerd on a tmpfs, imports a local image and runs a container', () => {
    const output = sh(
      '. lab/guest/docker.sh && lab_start_dockerd && lab_busybox_image lab/busybox && docker run --rm --network none lab/busybox sh -c "echo hello from \\$(cat /proc/sys/kernel/hostname | wc -c) bytes"',
      180_000,
    );
    assert.match(output, /^hello from \d+ bytes$/mu);
  });
});
