import type { LoadTestResult, TimelinePoint } from './LoadTest.ts';

interface Series {
  name: string;
  colour: string;
  value: (p: TimelinePoint) => number | null;
}

/** A line chart over the test's timeline as inline SVG: no scripts, no network. */
function chart(title: string, unit: string, timeline: TimelinePoint[], series: Series[]): string {
  const w = 640;
  const h = 200;
  const pad = { l: 48, r: 12, t: 24, b: 28 };
  const tMax = Math.max(1, ...timeline.map((p) => p.t));
  const values = timeline.flatMap((p) => series.map((s) => s.value(p))).filter((v): v is number => v !== null && Number.isFinite(v));
  const yMax = Math.max(1e-9, ...values) * 1.1;
  const x = (t: number) => pad.l + (t / tMax) * (w - pad.l - pad.r);
  const y = (v: number) => h - pad.b - (v / yMax) * (h - pad.t - pad.b);
  const lines = series.map((s) => {
    const pts = timeline.flatMap((p) => {
      const v = s.value(p);
      return v === null || !Number.isFinite(v) ? [] : [`${x(p.t).toFixed(1)},${y(v).toFixed(1)}`];
    });
    return `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${pts.join(' ')}"/>`;
  });
  const ticks = [0, 0.5, 1].map((f) => `<text x="${pad.l - 6}" y="${y(yMax * f / 1.1) + 4}" text-anchor="end">${fmt((yMax * f) / 1.1)}</text>`);
  const legend = series.map((s, i) => `<text x="${pad.l + 8 + i * 150}" y="16" fill="${s.colour}">■ ${escape(s.name)}</text>`);
  return `<figure><svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escape(title)}">
<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#999"/><line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="#999"/>
${ticks.join('')}<text x="${w - pad.r}" y="${h - 8}" text-anchor="end">${fmt(tMax)} s</text>${legend.join('')}${lines.join('')}</svg>
<figcaption>${escape(title)} (${escape(unit)})</figcaption></figure>`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2);
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

/** The whole report: the summary table and the plots over time. */
export function renderReport(result: LoadTestResult, command: string): string {
  const t = result.timeline;
  const row = (k: string, v: unknown) => `<tr><th>${escape(k)}</th><td>${escape(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`;
  const rows = [
    row('server', result.url),
    row('streams', `${result.streams.length} (${result.refusedStreams} refused)`),
    row('bots', `${result.bots.joined} joined of ${result.plannedBots}; ${result.bots.failed} failed ${JSON.stringify(result.bots.failures)}`),
    row('delivered', result.delivered === null ? 'n/a' : `${(result.delivered * 100).toFixed(2)}% (${result.framesReceived}/${result.framesExpected} frames)`),
    row('join ms', result.joinMs),
    row('first frame ms', result.firstFrameMs),
    row('freezes (> 200 ms)', result.freezes),
    row('jitter ms', result.jitterMs),
    row('NACKs / PLIs sent', `${result.nacksSent} / ${result.plisSent}`),
    row('bitrate kbps', result.bitrateKbps),
    row('steers', result.steers),
    row('ack ms', result.ackMs),
    row('prompt-to-pixel ms', result.promptToPixelMs),
    row('colour check', result.colourCheck),
    row('server CPU (cores)', result.serverCpu),
    row('server RSS MB', result.serverRssMb),
    row('server real-time factor (min)', result.serverRtf.min),
    row('bots CPU (cores)', result.botCpu.meanCores),
    ...(result.capacity ? [row('capacity', `${result.capacity.viewers} viewers at ${(result.capacity.delivered * 100).toFixed(1)}% delivery`)] : []),
    ...(result.serverGone ? [row('ended early', result.serverGone)] : []),
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>livegen load test</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:720px}th{text-align:left;padding-right:1em;font-weight:600}td,th{vertical-align:top;padding:2px 0}svg{font-size:11px;background:#fafafa}figure{margin:1.5em 0}code{background:#f3f3f3;padding:2px 4px}</style></head><body>
<h1>livegen load test</h1><p><code>${escape(command)}</code></p><table>${rows.join('\n')}</table>
${chart('Viewers playing', 'bots', t, [{ name: 'viewers', colour: '#1e88e5', value: (p) => p.viewers }])}
${chart('Delivered frame rate per viewer', 'frames per second', t, [{ name: 'fps', colour: '#43a047', value: (p) => p.fps }])}
${chart('Delivery', 'fraction of expected frames', t, [{ name: 'delivered', colour: '#8e24aa', value: (p) => p.delivered }])}
${chart('Prompt-to-pixel latency, last 5 s', 'ms', t, [{ name: 'p50', colour: '#fb8c00', value: (p) => p.promptToPixelP50 }, { name: 'p95', colour: '#e53935', value: (p) => p.promptToPixelP95 }])}
${chart('Server CPU', 'cores', t, [{ name: 'cpu', colour: '#00acc1', value: (p) => p.serverCpuCores }])}
${chart('Server memory', 'MB RSS', t, [{ name: 'rss', colour: '#616161', value: (p) => p.serverRssMb }])}
</body></html>
`;
}
