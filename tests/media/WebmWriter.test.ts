import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WebmWriter } from '../../server/src/media/WebmWriter.ts';
import { Vp8Decoder } from '../../server/src/media/vp8.ts';

interface Node {
  id: number;
  data: Buffer;
  children?: Node[];
}

const MASTERS = new Set([0x1a45dfa3, 0x18538067, 0x1549a966, 0x1654ae6b, 0xae, 0xe0, 0xe1, 0x1f43b675]);

/** A small EBML reader: enough of Matroska to walk what WebmWriter writes, unknown sizes included. */
function parse(buf: Buffer, start = 0, end = buf.length): Node[] {
  const out: Node[] = [];
  let at = start;
  while (at < end) {
    const idLen = Math.clz32(buf[at] ?? 0) - 23;
    const id = buf.readUIntBE(at, idLen);
    at += idLen;
    const first = buf[at] ?? 0;
    const sizeLen = Math.clz32(first) - 23;
    let size = first & (0xff >> sizeLen);
    let unknown = size === (0xff >> sizeLen);
    for (let i = 1; i < sizeLen; i++) {
      size = size * 256 + (buf[at + i] ?? 0);
      unknown &&= buf[at + i] === 0xff;
    }
    at += sizeLen;
    // An unknown-size cluster runs to the next cluster; an unknown-size segment to the end.
    let stop = at + size;
    if (unknown) {
      const next = id === 0x1f43b675 ? buf.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]), at) : -1;
      stop = next === -1 ? end : next;
    }
    const node: Node = { id, data: buf.subarray(at, stop) };
    if (MASTERS.has(id)) node.children = parse(buf, at, stop);
    out.push(node);
    at = stop;
  }
  return out;
}

test('WebmWriter writes a WebM whose VP8 blocks decode to the frames given, with an Opus track alongside', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-webm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'out.webm');
  const w = 64;
  const h = 48;
  const writer = new WebmWriter(file, w, h, 16);
  const frames = new Uint8Array(32 * w * h * 3);
  for (let i = 0; i < frames.length; i += 3) frames.set([30, 136, 229], i);
  await writer.write(frames);
  await writer.close();

  const [ebml, segment] = parse(await readFile(file));
  assert.equal(ebml?.id, 0x1a45dfa3);
  assert.equal(ebml?.children?.find((n) => n.id === 0x4282)?.data.toString(), 'webm');
  const tracks = segment?.children?.find((n) => n.id === 0x1654ae6b)?.children ?? [];
  assert.deepEqual(tracks.map((e) => e.children?.find((n) => n.id === 0x86)?.data.toString()), ['V_VP8', 'A_OPUS']);
  const clusters = segment?.children?.filter((n) => n.id === 0x1f43b675) ?? [];
  const blocks = clusters.flatMap((c) => {
    const base = c.children?.find((n) => n.id === 0xe7)?.data.readUIntBE(0, c.children.find((n) => n.id === 0xe7)?.data.length ?? 1) ?? 0;
    return (c.children ?? []).filter((n) => n.id === 0xa3).map((b) => ({ track: (b.data[0] ?? 0) & 0x7f, ms: base + b.data.readInt16BE(1), key: ((b.data[3] ?? 0) & 0x80) !== 0, data: b.data.subarray(4) }));
  });
  const video = blocks.filter((b) => b.track === 1);
  const audio = blocks.filter((b) => b.track === 2);
  assert.equal(video.length, 32);
  assert.ok(video[0]?.key);
  assert.deepEqual(video.map((b) => b.ms), Array.from({ length: 32 }, (_, i) => Math.round((i * 1000) / 16)));
  assert.equal(audio.length, 100); // 2 s of 20 ms packets
  const decoder = new Vp8Decoder();
  for (const b of video) {
    const frame = decoder.decode(b.data);
    assert.ok(frame);
    const px = [...frame.rgb.subarray(0, 3)];
    assert.ok(Math.abs((px[0] ?? 0) - 30) < 10 && Math.abs((px[1] ?? 0) - 136) < 10 && Math.abs((px[2] ?? 0) - 229) < 10, `pixel ${px}`);
  }
  decoder.close();
});
