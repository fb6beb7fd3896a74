import { h } from './dom.ts';
import type { StreamTiming } from './protocol.ts';

/** Transitions offered, in seconds of fade; 0 is a cut. */
const FADES = [0, 1, 2];

/**
 * The edit box of a page that holds the steer token. It shows the stream's current prompt until
 * the user starts editing; Enter sends, Shift+Enter adds a line, Escape goes back to the current prompt.
 */
export class SteerPanel {
  readonly element: HTMLElement;
  readonly #text: HTMLTextAreaElement;
  readonly #fade: HTMLSelectElement;
  readonly #send: HTMLButtonElement;
  readonly #note: HTMLParagraphElement;
  #current = '';
  #latentSeconds = 0.25;
  #enabled = false;

  constructor(onSend: (prompt: string, blendFrames: number) => void) {
    this.#text = h('textarea', { id: 'steer-prompt', rows: '3', maxlength: '500', spellcheck: 'false', 'aria-describedby': 'steer-hint' });
    this.#fade = h('select', { id: 'steer-fade' }, ...FADES.map((s) => h('option', { value: String(s) }, s === 0 ? 'Cut' : `Fade over ${s} s`)));
    this.#send = h('button', { type: 'submit', class: 'button primary' }, 'Send');
    this.#note = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'steer-form' },
      h('label', { for: 'steer-prompt' }, 'Prompt'),
      this.#text,
      h('p', { id: 'steer-hint', class: 'hint' }, 'Enter sends, Shift+Enter adds a line, Esc restores the current prompt.'),
      h('div', { class: 'steer-actions' }, h('label', { for: 'steer-fade' }, 'Transition'), this.#fade, this.#send),
      this.#note,
    );
    this.element = h('section', { class: 'panel steer', 'aria-labelledby': 'steer-title' }, h('h2', { id: 'steer-title' }, 'Steer'), form);

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!this.#enabled) return;
      const prompt = this.#text.value.trim();
      this.#current = prompt;
      this.#note.textContent = '';
      onSend(prompt, Math.round(Number(this.#fade.value) / this.#latentSeconds));
    });
    this.#text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === 'Escape') {
        this.#text.value = this.#current;
      }
    });
    this.enabled = false;
  }

  /** The stream's prompt now; shown unless the user has edited the box. */
  set currentPrompt(text: string) {
    if (this.#text.value === this.#current || this.#text.value === '') this.#text.value = text;
    this.#current = text;
  }

  /** Fades are offered in seconds and sent in latent frames. */
  set timing(timing: StreamTiming) {
    this.#latentSeconds = timing.framesPerLatent / timing.fps;
  }

  /** Sending works only while the page is joined to the stream. */
  set enabled(on: boolean) {
    this.#enabled = on;
    this.#send.disabled = !on;
  }

  /** Says why the last edit was refused. */
  refused(message: string): void {
    this.#note.textContent = message;
  }
}
