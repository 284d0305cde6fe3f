// The bus core serves every front door (Docker, CNI, netavark, the CLI): it must not speak any one's language.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..', 'src');
const FRONT_DOOR_WORDS = /docker|libnetwork|endpoint|sandbox|netavark|podman|\bcni\b|kubernetes/iu;

describe('core boundaries', () => {
  for (const folder of ['bus', 'reconcile', 'state', 'service', 'tunnel', 'cannelloni']) {
    it(`src/${folder} names no front door`, () => {
      const files = readdirSync(join(root, folder)).filter((name) => name.endsWith('.ts'));
      assert.ok(files.length > 0);
      for (const file of files) {
        const text = readFileSync(join(root, folder, file), 'utf8');
        const hit = FRONT_DOOR_WORDS.exec(text);
        assert.equal(hit, null, `src/${folder}/${file} mentions "${hit?.[0] ?? ''}"`);
      }
    });
  }
});
