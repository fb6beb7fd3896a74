import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignalingClient } from '../../loadtest/src/SignalingClient.ts';
import { ViewerBot } from '../../loadtest/src/ViewerBot.ts';
import type { ServerMessage } from '../../server/src/protocol/messages.ts';
import { MODEL_DIR, startServer } from './helpers.ts';

const PROMPT = 'a large white triangle moving up on a purple background';

test('a model run that throws ends that stream with the reason sent to its viewers; the server lives on', async (t) => {
  // A manifest that lies about the latent shape makes the graphs throw at their first run.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livegen-throwing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(MODEL_DIR, dir, { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { latent: { channels: number } };
  manifest.latent.channels = 15;
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const server = await startServer({ modelDir: dir });
  t.after(() => server.close());

  const client = await SignalingClient.connect(server.url);
  t.after(() => client.close());
  const ended = new Promise<ServerMessage>((resolve) => client.onMessage((m) => m.type === 'ended' && resolve(m)));
  const created = await client.request({ type: 'create', prompt: PROMPT }, 'created');
  const bot = await ViewerBot.join({ url: server.url, streamId: created.streamId, via: 'ws', signaling: client }).catch(() => undefined);
  const message = await ended;
  assert.equal(message.type === 'ended' && message.status, 'failed');
  assert.match(message.type === 'ended' ? message.reason : '', /the model failed: graph \w+ failed/);
  await bot?.close();
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  const again = await fetch(`${server.url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: PROMPT }) });
  assert.equal(again.status, 201);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^livegen_streams_failed_total [12]$/m);
});

test('SIGTERM: the server tells its clients, ends its streams and exits 0', async () => {
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../bin/livegen.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--model', MODEL_DIR], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(`server exited early: ${out}`)));
  });
  const client = await SignalingClient.connect(url);
  const created = await client.request({ type: 'create', prompt: PROMPT }, 'created');
  const bot = await ViewerBot.join({ url, streamId: created.streamId, via: 'ws', signaling: client });
  await bot.connected();
  const told: ServerMessage[] = [];
  client.onMessage((m) => told.push(m));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(told.some((m) => m.type === 'ended' && m.streamId === created.streamId), 'the stream ended');
  assert.ok(told.some((m) => m.type === 'shutdown'), 'the client was told');
  await bot.close();
  const { status } = await fetch(`${url}/healthz`).catch(() => ({ status: 0 }));
  assert.equal(status, 0, 'nothing listens any more');
});
