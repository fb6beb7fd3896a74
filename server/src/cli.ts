import path from 'node:path';
import { LivegenError } from './errors.ts';
import { UsageError } from './commands/args.ts';

/** The built-in model, shipped in the repository. */
export const DEFAULT_MODEL_DIR = path.resolve(import.meta.dirname, '../../models/default');

const USAGE = `usage: livegen <command> [options]

commands:
  generate --prompt TEXT --out FILE.y4m|FILE.webm [--edit SECONDS=TEXT]... [--seconds 10] [--seed 0]
           [--blend LATENT_FRAMES] [--history pyramid|full] [--log FILE.json] [--threads 2]
           [--provider cpu|webgpu] [--model DIR]
                        generate a video with timed prompt edits (each faded in over
                        --blend latent frames; 0, a cut, by default)
  replay LOG.json --out FILE.y4m|FILE.webm
                        the same frames again, from the seed and prompt log
  bench [--minutes 1] [--full-minutes 0.5] [--reencode-minutes 0.25] [--json FILE] [--threads 2]
        [--provider cpu|webgpu] [--model DIR]
                        per-latent-frame time, real-time factor, flatness, the unbounded-history
                        baseline and the history-re-encoded-every-step baseline side by side,
                        achieved GFLOP/s, event-loop lag, RSS
  loadtest [--url http://127.0.0.1:8080] [--streams 1] [--viewers 10] [--steerers 1] [--seconds 30]
           [--ramp R/s] [--whep] [--workers N] [--decode-every 10] [--steer-every 3]
           [--join-rate 10] [--slo FIELD>=N]... [--json FILE] [--html FILE]
                        headless WebRTC bots against a running server: delivery, join time,
                        freezes, prompt-to-pixel latency, server CPU; --ramp finds the capacity
  bench-serve [--joins 5] [--edits 10] [--max-viewers 60] [--ramp 2] [--json FILE] [--html FILE]
                        the live server (in a child process): first frame of a new stream and of
                        a joining viewer, prompt-to-pixel latency, server CPU per viewer, viewers
                        at 99% delivery
  quality [--json out/quality.json] [--doc FILE] [--long-minutes 10] [--prompts 8]
          [--edit-prompts 24] [--seconds 10] [--threads 2] [--model DIR]
                        prompt adherence, steering and long-run quality of the engine's frames,
                        judged by the analyzer (models/quality.py); writes docs/QUALITY.md
                        (for another --model, out/QUALITY-<its folder>.md)
  model [--model DIR]   check a model directory and print what it is
  bench-model [--model DIR] [--threads N] [--runs N] [--json FILE]
                        time each ONNX graph; the model's cost per latent frame and video fps
  serve [--port 8080] [--host 0.0.0.0] [--public-url URL] [--model DIR] [--provider cpu|webgpu]
        [--threads 2] [--no-audio] [--bitrate 600] [--keyframe-seconds 2] [--lookahead 1]
        [--ice-server URL]... [--max-streams 2] [--max-viewers 50] [--max-prompt-chars 500]
        [--edits-per-second 4] [--joins-per-second 20] [--max-message-bytes 65536]
        [--idle-seconds 300]
                        the live server: WebRTC streams that browsers watch and steer
  help                  this text
`;

type Command = (args: string[], model: string) => Promise<number>;

// Loaded on demand, so `help` or `model` never loads onnxruntime.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.ts')).serveCommand,
  generate: async () => (await import('./commands/generate.ts')).generateCommand,
  replay: async () => (await import('./commands/generate.ts')).replayCommand,
  bench: async () => (await import('./commands/bench.ts')).benchCommand,
  model: async () => (await import('./commands/model.ts')).modelCommand,
  'bench-serve': async () => (await import('../../loadtest/src/benchServe.ts')).benchServeCommand,
  quality: async () => (await import('./commands/quality.ts')).qualityCommand,
  loadtest: async () => (await import('../../loadtest/src/command.ts')).loadtestCommand,
  'bench-model': async () => (await import('./commands/model.ts')).benchModelCommand,
};

/** One command's block of USAGE, from its name to the next command's. */
export function commandUsage(command: string): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`  ${command} `));
  const end = lines.findIndex((line, i) => i > start && /^ {2}\S/.test(line));
  return lines.slice(start, end).join('\n').slice(2);
}

/** Runs one command; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return 0;
  }
  const load = COMMANDS[command];
  if (load && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(`usage: livegen ${commandUsage(command)}`);
    return 0;
  }
  if (!load) {
    console.error(`livegen: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  try {
    const run = await load();
    return await run(rest, DEFAULT_MODEL_DIR);
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`livegen ${command}: ${err.message}`);
      return 2;
    }
    if (err instanceof LivegenError) {
      console.error(`livegen ${command}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
