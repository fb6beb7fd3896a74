import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError, intFlag, positiveFlag } from '../../server/src/commands/args.ts';
import { LoadTest, defaultWorkers, type LoadTestResult } from './LoadTest.ts';
import { renderReport } from './report.ts';

interface Slo {
  text: string;
  path: string;
  op: '>=' | '<=' | '>' | '<' | '==';
  value: number;
}

/** Parses `delivered>=0.99` or `promptToPixelMs.p95<=1500`. */
export function parseSlo(text: string): Slo {
  const m = /^\s*([\w.]+)\s*(>=|<=|==|>|<)\s*(-?[\d.]+)\s*$/.exec(text);
  if (!m?.[1] || !m[2] || !m[3] || !Number.isFinite(Number(m[3]))) throw new UsageError(`--slo is FIELD OP NUMBER (e.g. delivered>=0.99), not ${JSON.stringify(text)}`);
  return { text, path: m[1], op: m[2] as Slo['op'], value: Number(m[3]) };
}

/** Each SLO against the result; a field that is missing or null fails. */
export function checkSlos(result: LoadTestResult, slos: Slo[]): { slo: string; actual: number | null; ok: boolean }[] {
  return slos.map((s) => {
    let v: unknown = result;
    for (const key of s.path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    const actual = typeof v === 'number' ? v : null;
    const ok =
      actual !== null &&
      { '>=': actual >= s.value, '<=': actual <= s.value, '>': actual > s.value, '<': actual < s.value, '==': actual === s.value }[s.op];
    return { slo: s.text, actual, ok };
  });
}

/** `livegen loadtest`: bots against a running server; exit 1 when an SLO fails. */
export async function loadtestCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      streams: { type: 'string', default: '1' },
      viewers: { type: 'string', default: '10' },
      steerers: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '30' },
      ramp: { type: 'string' },
      whep: { type: 'boolean', default: false },
      workers: { type: 'string' },
      'decode-every': { type: 'string', default: '10' },
      'steer-every': { type: 'string', default: '3' },
      'join-rate': { type: 'string', default: '10' },
      slo: { type: 'string', multiple: true, default: [] },
      json: { type: 'string' },
      html: { type: 'string' },
    },
  });
  if (!/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http(s) URL, not ${JSON.stringify(values.url)}`);
  const streams = intFlag(values.streams, '--streams', 1, 1000);
  const viewers = intFlag(values.viewers, '--viewers', 0, 100_000);
  const steerers = intFlag(values.steerers, '--steerers', 0, 10_000);
  const ramp = values.ramp === undefined ? undefined : positiveFlag(values.ramp.replace(/\/s$/, ''), '--ramp');
  const slos = values.slo.map(parseSlo);
  const floor = slos.find((s) => s.path === 'delivered' && (s.op === '>=' || s.op === '>'))?.value ?? 0.99;
  const test = new LoadTest({
    url: values.url.replace(/\/+$/, ''),
    streams,
    viewers,
    steerers,
    seconds: positiveFlag(values.seconds, '--seconds'),
    ramp,
    whep: values.whep,
    workers: values.workers === undefined ? defaultWorkers(streams * viewers + steerers) : intFlag(values.workers, '--workers', 1, 64),
    decodeEvery: intFlag(values['decode-every'], '--decode-every', 1, 1_000_000),
    steerEveryMs: positiveFlag(values['steer-every'], '--steer-every') * 1000,
    joinRate: positiveFlag(values['join-rate'], '--join-rate'),
    rampFloor: floor,
    onProgress: (line) => process.stderr.write(process.stderr.isTTY ? `\r${line.padEnd(120)}` : `${line}\n`),
  });
  let result: LoadTestResult;
  try {
    result = await test.run();
  } catch (err) {
    if (process.stderr.isTTY) process.stderr.write('\n');
    console.error(`livegen loadtest: ${(err as Error).message}`);
    return 3;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  const checks = checkSlos(result, slos);
  const out = { ...result, slo: checks, ok: checks.every((c) => c.ok) };
  printSummary(result, checks);
  const command = `npx livegen loadtest ${args.join(' ')}`;
  if (values.json) await writeFile(values.json, JSON.stringify(out, null, 2) + '\n');
  if (values.html) await writeFile(values.html, renderReport(result, command));
  return out.ok ? 0 : 1;
}

function printSummary(r: LoadTestResult, checks: ReturnType<typeof checkSlos>): void {
  const ms = (s: { p50: number | null; p95: number | null }) => `p50 ${s.p50 ?? '-'} ms, p95 ${s.p95 ?? '-'} ms`;
  const lines: [string, string][] = [
    ['bots', `${r.bots.joined} joined of ${r.plannedBots}, ${r.bots.failed} failed ${Object.keys(r.bots.failures).length ? JSON.stringify(r.bots.failures) : ''}`],
    ['delivered', r.delivered === null ? 'n/a' : `${(r.delivered * 100).toFixed(2)}% (${r.framesReceived}/${r.framesExpected} frames)`],
    ['join', ms(r.joinMs)],
    ['first frame', ms(r.firstFrameMs)],
    ['freezes > 200 ms', String(r.freezes)],
    ['jitter', ms(r.jitterMs)],
    ['NACKs / PLIs', `${r.nacksSent} / ${r.plisSent}`],
    ['steers', `${r.steers.sent} sent, ${r.steers.acked} acknowledged, ${r.steers.errors} errors; ack ${ms(r.ackMs)}`],
    ['prompt-to-pixel', ms(r.promptToPixelMs)],
    ['colour check', r.colourCheck.fraction === null ? 'no decoded frames' : `${(r.colourCheck.fraction * 100).toFixed(1)}% of ${r.colourCheck.frames} frames`],
    ['server', `cpu ${r.serverCpu.meanCores ?? '-'} cores (max ${r.serverCpu.maxCores ?? '-'}), rss max ${r.serverRssMb.max ?? '-'} MB, rtf min ${r.serverRtf.min ?? '-'}`],
    ['bots themselves', `${r.botCpu.meanCores} cores`],
  ];
  if (r.capacity) lines.push(['capacity', `${r.capacity.viewers} viewers at ${(r.capacity.delivered * 100).toFixed(1)}% delivery`]);
  if (r.serverGone) lines.push(['ended early', r.serverGone]);
  for (const c of checks) lines.push([`slo ${c.slo}`, `${c.ok ? 'ok' : 'FAILED'} (${c.actual ?? 'missing'})`]);
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
}
