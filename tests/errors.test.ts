import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../server/src/errors.ts';

test('every error code is documented in docs/errors.md', async () => {
  const doc = await readFile(path.resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');
  for (const code of ERROR_CODES) assert.match(doc, new RegExp(`\`${code}\``), code);
});
