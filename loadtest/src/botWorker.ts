// worker_threads entry: a BotFleet off the main thread, so that many bots use many cores.
import { parentPort, workerData } from 'node:worker_threads';
import { BotFleet, type BotPlan } from './BotFleet.ts';

export type FleetCommand = { type: 'add'; plans: BotPlan[] } | { type: 'kill'; id: number } | { type: 'report' } | { type: 'stop' };

const port = parentPort;
if (!port) throw new Error('botWorker must run in a worker thread');
const fleet = new BotFleet((workerData as { url: string }).url);

port.on('message', (command: FleetCommand) => {
  if (command.type === 'add') for (const plan of command.plans) fleet.add(plan);
  else if (command.type === 'kill') fleet.kill(command.id);
  else if (command.type === 'report') port.postMessage({ type: 'report', bots: fleet.take() });
  else void fleet.close().then(() => port.postMessage({ type: 'stopped', bots: fleet.take() }));
});
