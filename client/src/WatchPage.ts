import { createStream, describeError, openStream } from './api.ts';
import { h } from './dom.ts';
import { Player } from './Player.ts';
import { frameOfRtpTimestamp, type ServerMessage, type StreamState, type StreamTiming } from './protocol.ts';
import { createSharePanel, shareLinks } from './share.ts';
import { Signaling, SignalingError } from './Signaling.ts';
import { Stats } from './Stats.ts';
import { SteerPanel } from './SteerPanel.ts';
import { Timeline } from './Timeline.ts';

export interface WatchOptions {
  streamId: string;
  viewToken: string | undefined;
  steerToken: string | undefined;
}

/** What the page is doing; `data-state` on the page root, for styles and tests. */
type PageState = 'connecting' | 'starting' | 'live' | 'reconnecting' | 'ended' | 'failed' | 'gone' | 'full' | 'private' | 'error';

// States that no reconnect changes: the page says what happened and offers what to do next.
const FINAL: ReadonlySet<PageState> = new Set(['ended', 'failed', 'gone', 'private']);
const STATUS: Record<PageState, string> = {
  connecting: 'Connecting…',
  starting: 'Starting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Ended',
  failed: 'Failed',
  gone: 'Not found',
  full: 'Full',
  private: 'Private',
  error: 'Error',
};
const FULL_RETRY_S = 10;
const STATS_INTERVAL_MS = 1000;

/**
 * `/s/<id>`: the live video over WebRTC (signaled on the WebSocket), its stats, the prompt
 * timeline, the share links and, with the steer token in the fragment, the edit box. It joins
 * again after any drop and says plainly when the stream ended, failed, is full or is gone.
 */
export class WatchPage {
  readonly #options: WatchOptions;
  readonly #root: HTMLElement;
  readonly #signaling: Signaling;
  readonly #player: Player;
  readonly #stats = new Stats();
  readonly #timeline = new Timeline();
  readonly #steer: SteerPanel | undefined;
  readonly #status = h('span', { class: 'status' });
  readonly #stage = h('div', { class: 'stage' });
  readonly #overlay = h('div', { class: 'overlay', 'aria-live': 'polite' });
  readonly #promptNow = h('p', { class: 'prompt-now' });
  #state: PageState = 'connecting';
  #stream: StreamState | undefined;
  #timing: StreamTiming | undefined;
  #viewerId: string | undefined;
  #joining = false;
  #serverRestarted = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(root: HTMLElement, options: WatchOptions) {
    this.#root = root;
    this.#options = options;
    const video = h('video', { 'aria-label': 'Live generated video' });
    this.#player = new Player(video, {
      onFrame: (rtp, at) => this.#onFrame(rtp, at),
      onLost: () => this.#onPeerLost(),
      onBlocked: () => this.#onPlayBlocked(),
    });
    video.addEventListener('playing', () => this.#onPlaying());
    this.#stage.append(video, this.#overlay);
    if (options.steerToken) this.#steer = new SteerPanel((prompt, blend) => this.#sendSteer(prompt, blend));
    this.#render();
    this.#setState('connecting');

    const ws = new URL('/ws', location.href);
    ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#signaling = new Signaling(ws.href, {
      onOpen: () => this.#onOpen(),
      onDrop: () => this.#onDrop(),
      onMessage: (m) => this.#onMessage(m),
    });
    setInterval(() => void this.#updateStats(), STATS_INTERVAL_MS);
  }

  #render(): void {
    const muteButton = h('button', { type: 'button', class: 'button' }, 'Unmute');
    muteButton.addEventListener('click', () => {
      const video = this.#player.video;
      video.muted = !video.muted;
      if (!video.muted) this.#player.play();
      muteButton.textContent = video.muted ? 'Unmute' : 'Mute';
    });
    const fullscreen = h('button', { type: 'button', class: 'button' }, 'Full screen');
    fullscreen.addEventListener('click', () => void this.#stage.requestFullscreen().catch(() => undefined));
    fullscreen.hidden = !document.fullscreenEnabled;

    this.#root.replaceChildren(
      h('header', { class: 'top' }, h('h1', { class: 'brand' }, h('a', { href: '/' }, 'livegen')), this.#status, h('a', { class: 'button', href: '/' }, 'New stream')),
      h(
        'main',
        { class: 'watch' },
        h('section', { class: 'player', 'aria-label': 'Video' }, this.#stage, h('div', { class: 'controls' }, muteButton, fullscreen, this.#promptNow), this.#stats.element),
        h(
          'aside',
          { class: 'side' },
          this.#steer?.element,
          h('section', { class: 'panel', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Prompt timeline'), this.#timeline.element),
          createSharePanel(shareLinks(location, this.#options.steerToken)),
        ),
      ),
    );
  }

  #setState(state: PageState, detail = ''): void {
    this.#state = state;
    this.#root.dataset.state = state;
    this.#status.dataset.state = state;
    this.#status.textContent = STATUS[state];
    if (this.#steer) this.#steer.enabled = state === 'live' || state === 'starting';
    if (state !== 'full') clearTimeout(this.#retryTimer);
    this.#renderOverlay(state, detail);
  }

  #renderOverlay(state: PageState, detail: string): void {
    const overlay = this.#overlay;
    overlay.hidden = state === 'live';
    const show = (title: string, text: string, ...actions: HTMLElement[]): void => {
      const parts: Node[] = [h('p', { class: 'overlay-title' }, title)];
      if (text) parts.push(h('p', { class: 'overlay-detail' }, text));
      if (actions.length > 0) parts.push(h('div', { class: 'overlay-actions' }, ...actions));
      overlay.replaceChildren(...parts);
    };
    switch (state) {
      case 'live':
        overlay.replaceChildren();
        return;
      case 'connecting':
        return show('Connecting…', '');
      case 'starting':
        return show('Starting…', 'Waiting for the first frames.');
      case 'reconnecting':
        return show('Reconnecting…', detail || 'The connection to the server dropped.');
      case 'ended':
        return show('This stream has ended', sentence(detail), ...this.#restartActions());
      case 'failed':
        return show('This stream failed', sentence(detail), ...this.#restartActions());
      case 'gone':
        return show(
          'This stream is not on the server',
          this.#serverRestarted ? 'The server restarted, which ended its streams.' : 'It has ended, or the link is wrong.',
          ...this.#restartActions(),
        );
      case 'full':
        return show('This stream is full', `${sentence(detail)} Trying again in ${FULL_RETRY_S} s.`, this.#button('Try now', () => this.#join()));
      case 'private':
        return show('This stream is private', 'Ask its owner for its watch link.', this.#link('Start a stream', '/'));
      case 'error':
        return show('Something went wrong', sentence(detail), this.#button('Try again', () => this.#join()));
    }
  }

  /** "Start it again" (same prompt and seed, as a new stream) when the prompt is known, and "New stream". */
  #restartActions(): HTMLElement[] {
    const last = this.#stream;
    const actions = [this.#link('New stream', '/')];
    if (!last) return actions;
    const again = this.#button('Start it again', () => {
      again.disabled = true;
      createStream({ prompt: last.prompt, seed: last.seed, private: last.private }).then(openStream, (err: unknown) => {
        again.disabled = false;
        this.#overlay.querySelector('.overlay-error')?.remove();
        again.parentElement?.before(h('p', { class: 'overlay-error error' }, describeError(err)));
      });
    });
    again.classList.add('primary');
    return [again, ...actions];
  }

  #button(text: string, onClick: () => void): HTMLButtonElement {
    const button = h('button', { type: 'button', class: 'button' }, text);
    button.addEventListener('click', onClick);
    return button;
  }

  #link(text: string, href: string): HTMLAnchorElement {
    return h('a', { class: 'button', href }, text);
  }

  #onOpen(): void {
    if (FINAL.has(this.#state) || this.#state === 'full') return;
    this.#join();
  }

  #onDrop(): void {
    this.#viewerId = undefined;
    if (FINAL.has(this.#state)) {
      // Nothing to come back to: the page already says how the stream ended.
      this.#signaling.close();
      return;
    }
    this.#player.close();
    if (this.#state !== 'full') this.#setState('reconnecting', this.#serverRestarted ? 'The server is restarting.' : '');
  }

  #onPeerLost(): void {
    if (this.#state !== 'live' && this.#state !== 'starting') return;
    const old = this.#viewerId;
    this.#viewerId = undefined;
    if (old) this.#signaling.request({ type: 'leave', viewerId: old }, 'left').catch(() => undefined);
    this.#setState('reconnecting', 'The video connection dropped.');
    if (this.#signaling.connected) this.#join();
  }

  /** Joins the stream as a new viewer: the server offers, the player answers. */
  #join(): void {
    if (this.#joining) return;
    this.#joining = true;
    const { streamId, viewToken } = this.#options;
    const run = async (): Promise<void> => {
      const offer = await this.#signaling.request({ type: 'join', streamId, ...(viewToken ? { viewToken } : {}) }, 'offer');
      this.#timing = offer.timing;
      this.#timeline.framesPerLatent = offer.timing.framesPerLatent;
      if (this.#steer) this.#steer.timing = offer.timing;
      this.#viewerId = offer.viewerId;
      const sdp = await this.#player.answer(offer.sdp);
      await this.#signaling.request({ type: 'answer', viewerId: offer.viewerId, sdp }, 'joined');
      this.#stats.reset();
      if (this.#state !== 'live') this.#setState('starting');
    };
    run()
      .catch((err: unknown) => this.#joinFailed(err))
      .finally(() => (this.#joining = false));
  }

  #joinFailed(err: unknown): void {
    const code = err instanceof SignalingError ? err.code : 'LG_ERR_INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    this.#player.close();
    switch (code) {
      case 'LG_ERR_DISCONNECTED':
        return; // #onDrop shows it; #onOpen joins again.
      case 'LG_ERR_NOT_FOUND':
        this.#setState('gone');
        this.#signaling.close();
        return;
      case 'LG_ERR_INVALID_STATE':
        this.#setState('ended', message);
        return;
      case 'LG_ERR_UNAUTHORIZED':
        this.#setState('private');
        this.#signaling.close();
        return;
      case 'LG_ERR_CAPACITY':
        this.#setState('full', message);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.#signaling.connected && this.#join(), FULL_RETRY_S * 1000);
        return;
      case 'LG_ERR_RATE_LIMITED':
        this.#retryTimer = setTimeout(() => this.#signaling.connected && this.#join(), 2000);
        return;
      default:
        this.#setState('error', message);
    }
  }

  #onMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'state':
        if (m.state.id === this.#options.streamId) this.#onStreamState(m.state);
        return;
      case 'prompt':
        if (m.streamId !== this.#options.streamId) return;
        this.#timeline.sync([m.entry]);
        this.#showPrompt(m.entry.text);
        return;
      case 'ended':
        if (m.streamId !== this.#options.streamId) return;
        this.#player.close();
        this.#setState(m.status, m.reason);
        return;
      case 'shutdown':
        // The stream ended with the server; wait for the server to come back, then say so.
        this.#serverRestarted = true;
        this.#player.close();
        this.#setState('reconnecting', 'The server is restarting.');
        return;
      default:
        return;
    }
  }

  #onStreamState(state: StreamState): void {
    this.#stream = state;
    this.#stats.state = state;
    this.#timeline.sync(state.prompts);
    this.#showPrompt(state.prompt);
  }

  #showPrompt(text: string): void {
    if (this.#steer) this.#steer.currentPrompt = text;
    this.#promptNow.textContent = text;
    document.title = `${text || 'livegen'} · livegen`;
  }

  #sendSteer(prompt: string, blendFrames: number): void {
    const { streamId, steerToken } = this.#options;
    if (!steerToken) return;
    const key = this.#timeline.addPending(prompt);
    this.#signaling.request({ type: 'steer', streamId, steerToken, prompt, blendFrames }, 'steered').then(
      (ack) => this.#timeline.acknowledge(key, ack),
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.#timeline.fail(key, message);
        this.#steer?.refused(err instanceof SignalingError && err.code === 'LG_ERR_UNAUTHORIZED' ? 'This steer link does not match the stream.' : message);
      },
    );
  }

  #onFrame(rtpTimestamp: number, displayTime: number): void {
    if (!this.#timing) return;
    const frame = frameOfRtpTimestamp(rtpTimestamp, this.#timing);
    this.#stage.dataset.frame = String(frame);
    this.#timeline.frameShown(frame, displayTime);
    if (this.#state === 'starting') this.#setState('live');
  }

  /** The browser refused to autoplay: a Play button over the picture starts it. */
  #onPlayBlocked(): void {
    this.#overlay.hidden = false;
    this.#overlay.replaceChildren(h('p', { class: 'overlay-title' }, 'Ready'), h('div', { class: 'overlay-actions' }, this.#button('Play', () => this.#player.play())));
  }

  #onPlaying(): void {
    if (this.#state === 'starting') this.#setState('live');
  }

  async #updateStats(): Promise<void> {
    if (FINAL.has(this.#state)) return;
    this.#stats.update(await this.#player.getStats());
  }
}

/** A reason from the server ("no viewers for 300 s") as a sentence. */
function sentence(text: string): string {
  if (!text) return '';
  const s = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
