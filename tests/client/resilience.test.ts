import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import type { LivegenServer } from '../../server/src/LivegenServer.ts';
import { json, startServer, until } from '../live/helpers.ts';
import { consoleErrors, framesDecoded, launchBrowser } from './browser.ts';

const PROMPT = 'a large white triangle moving up on a purple background';

interface Created {
  id: string;
  steerToken: string;
  viewerUrl: string;
  steerUrl: string;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A TCP relay in front of the server whose connections can be cut, as a flaky network would. */
async function startRelay(target: number): Promise<{ url: string; cut: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const cut = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    cut,
    close: () => {
      cut();
      return new Promise((resolve) => relay.close(() => resolve()));
    },
  };
}

async function create(server: LivegenServer): Promise<Created> {
  return json<Created>(await fetch(`${server.url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: PROMPT, seed: 5 }) }));
}

test('a stopped server shows "reconnecting"; when it is back the page says the stream went with it and starts it again', async (t) => {
  const port = await freePort();
  let server = await startServer({ port });
  t.after(() => server.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = consoleErrors(page);
  const created = await create(server);
  await page.goto(created.steerUrl);
  await page.waitForSelector('#app[data-state="live"]', { timeout: 30_000 });

  await server.close();
  await page.waitForSelector('#app[data-state="reconnecting"]', { timeout: 10_000 });
  assert.equal(await page.locator('.status').innerText(), 'Reconnecting…');
  assert.match(await page.locator('.overlay').innerText(), /Reconnecting…\s+The server is restarting\./);

  server = await startServer({ port });
  await page.waitForSelector('#app[data-state="gone"]', { timeout: 15_000 });
  assert.match(await page.locator('.overlay').innerText(), /This stream is not on the server\s+The server restarted, which ended its streams\./);
  await page.getByRole('button', { name: 'Start it again' }).click();
  await page.waitForURL((url) => url.pathname.startsWith('/s/') && !url.pathname.endsWith(created.id) && url.hash.startsWith('#steer='));
  await page.waitForSelector('#app[data-state="live"]', { timeout: 30_000 });
  await until(async () => (await framesDecoded(page)) > 0, 10_000, 'frames of the new stream');
  assert.equal(await page.locator('.prompt-now').innerText(), PROMPT, 'the new stream has the old prompt');
  const [restarted] = [...server.registry.streams];
  assert.equal(restarted?.state.seed, 5, 'and the old seed');
  // While the server was down, the browser logged each refused WebSocket; nothing else.
  assert.deepEqual(errors.filter((e) => !/^WebSocket connection to '.*' failed/.test(e)), []);
});

test('a dropped connection shows "reconnecting", then the page joins the same stream again', async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const relay = await startRelay(server.port);
  t.after(() => relay.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = consoleErrors(page);
  const created = await create(server);
  const url = `${relay.url}/s/${created.id}#steer=${created.steerToken}`;
  await page.goto(url);
  await page.waitForSelector('#app[data-state="live"]', { timeout: 30_000 });

  relay.cut();
  await page.waitForSelector('#app[data-state="reconnecting"]', { timeout: 5000 });
  assert.match(await page.locator('.overlay').innerText(), /The connection to the server dropped\./);
  await page.waitForSelector('#app[data-state="live"]', { timeout: 15_000 });
  assert.equal(page.url(), url);
  const before = await framesDecoded(page);
  await until(async () => (await framesDecoded(page)) > before + 8, 10_000, 'frames after reconnecting');
  assert.equal(server.registry.size, 1, 'still the one stream');
  assert.deepEqual(errors, []);
});

test('a full stream, a full server and an ended stream are each said plainly', async (t) => {
  const server = await startServer({}, { streams: 1, viewersPerStream: 1 });
  t.after(() => server.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const created = await create(server);

  const owner = await browser.newPage();
  const ownerErrors = consoleErrors(owner);
  await owner.goto(created.steerUrl);
  await owner.waitForSelector('#app[data-state="live"]', { timeout: 30_000 });

  const second = await browser.newPage();
  await second.goto(created.viewerUrl);
  await second.waitForSelector('#app[data-state="full"]', { timeout: 10_000 });
  assert.match(await second.locator('.overlay').innerText(), /This stream is full\s+Stream \S+ has its maximum of 1 viewers\. Trying again in 10 s\./);
  assert.equal(await second.getByRole('button', { name: 'Try now' }).count(), 1);

  const starter = await browser.newPage();
  await starter.goto(`${server.url}/`);
  await starter.getByRole('button', { name: 'Start stream' }).click();
  await starter.locator('.error', { hasText: 'The server is full right now: try again in 30 s.' }).waitFor({ timeout: 5000 });
  assert.equal(await starter.getByRole('button', { name: 'Start stream' }).isEnabled(), true, 'the form can be sent again');

  const res = await fetch(`${server.url}/api/streams/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${created.steerToken}` } });
  assert.equal(res.status, 204);
  await owner.waitForSelector('#app[data-state="ended"]', { timeout: 5000 });
  assert.match(await owner.locator('.overlay').innerText(), /This stream has ended\s+Ended by its owner\./);
  assert.equal(await owner.getByRole('button', { name: 'Start it again' }).count(), 1);
  assert.deepEqual(ownerErrors, []);
});
