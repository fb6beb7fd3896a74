/**
 * Bundles the browser client: `npm run build:client` (scripts/setup.sh runs it when the sources
 * are newer than client/dist/index.html).
 *
 *   client/src/main.ts (+ the CSS it imports) → client/dist/assets/app.js, app.css, sourcemaps
 *   client/index.html                         → client/dist/index.html
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const root = import.meta.dirname;
const dist = path.join(root, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(path.join(dist, 'assets'), { recursive: true });
const result = await build({
  entryPoints: { app: path.join(root, 'src/main.ts') },
  outdir: path.join(dist, 'assets'),
  bundle: true,
  format: 'esm',
  target: ['chrome111', 'firefox115', 'safari16.4'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
  write: true,
  metafile: true,
});

// The server caches /assets/* as immutable, so the page names its assets with a content hash.
const hash = createHash('sha256');
for (const file of Object.keys(result.metafile.outputs).sort()) hash.update(await readFile(file));
const version = hash.digest('hex').slice(0, 12);
const html = (await readFile(path.join(root, 'index.html'), 'utf8')).replaceAll('%VERSION%', version);
await writeFile(path.join(dist, 'index.html'), html);
console.log(`client built: client/dist (version ${version})`);
