import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignalingClient, SignalingError } from '../../loadtest/src/SignalingClient.ts';
import { ViewerBot } from '../../loadtest/src/ViewerBot.ts';
import { decodeServerMessage } from '../../server/src/protocol/codec.ts';
import type { ServerMessage } from '../../server/src/protocol/messages.ts';
import type { LivegenServer } from '../../server/src/LivegenServer.ts';
import { json, startServer, until } from './helpers.ts';

const PROMPT = 'a small green square bouncing on a black background';

interface Created {
  id: string;
  steerToken: string;
  viewToken?: string;
  viewerUrl: string;
  steerUrl: string;
  whepUrl: string;
}

describe('the server API', () => {
  let server: LivegenServer;
  const create = (body: unknown) => fetch(`${server.url}/api/streams`, { method: 'POST', body: JSON.stringify(body) });
  const end = (c: Created) => fetch(`${server.url}/api/streams/${c.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${c.steerToken}` } });
  const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  before(async () => {
    server = await startServer({ audio: false }, { streams: 2, viewersPerStream: 2, promptChars: 100, editsPerSecond: 2, messageBytes: 4096 });
  });
  after(() => server.close());

  test('POST /api/streams answers 201 with the stream id, steer token and links; GET shows its state; DELETE ends it', async () => {
    const res = await create({ prompt: PROMPT, seed: 3 });
    assert.equal(res.status, 201);
    const c = await json<Created>(res);
    assert.match(c.steerToken, /^[\w-]{32}$/);
    assert.equal(c.viewerUrl, `${server.url}/s/${c.id}`);
    assert.equal(c.steerUrl, `${c.viewerUrl}#steer=${c.steerToken}`);
    assert.equal(c.whepUrl, `${server.url}/whep/${c.id}`);
    const state = await json<{ status: string; seed: number; prompt: string }>(await fetch(`${server.url}/api/streams/${c.id}`));
    assert.equal(state.seed, 3);
    assert.equal(state.prompt, PROMPT);
    assert.equal((await end(c)).status, 204);
    assert.equal((await fetch(`${server.url}/api/streams/${c.id}`)).status, 404);
  });

  test('bad requests get a 4xx with a stable code and change nothing', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [fetch(`${server.url}/api/streams`, { method: 'POST', body: '{not json' }), 400, 'LG_ERR_BAD_REQUEST'],
      [create({ prompt: 42 }), 400, 'LG_ERR_BAD_REQUEST'],
      [create({ prompt: PROMPT, seed: -1 }), 400, 'LG_ERR_BAD_REQUEST'],
      [create({ prompt: PROMPT, colour: 'red' }), 400, 'LG_ERR_BAD_REQUEST'],
      [create({ prompt: 'x'.repeat(101) }), 400, 'LG_ERR_BAD_REQUEST'],
      [create({ prompt: 'x'.repeat(5000) }), 413, 'LG_ERR_TOO_LARGE'],
      [fetch(`${server.url}/api/streams/nope`), 404, 'LG_ERR_NOT_FOUND'],
      [fetch(`${server.url}/api/streams`, { method: 'PUT' }), 405, 'LG_ERR_BAD_REQUEST'],
      [fetch(`${server.url}/nothing-here`), 404, 'LG_ERR_NOT_FOUND'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status);
      assert.equal(await errorCode(res), code);
    }
    assert.equal(server.registry.size, 0);
  });

  test('steering needs the steer token, keeps to the edit rate, and any prompt text is accepted', async () => {
    const c = await json<Created>(await create({ prompt: PROMPT }));
    const steer = (token: string | undefined, prompt: string) =>
      fetch(`${server.url}/api/streams/${c.id}/prompt`, {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body: JSON.stringify({ prompt }),
      });
    assert.equal((await steer(undefined, PROMPT)).status, 401);
    assert.equal((await steer(c.steerToken.slice(1), PROMPT)).status, 401);
    assert.equal((await fetch(`${server.url}/api/streams/${c.id}`, { method: 'DELETE' })).status, 401);
    for (const prompt of ['', '🦄 ein roter Kreis', 'a\u0000b\u0007c']) {
      const res = await steer(c.steerToken, prompt);
      if (res.status === 429) continue;
      assert.equal(res.status, 202);
      const ack = await json<{ editId: number; effectiveFrame: number }>(res);
      assert.ok(ack.effectiveFrame % 4 === 0 && ack.editId >= 1);
    }
    let limited: Response | undefined;
    for (let i = 0; i < 5 && !limited; i++) {
      const res = await steer(c.steerToken, PROMPT);
      if (res.status === 429) limited = res;
    }
    assert.ok(limited, 'edits past the rate are refused');
    assert.equal(await errorCode(limited), 'LG_ERR_RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    await end(c);
  });

  test('a server at its stream limit refuses with 503 and Retry-After', async () => {
    const a = await json<Created>(await create({ prompt: PROMPT }));
    const b = await json<Created>(await create({ prompt: PROMPT }));
    const refused = await create({ prompt: PROMPT });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '30');
    assert.equal(await errorCode(refused), 'LG_ERR_CAPACITY');
    await end(a);
    await end(b);
    const again = await create({ prompt: PROMPT });
    assert.equal(again.status, 201);
    await end(await json<Created>(again));
  });

  test('a private stream needs its view token to watch, over ws and WHEP', async () => {
    const c = await json<Created>(await create({ prompt: PROMPT, private: true }));
    assert.ok(c.viewToken);
    assert.ok(c.viewerUrl.endsWith(`?token=${c.viewToken}`));
    assert.equal((await fetch(`${server.url}/api/streams/${c.id}`)).status, 401);
    await assert.rejects(ViewerBot.join({ url: server.url, streamId: c.id, via: 'ws' }), (e: unknown) => e instanceof SignalingError && e.code === 'LG_ERR_UNAUTHORIZED');
    await assert.rejects(ViewerBot.join({ url: server.url, streamId: c.id, via: 'whep' }), /401/);
    const bot = await ViewerBot.join({ url: server.url, streamId: c.id, via: 'whep', viewToken: c.viewToken });
    await bot.connected();
    await bot.close();
    await end(c);
  });

  test('viewers beyond the per-stream limit are refused; a vanished viewer is cleaned up', async () => {
    const c = await json<Created>(await create({ prompt: PROMPT }));
    const stream = server.registry.get(c.id);
    const signaling = await SignalingClient.connect(server.url);
    const bots = [await ViewerBot.join({ url: server.url, streamId: c.id, via: 'ws', signaling }), await ViewerBot.join({ url: server.url, streamId: c.id, via: 'whep' })];
    await assert.rejects(ViewerBot.join({ url: server.url, streamId: c.id, via: 'whep' }), /503/);
    assert.equal(stream.viewerCount, 2);
    signaling.close(); // the ws viewer's socket vanishes without a leave
    await until(() => stream.viewerCount === 1, 5000, 'the ws viewer to be removed');
    await bots[1]?.close(); // WHEP DELETE
    await until(() => stream.viewerCount === 0, 5000, 'the WHEP viewer to be removed');
    await bots[0]?.close();
    const res = await fetch(`${server.url}/whep/${c.id}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\nnot sdp' });
    assert.equal(res.status, 400);
    const wrongType = await fetch(`${server.url}/whep/${c.id}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'v=0' });
    assert.equal(wrongType.status, 415);
    assert.equal(stream.viewerCount, 0);
    await end(c);
  });

  test('malformed, mistyped, unknown and oversized ws messages get an error or a closed socket, and disturb nothing else', async () => {
    const c = await json<Created>(await create({ prompt: PROMPT }));
    const bystander = await ViewerBot.join({ url: server.url, streamId: c.id, via: 'ws' });
    await bystander.connected();
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws');
    const replies: ServerMessage[] = [];
    ws.on('message', (d: Buffer) => replies.push(decodeServerMessage(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    ws.send('{"type":"join"}');
    ws.send(Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa3, 0x62, 0x61, 0x64])); // {type: 'bad'}
    ws.send(Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa4, 0x6a, 0x6f, 0x69, 0x6e, 0xa8, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x49, 0x64, 0x07])); // join, streamId: 7
    await until(() => replies.length >= 4, 5000, 'four errors');
    assert.deepEqual(replies.map((r) => r.type), ['error', 'error', 'error', 'error']);
    const messages = replies.map((r) => (r.type === 'error' ? r.message : ''));
    assert.match(messages[0] ?? '', /malformed MessagePack/);
    assert.match(messages[1] ?? '', /binary MessagePack/);
    assert.match(messages[2] ?? '', /unknown message type "bad"/);
    assert.match(messages[3] ?? '', /\/streamId/);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(5000));
    assert.equal(await closed, 1009);
    const received = bystander.stats.framesReceived;
    await until(() => bystander.stats.framesReceived > received + 8, 10_000, 'the bystander to keep receiving');
    assert.equal(server.registry.get(c.id).viewerCount, 1);
    await bystander.close();
    await end(c);
  });

  test('a message flood is refused, then the socket is closed', async () => {
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws');
    let limited = 0;
    ws.on('message', (d: Buffer) => {
      const m = decodeServerMessage(d);
      if (m.type === 'error' && m.code === 'LG_ERR_RATE_LIMITED') limited++;
    });
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    for (let i = 0; i < 400; i++) ws.send(Buffer.from([0x80]));
    assert.equal(await closed, 1008);
    assert.ok(limited > 0);
  });

  test('the ws client that creates a stream follows it: it hears its state and its end without joining', async () => {
    const owner = await SignalingClient.connect(server.url);
    const heard: ServerMessage[] = [];
    owner.onMessage((m) => heard.push(m));
    const created = await owner.request({ type: 'create', prompt: PROMPT, seed: 2 }, 'created');
    await until(() => heard.some((m) => m.type === 'state' && m.state.id === created.streamId), 5000, 'a state message');
    const ended = new Promise<ServerMessage>((r) => owner.onMessage((m) => m.type === 'ended' && r(m)));
    await fetch(`${server.url}/api/streams/${created.streamId}`, { method: 'DELETE', headers: { authorization: `Bearer ${created.steerToken}` } });
    assert.deepEqual(await ended, { type: 'ended', streamId: created.streamId, status: 'ended', reason: 'ended by its owner' });
    owner.close();
  });

  test('ws clients steer with an acknowledgement and every watcher hears the new prompt', async () => {
    const owner = await SignalingClient.connect(server.url);
    const created = await owner.request({ type: 'create', prompt: PROMPT, seed: 1 }, 'created');
    const watcher = await SignalingClient.connect(server.url);
    const heard: ServerMessage[] = [];
    watcher.onMessage((m) => heard.push(m));
    const bot = await ViewerBot.join({ url: server.url, streamId: created.streamId, via: 'ws', signaling: watcher });
    await assert.rejects(owner.request({ type: 'steer', streamId: created.streamId, steerToken: 'wrong', prompt: 'x' }, 'steered'), /wrong steer token/);
    const ack = await owner.request({ type: 'steer', streamId: created.streamId, steerToken: created.steerToken, prompt: 'a large blue circle on a white background', blendFrames: 2 }, 'steered');
    assert.equal(ack.editId, 1);
    const timing = bot.timing;
    assert.ok(timing);
    assert.equal(ack.rtpTimestamp, (timing.rtpTimestampOfFrame0 + ack.effectiveFrame * timing.rtpTicksPerFrame) >>> 0);
    await until(() => heard.some((m) => m.type === 'prompt' && m.entry.id === 1 && m.entry.blendFrames === 2), 5000, 'the prompt message');
    await until(() => heard.some((m) => m.type === 'state' && m.state.prompt.startsWith('a large blue')), 5000, 'a state message');
    const ended = new Promise<ServerMessage>((r) => watcher.onMessage((m) => m.type === 'ended' && r(m)));
    await fetch(`${server.url}/api/streams/${created.streamId}`, { method: 'DELETE', headers: { authorization: `Bearer ${created.steerToken}` } });
    assert.deepEqual(await ended, { type: 'ended', streamId: created.streamId, status: 'ended', reason: 'ended by its owner' });
    await bot.close();
    owner.close();
    watcher.close();
  });
});
