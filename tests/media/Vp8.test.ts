import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vp8Decoder, Vp8Encoder, type EncodedFrame, type Vp8EncoderOptions } from '../../server/src/media/vp8.ts';

const W = 256;
const H = 256;
const options: Vp8EncoderOptions = { width: W, height: H, fps: 30, bitrateKbps: 1000 };

function solid(r: number, g: number, b: number): Buffer {
  const rgb = Buffer.alloc(W * H * 3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = r;
    rgb[i + 1] = g;
    rgb[i + 2] = b;
  }
  return rgb;
}

/** A drifting textured background with squares moving over it: content a codec must spend bits on. */
function movingSquares(frame: number): Buffer {
  const rgb = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      rgb[i] = (x * 3 + y * 2 + frame * 4) & 255;
      rgb[i + 1] = (x ^ (y + frame)) & 255;
      rgb[i + 2] = (128 + 64 * Math.sin((x + frame * 3) / 9) * Math.cos(y / 13)) | 0;
    }
  }
  for (let s = 0; s < 4; s++) {
    const sx = (frame * (s + 2) * 3 + s * 50) % (W - 40);
    const sy = (s * 60 + frame * 2) % (H - 40);
    for (let y = sy; y < sy + 40; y++) rgb.fill(s * 60, (y * W + sx) * 3, (y * W + sx + 40) * 3);
  }
  return rgb;
}

function maxChannelError(rgb: Uint8Array, r: number, g: number, b: number): number {
  let worst = 0;
  for (let i = 0; i < rgb.length; i += 3) {
    worst = Math.max(worst, Math.abs((rgb[i] ?? 0) - r), Math.abs((rgb[i + 1] ?? 0) - g), Math.abs((rgb[i + 2] ?? 0) - b));
  }
  return worst;
}

async function encodeFrame(encoder: Vp8Encoder, rgb: Uint8Array, keyframe = false): Promise<EncodedFrame> {
  const frame = await encoder.encode(rgb, keyframe);
  assert.ok(frame, 'the encoder drops no frames (rc_dropframe_thresh 0)');
  return frame;
}

test('a solid-colour frame keeps its colour through encode and decode', async () => {
  const colours: [number, number, number][] = [[200, 30, 60], [20, 120, 220], [128, 128, 128], [16, 16, 16], [240, 240, 240]];
  for (const [r, g, b] of colours) {
    const encoder = new Vp8Encoder(options);
    const decoder = new Vp8Decoder();
    const rgb = solid(r, g, b);
    for (let i = 0; i < 6; i++) {
      const decoded = decoder.decode((await encodeFrame(encoder, rgb)).data);
      assert.ok(decoded);
      assert.equal(decoded.width, W);
      assert.equal(decoded.height, H);
      assert.equal(decoded.rgb.length, W * H * 3);
      if (i >= 3) assert.ok(maxChannelError(decoded.rgb, r, g, b) <= 8, `rgb(${r},${g},${b}) frame ${i}`);
    }
    encoder.close();
    decoder.close();
  }
});

test('encode copies the frame, so the caller may reuse its buffer (and pass a view into a larger one)', async () => {
  const encoder = new Vp8Encoder(options);
  const decoder = new Vp8Decoder();
  const backing = Buffer.alloc(W * H * 3 + 7, 0);
  solid(30, 200, 90).copy(backing, 7);
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, W * H * 3);
  for (let i = 0; i < 4; i++) {
    const pending = encoder.encode(view, false);
    backing.fill(255);
    const frame = await pending;
    assert.ok(frame);
    const decoded = decoder.decode(frame.data);
    solid(30, 200, 90).copy(backing, 7);
    if (i >= 2) assert.ok(decoded && maxChannelError(decoded.rgb, 30, 200, 90) <= 8);
  }
  encoder.close();
});

test('the first frame and a forced one are keyframes, the others are not', async () => {
  const encoder = new Vp8Encoder(options);
  const flags: boolean[] = [];
  for (let i = 0; i < 12; i++) flags.push((await encodeFrame(encoder, movingSquares(i), i === 6)).keyframe);
  encoder.close();
  assert.equal(flags[0], true);
  assert.equal(flags[6], true);
  const others = flags.filter((key, i) => key && i !== 0 && i !== 6).length;
  assert.ok(others <= 1, `unexpected keyframes: ${flags.join(',')}`);
});

test('keyframeInterval bounds the distance between keyframes', async () => {
  const encoder = new Vp8Encoder({ ...options, keyframeInterval: 4 });
  let last = 0;
  for (let i = 0; i < 16; i++) {
    if ((await encodeFrame(encoder, movingSquares(i))).keyframe) last = i;
    assert.ok(i - last <= 4, `frame ${i}: last keyframe at ${last}`);
  }
  encoder.close();
});

test('setBitrate changes the encoded size live', async () => {
  const encoder = new Vp8Encoder({ ...options, bitrateKbps: 2000 });
  const bytes = async (from: number, to: number): Promise<number> => {
    let total = 0;
    for (let i = from; i < to; i++) {
      const size = (await encodeFrame(encoder, movingSquares(i))).data.length;
      if (i >= from + 10) total += size; // let the rate controller settle first
    }
    return total;
  };
  const high = await bytes(0, 30);
  encoder.setBitrate(150);
  const low = await bytes(30, 60);
  encoder.close();
  assert.ok(low < high / 3, `150 kbps gave ${low} bytes, 2000 kbps gave ${high}`);
});

test('encodes issued concurrently complete in call order with the same bytes as sequential ones', async () => {
  const frames = Array.from({ length: 12 }, (_, i) => movingSquares(i));
  const concurrent = new Vp8Encoder(options);
  const completed: number[] = [];
  const results = await Promise.all(
    frames.map((rgb, i) =>
      concurrent.encode(rgb, i === 5).then((frame) => {
        completed.push(i);
        return frame;
      }),
    ),
  );
  concurrent.close();
  assert.deepEqual(completed, frames.map((_, i) => i));

  const sequential = new Vp8Encoder(options);
  for (const [i, rgb] of frames.entries()) {
    const expected = await encodeFrame(sequential, rgb, i === 5);
    assert.deepEqual(results[i], expected, `frame ${i}`);
  }
  sequential.close();
});

test('bad encoder options throw a TypeError or RangeError naming the problem', () => {
  const bad: [unknown, RegExp][] = [
    [undefined, /options must be an object/],
    [null, /options must be an object/],
    [{ ...options, width: 255 }, /width must be an even integer/],
    [{ ...options, width: 0 }, /width must be an even integer/],
    [{ ...options, height: 4098 }, /height must be an even integer from 2 to 4096/],
    [{ ...options, height: -2 }, /height must be an even integer/],
    [{ ...options, width: '256' }, /width must be a number/],
    [{ ...options, fps: 0 }, /fps must be/],
    [{ ...options, bitrateKbps: 0 }, /bitrateKbps must be/],
    [{ ...options, bitrateKbps: -100 }, /bitrateKbps must be/],
    [{ ...options, keyframeInterval: 0 }, /keyframeInterval must be/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => new Vp8Encoder(value as Vp8EncoderOptions), (e: unknown) => e instanceof Error && message.test(e.message), String(JSON.stringify(value)));
  }
});

test('bad arguments to encode reject, and bad bitrates throw', async () => {
  const encoder = new Vp8Encoder(options);
  await assert.rejects(encoder.encode(new Uint8Array(10), false), { name: 'RangeError', message: /196608 bytes, got 10/ });
  await assert.rejects(encoder.encode(new Uint8Array(W * H * 3 + 3), false), RangeError);
  const notBytes: unknown[] = ['rgb', [1, 2, 3], new Int16Array(W * H * 3), null, undefined];
  for (const value of notBytes) {
    await assert.rejects(encoder.encode(value as Uint8Array, false), { name: 'TypeError', message: /rgb must be a Uint8Array/ });
  }
  await assert.rejects(encoder.encode(solid(0, 0, 0), 1 as unknown as boolean), { name: 'TypeError', message: /keyframe must be a boolean/ });
  // V8 checks the receiver of a native method before the addon runs, so this one throws.
  assert.throws(() => Vp8Encoder.prototype.encode.call({}, solid(0, 0, 0), false), { name: 'TypeError', message: /Illegal invocation/ });
  for (const kbps of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => encoder.setBitrate(kbps), { name: 'RangeError', message: /bitrate must be/ });
  }
  assert.throws(() => encoder.setBitrate('500' as unknown as number), { name: 'TypeError', message: /must be a number/ });
  // The encoder still works after all of that.
  assert.ok(await encoder.encode(solid(1, 2, 3), false));
  encoder.close();
});

test('bad input to the decoder throws and the decoder recovers at the next keyframe', async () => {
  const encoder = new Vp8Encoder(options);
  const key = await encodeFrame(encoder, solid(90, 90, 90));
  const inter = await encodeFrame(encoder, solid(90, 90, 90));
  encoder.close();

  const decoder = new Vp8Decoder();
  assert.throws(() => decoder.decode('frame' as unknown as Uint8Array), { name: 'TypeError', message: /frame must be a Uint8Array/ });
  assert.throws(() => decoder.decode(new Uint8Array(0)), { name: 'RangeError', message: /empty/ });
  assert.throws(() => decoder.decode(inter.data), /VP8 decode failed/); // no keyframe yet
  assert.throws(() => decoder.decode(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), /VP8 decode failed/);
  assert.throws(() => decoder.decode(key.data.subarray(0, 12)), /VP8 decode failed/);
  // A keyframe header claiming 16383x16383.
  const huge = Buffer.from(key.data);
  huge.writeUInt16LE(0x3fff, 6);
  huge.writeUInt16LE(0x3fff, 8);
  assert.throws(() => decoder.decode(huge), { name: 'RangeError', message: /4096x4096 limit/ });
  const random = Buffer.alloc(4000);
  for (let seed = 1, i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 20; i++) {
    random[0] = i; // both keyframe and interframe headers
    try {
      decoder.decode(random.subarray(0, 100 + i * 190));
    } catch (e) {
      assert.ok(e instanceof Error);
    }
  }
  assert.ok(decoder.decode(key.data), 'a keyframe resets the decoder');
  decoder.close();
  assert.throws(() => decoder.decode(key.data), { message: 'decoder closed' });
  decoder.close();
});

test('close during an in-flight encode lets it finish and rejects the rest', async () => {
  const encoder = new Vp8Encoder(options);
  const running = encoder.encode(movingSquares(0), false);
  const queued = encoder.encode(movingSquares(1), false);
  encoder.close();
  encoder.close();
  const queuedRejects = assert.rejects(queued, { message: 'encoder closed' });
  const frame = await running;
  assert.ok(frame && frame.keyframe && frame.data.length > 0);
  await queuedRejects;
  await assert.rejects(encoder.encode(movingSquares(2), false), { message: 'encoder closed' });
  assert.throws(() => encoder.setBitrate(500), { message: 'encoder closed' });
});
