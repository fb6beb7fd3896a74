import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { qualityDocPath } from '../../server/src/commands/quality.ts';

test('quality writes docs/QUALITY.md for the built-in model alone: another model\'s page goes under out/', () => {
  assert.equal(qualityDocPath('models/default', path.resolve('models/default')), 'docs/QUALITY.md');
  assert.equal(qualityDocPath('/tmp/runs/bridge-26000', 'models/default'), 'out/QUALITY-bridge-26000.md');
});
