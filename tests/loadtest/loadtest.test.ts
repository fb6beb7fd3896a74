import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadTest, type LoadTestOptions } from '../../loadtest/src/LoadTest.ts';
import { BotFleet } from '../../loadtest/src/BotFleet.ts';
import { checkSlos, parseSlo } from '../../loadtest/src/command.ts';
import { renderReport } from '../../loadtest/src/report.ts';
import { startServer, sleep, until } from '../live/helpers.ts';

function options(url: string, o: Partial<LoadTestOptions>): LoadTestOptions {
  return { url, streams: 1, viewers: 2, steerers: 0, seconds: 6, ramp: undefined, whep: false, workers: 1, decodeEvery: 2, steerEveryMs: 2000, joinRate: 10, rampFloor: 0.99, ...o };
}

test('a short load test reports sane delivery, join, latency and server figures, and its report renders', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const result = await new LoadTest(options(server.url, { viewers: 3, steerers: 1, seconds: 9, workers: 2, steerEveryMs: 1000 })).run();
  assert.equal(result.bots.joined, 4);
  assert.equal(result.bots.failed, 0);
  assert.ok(result.delivered !== null && result.delivered >= 0.9 && result.delivered <= 1, `delivered ${result.delivered}`);
  assert.ok(result.framesReceived > 4 * 16, `${result.framesReceived} frames`);
  assert.ok((result.joinMs.p50 ?? 0) > 0 && (result.joinMs.p95 ?? 0) >= (result.joinMs.p50 ?? 0));
  assert.ok((result.firstFrameMs.p50 ?? 0) >= (result.joinMs.p50 ?? 0));
  assert.ok(result.steers.acked >= 1 && result.promptToPixelMs.n >= 1, JSON.stringify(result.steers));
  assert.ok((result.promptToPixelMs.p50 ?? 0) > 0 && (result.promptToPixelMs.p50 ?? 0) < 5000);
  assert.ok(result.colourCheck.frames > 0);
  assert.ok((result.serverCpu.meanCores ?? 0) > 0 && (result.serverRssMb.max ?? 0) > 50);
  assert.ok(result.timeline.length >= 5 && result.timeline.every((p) => p.delivered >= 0 && p.delivered <= 1));
  assert.ok(result.audioPackets > 0);
  assert.deepEqual(checkSlos(result, [parseSlo('delivered>=0.9'), parseSlo('promptToPixelMs.p95<=1'), parseSlo('nothing.here>1')]).map((c) => c.ok), [true, false, false]);
  const html = renderReport(result, 'npx livegen loadtest --viewers 3');
  assert.match(html, /<svg[^>]*aria-label="Delivery"/);
  assert.equal(html.match(/<polyline/g)?.length, 7);
  assert.ok(html.includes('--viewers 3'));
});

test('joins a full server refuses are reported as refused, and the rest play', async (t) => {
  const server = await startServer({ audio: false }, { viewersPerStream: 2 });
  t.after(() => server.close());
  const result = await new LoadTest(options(server.url, { viewers: 4, seconds: 8, whep: true })).run();
  assert.equal(result.bots.joined, 2);
  assert.deepEqual(result.bots.failures, { LG_ERR_CAPACITY: 2 });
  assert.ok(result.delivered !== null && result.delivered > 0.9);
});

test('a bot killed mid-run is reported as killed and the server drops its viewer', async (t) => {
  const server = await startServer({ audio: false });
  t.after(() => server.close());
  const created = (await (await fetch(`${server.url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: 'a red circle on a blue background' }) })).json()) as { id: string };
  const fleet = new BotFleet(server.url);
  t.after(() => fleet.close());
  fleet.add({ id: 1, streamId: created.id, via: 'ws', decode: false });
  fleet.add({ id: 2, streamId: created.id, via: 'whep', decode: false });
  await until(() => fleet.take().every((r) => r.state === 'playing' && r.frames > 0), 15_000, 'both bots playing');
  fleet.kill(1);
  await until(() => server.registry.get(created.id).viewerCount === 1, 10_000, 'the killed viewer to go');
  const [killed, alive] = fleet.take();
  assert.deepEqual([killed?.state, killed?.error], ['failed', 'killed']);
  assert.equal(alive?.state, 'playing');
});

test('a server that goes away mid-run ends the test with what was measured, not a crash', async () => {
  const server = await startServer({ audio: false });
  const run = new LoadTest(options(server.url, { seconds: 30 })).run();
  await sleep(4000);
  await server.close();
  const result = await run;
  assert.match(result.serverGone ?? '', /stopped answering/);
  assert.ok(result.seconds < 20);
  assert.ok(result.framesReceived > 0);
});
