import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Y4mWriter, toI420 } from '../../server/src/media/Y4mWriter.ts';

test('toI420 maps black, white and red to their BT.601 limited-range values', () => {
  const rgb = new Uint8Array(4 * 3);
  const y = (r: number, g: number, b: number) => toI420(rgb.fill(0).map((_, i) => [r, g, b][i % 3] ?? 0), 2, 2);
  assert.deepEqual([...y(0, 0, 0)], [16, 16, 16, 16, 128, 128]);
  assert.deepEqual([...y(255, 255, 255)], [235, 235, 235, 235, 128, 128]);
  const red = y(255, 0, 0);
  assert.equal(red[0], 82);
  assert.ok((red[5] ?? 0) > 230);
});

test('Y4mWriter writes the header and one FRAME per RGB frame', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'y4m-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'a.y4m');
  const w = new Y4mWriter(file, 4, 2, 16);
  await w.write(new Uint8Array(2 * 4 * 2 * 3));
  await w.close();
  const bytes = await readFile(file);
  const header = 'YUV4MPEG2 W4 H2 F16:1 Ip A1:1 C420jpeg\n';
  assert.equal(bytes.subarray(0, header.length).toString(), header);
  assert.equal(bytes.length, header.length + 2 * ('FRAME\n'.length + 12));
});
