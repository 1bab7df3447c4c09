/** A web page of another origin (a second loopback port) cannot drive the HTTP APIs: its fetches fail or are
 * refused, and the real server's queue and gallery show that no job ran. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from './support/fixtures';

let site: http.Server;
let siteUrl = '';

test.beforeAll(async () => {
  // The "other site": a tiny static server on its own loopback port.
  site = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>another site</title><p>nothing to see</p>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
});

test.afterAll(async () => {
  await new Promise((resolve) => site.close(resolve));
});

interface Attempt {
  path: string;
  type: string;
  mode: string;
  outcome: string;
}

test('a cross-origin page cannot start a job through /sdapi/v1 or /v1', async ({ page, server, request }) => {
  const pngs = () => fs.readdirSync(server.outdir).filter((name) => name.endsWith('.png')).length;
  const queueBefore = ((await (await request.get(`${server.url}/healthz`)).json()) as { queue: unknown }).queue;
  const galleryBefore = pngs();

  await page.goto(siteUrl);
  const attempts: Attempt[] = await page.evaluate(async (target) => {
    const body = JSON.stringify({ prompt: 'a page made me', steps: 2, width: 64, height: 64, n: 1, size: '64x64' });
    const out: Attempt[] = [];
    for (const path of ['/sdapi/v1/txt2img', '/v1/images/generations']) {
      for (const type of ['text/plain', 'application/json']) {
        for (const mode of ['cors', 'no-cors'] as RequestMode[]) {
          let outcome: string;
          try {
            const res = await fetch(target + path, { method: 'POST', mode, headers: { 'Content-Type': type }, body });
            outcome = res.type === 'opaque' ? 'opaque' : `status ${res.status}`;
          } catch (e) {
            outcome = `failed: ${(e as Error).name}`;
          }
          out.push({ path, type, mode, outcome });
        }
      }
    }
    return out;
  }, server.url);

  expect(attempts).toHaveLength(8);
  for (const attempt of attempts) {
    // A readable answer would mean the page could use the API; only a failure or an opaque reply is allowed.
    expect(['failed: TypeError', 'opaque'], JSON.stringify(attempt)).toContain(attempt.outcome);
  }
  // The server refused them all: nothing was queued or run, nothing reached the gallery.
  const progress = (await (await request.get(`${server.url}/sdapi/v1/progress`)).json()) as { state: { job_count: number } };
  expect(progress.state.job_count).toBe(0);
  const queueAfter = ((await (await request.get(`${server.url}/healthz`)).json()) as { queue: unknown }).queue;
  expect(queueAfter).toEqual(queueBefore);
  expect(pngs()).toBe(galleryBefore);

  // The same request from a program (no Origin) is served: the refusal above was the origin's.
  const allowed = await request.post(`${server.url}/sdapi/v1/txt2img`, {
    data: { prompt: 'a program asked', steps: 1, width: 64, height: 64 },
  });
  expect(allowed.status()).toBe(200);
  expect(((await allowed.json()) as { images: string[] }).images).toHaveLength(1);
});
