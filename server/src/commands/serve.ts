import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, type ServerConfig } from '../config.ts';
import { LivegenServer } from '../LivegenServer.ts';
import { UsageError, intFlag, positiveFlag } from './args.ts';

/** `livegen serve`: the live server, until SIGTERM or SIGINT. */
export async function serveCommand(args: string[], defaultModel: string): Promise<number> {
  const config = parseServeArgs(args, defaultModel);
  console.log(`livegen: loading the model from ${config.modelDir} (${config.executionProvider}, ${config.threads} threads)`);
  // A viewer's peer that vanishes mid-handshake can leave a rejected promise inside werift; one
  // such peer must not take every other stream down with the process.
  process.on('unhandledRejection', (reason) => console.error('livegen: unhandled rejection (the server keeps running):', reason));
  let server: LivegenServer;
  try {
    server = await LivegenServer.start(config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      console.error(`livegen serve: cannot listen on ${config.host}:${config.port} (${code}); choose another --port`);
      return 1;
    }
    throw err;
  }
  console.log(`livegen: serving at ${server.url}  (open it in a browser; metrics at ${server.url}/metrics)`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.log(`livegen: ${signal}: ending streams and shutting down`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await server.close();
  // Closed peer connections can leave werift's sockets and timers behind; they hold nothing of
  // ours, so they must not hold the process either.
  process.exit(0);
}

function parseServeArgs(args: string[], defaultModel: string): ServerConfig {
  const d = DEFAULT_CONFIG;
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: d.host },
      port: { type: 'string', default: String(d.port) },
      'public-url': { type: 'string' },
      model: { type: 'string', default: defaultModel },
      provider: { type: 'string', default: d.executionProvider },
      threads: { type: 'string', default: String(d.threads) },
      'ice-server': { type: 'string', multiple: true, default: [] },
      'no-audio': { type: 'boolean', default: false },
      bitrate: { type: 'string', default: String(d.video.bitrateKbps) },
      'keyframe-seconds': { type: 'string', default: String(d.video.keyframeSeconds) },
      lookahead: { type: 'string', default: String(d.lookaheadLatentFrames) },
      'max-streams': { type: 'string', default: String(d.limits.streams) },
      'max-viewers': { type: 'string', default: String(d.limits.viewersPerStream) },
      'max-prompt-chars': { type: 'string', default: String(d.limits.promptChars) },
      'edits-per-second': { type: 'string', default: String(d.limits.editsPerSecond) },
      'joins-per-second': { type: 'string', default: String(d.limits.joinsPerSecond) },
      'max-message-bytes': { type: 'string', default: String(d.limits.messageBytes) },
      'idle-seconds': { type: 'string', default: String(d.limits.idleSeconds) },
    },
  });
  if (values.provider !== 'cpu' && values.provider !== 'webgpu') throw new UsageError(`--provider is cpu or webgpu, not ${JSON.stringify(values.provider)}`);
  for (const url of values['ice-server']) {
    if (!/^(stun|turn|turns):/.test(url)) throw new UsageError(`--ice-server takes a stun:, turn: or turns: URL, not ${JSON.stringify(url)}`);
  }
  const publicUrl = values['public-url']?.replace(/\/+$/, '');
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new UsageError(`--public-url must be an http(s) URL, not ${JSON.stringify(publicUrl)}`);
  return {
    host: values.host,
    port: intFlag(values.port, '--port', 0, 65535),
    publicUrl,
    modelDir: values.model,
    executionProvider: values.provider,
    threads: intFlag(values.threads, '--threads', 1, 256),
    iceServers: values['ice-server'].map((urls) => ({ urls })),
    audio: !values['no-audio'],
    video: {
      bitrateKbps: intFlag(values.bitrate, '--bitrate', 50, 20_000),
      keyframeSeconds: positiveFlag(values['keyframe-seconds'], '--keyframe-seconds'),
    },
    lookaheadLatentFrames: intFlag(values.lookahead, '--lookahead', 0, 16),
    limits: {
      streams: intFlag(values['max-streams'], '--max-streams', 1, 1000),
      viewersPerStream: intFlag(values['max-viewers'], '--max-viewers', 1, 100_000),
      promptChars: intFlag(values['max-prompt-chars'], '--max-prompt-chars', 1, 100_000),
      editsPerSecond: positiveFlag(values['edits-per-second'], '--edits-per-second'),
      joinsPerSecond: positiveFlag(values['joins-per-second'], '--joins-per-second'),
      messageBytes: intFlag(values['max-message-bytes'], '--max-message-bytes', 1024, 16 * 1024 * 1024),
      idleSeconds: intFlag(values['idle-seconds'], '--idle-seconds', 0, 86_400),
    },
  };
}
