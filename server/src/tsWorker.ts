import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript entry. Loader hooks do not reach worker threads, so the
 * worker registers tsx itself before importing the entry.
 */
export function startTsWorker(entry: URL, workerData: unknown): Worker {
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
