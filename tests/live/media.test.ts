import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ViewerBot, type ReceivedFrame } from '../../loadtest/src/ViewerBot.ts';
import type { SteerAck } from '../../server/src/protocol/messages.ts';
import { BLUE, YELLOW, borderColour, json, nearer, startServer, until, type Rgb } from './helpers.ts';

const BEFORE = 'a large red circle moving left on a blue background';
const AFTER = 'a large red circle moving left on a yellow background';

test('a ws bot and a WHEP bot receive the same VP8 frames of the prompt, and a REST steer changes them from the acknowledged frame', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const created = await json<{ id: string; steerToken: string }>(
    await fetch(`${server.url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: BEFORE, seed: 7 }) }),
  );
  const seen = { ws: new Map<number, Rgb>(), whep: new Map<number, Rgb>() };
  const record = (via: 'ws' | 'whep') => (f: ReceivedFrame) => {
    if (f.rgb && f.width && f.height) seen[via].set(f.index, borderColour(f.rgb, f.width, f.height));
  };
  const bots = await Promise.all(
    (['ws', 'whep'] as const).map((via) => ViewerBot.join({ url: server.url, streamId: created.id, via, decode: true, onFrame: record(via) })),
  );
  t.after(() => Promise.all(bots.map((b) => b.close())));

  await until(() => seen.ws.size >= 12 && seen.whep.size >= 12, 30_000, '12 decoded frames at each bot');
  const res = await fetch(`${server.url}/api/streams/${created.id}/prompt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${created.steerToken}` },
    body: JSON.stringify({ prompt: AFTER }),
  });
  assert.equal(res.status, 202);
  const ack = await json<SteerAck>(res);
  assert.equal(ack.editId, 1);
  const last = ack.effectiveFrame + 24;
  await until(() => [...seen.ws.keys(), ...seen.whep.keys()].filter((k) => k >= last).length >= 2, 30_000, `frames past ${last}`);

  for (const via of ['ws', 'whep'] as const) {
    const frames = [...seen[via]].sort((a, b) => a[0] - b[0]);
    const before = frames.filter(([k]) => k < ack.effectiveFrame);
    const after = frames.filter(([k]) => k >= ack.effectiveFrame + 8);
    assert.ok(before.length >= 8 && after.length >= 8, `${via}: ${before.length} frames before the edit, ${after.length} after`);
    for (const [k, c] of before) assert.ok(nearer(c, BLUE, YELLOW), `${via} frame ${k} precedes the edit (frame ${ack.effectiveFrame}) but is not blue: ${c.map(Math.round)}`);
    for (const [k, c] of after) assert.ok(nearer(c, YELLOW, BLUE), `${via} frame ${k} follows the edit (frame ${ack.effectiveFrame}) but is not yellow: ${c.map(Math.round)}`);
  }
  // One encode fans out to every viewer: frames both bots decoded are the same pixels.
  const both = [...seen.ws.keys()].filter((k) => seen.whep.has(k));
  assert.ok(both.length >= 16);
  for (const k of both) assert.deepEqual(seen.ws.get(k), seen.whep.get(k), `frame ${k} differs between the bots`);
  for (const bot of bots) {
    assert.ok(bot.stats.keyframes >= 1, 'a keyframe arrived');
    assert.ok(bot.stats.audioPackets > 0, 'the soundtrack arrived');
    assert.equal(bot.stats.decodeErrors, 0);
  }

  const state = await json<{ prompts: { text: string; effectiveFrom: number }[]; viewers: number }>(await fetch(`${server.url}/api/streams/${created.id}`));
  assert.deepEqual(state.prompts.map((p) => [p.text, p.effectiveFrom * 4]), [[BEFORE, 0], [AFTER, ack.effectiveFrame]]);
  assert.equal(state.viewers, 2);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^livegen_viewers 2$/m);
  assert.match(metrics, /^livegen_steers_total 1$/m);
  assert.match(metrics, /^livegen_frames_sent_total [1-9]\d*$/m);
});
