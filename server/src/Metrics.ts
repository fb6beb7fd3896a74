/** A counter, gauge or summary (as _sum and _count) in Prometheus's text format. */
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'summary';
  read: () => number | { sum: number; count: number };
}

/** Running sum and count of a timing, exported as a Prometheus summary without quantiles. */
export class Timing {
  sum = 0;
  count = 0;

  observe(ms: number): void {
    this.sum += ms;
    this.count++;
  }
}

/**
 * The server's metrics, at `/metrics`. Totals count over the server's life, ended streams
 * included; gauges read the present.
 */
export class Metrics {
  readonly framesGenerated = { value: 0 };
  readonly framesSent = { value: 0 };
  readonly keyframes = { value: 0 };
  readonly steers = { value: 0 };
  readonly streamsCreated = { value: 0 };
  readonly streamsFailed = { value: 0 };
  readonly refused = { value: 0 };
  readonly stalls = { value: 0 };
  readonly encodeMs = new Timing();
  readonly latentFrameMs = new Timing();
  /** From a steer's request to the first video frame it governs leaving the server. */
  readonly steerToFrameMs = new Timing();
  readonly #families: Family[] = [];
  readonly #cpuStart = process.cpuUsage();

  constructor(gauges: { streams: () => number; viewers: () => number; rtf: () => number }) {
    const add = (name: string, help: string, type: Family['type'], read: Family['read']) => this.#families.push({ name, help, type, read });
    add('livegen_streams', 'Streams live now', 'gauge', gauges.streams);
    add('livegen_viewers', 'Viewers connected now, all streams', 'gauge', gauges.viewers);
    add('livegen_realtime_factor', 'Lowest real-time factor of generation among live streams (video seconds per wall second)', 'gauge', gauges.rtf);
    add('livegen_streams_created_total', 'Streams created', 'counter', () => this.streamsCreated.value);
    add('livegen_streams_failed_total', 'Streams ended by a fault', 'counter', () => this.streamsFailed.value);
    add('livegen_refused_total', 'Streams or viewers refused for capacity', 'counter', () => this.refused.value);
    add('livegen_frames_generated_total', 'Video frames generated', 'counter', () => this.framesGenerated.value);
    add('livegen_frames_sent_total', 'Video frames encoded and sent to viewers', 'counter', () => this.framesSent.value);
    add('livegen_keyframes_total', 'Keyframes encoded', 'counter', () => this.keyframes.value);
    add('livegen_playback_stalls_total', 'Times a stream had no frame ready when one was due', 'counter', () => this.stalls.value);
    add('livegen_steers_total', 'Prompt edits accepted', 'counter', () => this.steers.value);
    add('livegen_encode_ms', 'VP8 encode time per frame', 'summary', () => this.encodeMs);
    add('livegen_latent_frame_ms', 'Model time per latent frame (sampling and decoding, queueing included)', 'summary', () => this.latentFrameMs);
    add('livegen_steer_to_frame_ms', 'From a steer request to its first frame leaving the server', 'summary', () => this.steerToFrameMs);
    add('process_cpu_seconds_total', 'CPU time of the server process (user + system), all threads', 'counter', () => {
      const u = process.cpuUsage(this.#cpuStart);
      return (u.user + u.system) / 1e6;
    });
    add('process_resident_memory_bytes', 'Resident set size', 'gauge', () => process.memoryUsage.rss());
  }

  /** The text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    for (const f of this.#families) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      const v = f.read();
      if (typeof v === 'number') lines.push(`${f.name} ${format(v)}`);
      else lines.push(`${f.name}_sum ${format(v.sum)}`, `${f.name}_count ${v.count}`);
    }
    return lines.join('\n') + '\n';
  }
}

function format(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : 'NaN';
}
