import { h } from './dom.ts';
import type { PromptEntry, SteerAck } from './protocol.ts';

type RowState = 'pending' | 'acknowledged' | 'shown' | 'failed';

interface Row {
  key: number;
  text: string;
  state: RowState;
  requestedAt: number;
  editId?: number;
  effectiveFrame?: number;
  /** performance.now() when this page sent the edit; only this page's own edits have it. */
  sentAt?: number;
  latencyMs?: number;
  error?: string;
  element: HTMLLIElement;
  /** What the element shows now, to skip re-rendering an unchanged row every second. */
  shown?: string;
}

// Rows kept on the page; a stream steered for hours drops its oldest from view.
const MAX_ROWS = 100;

/**
 * The stream's prompts, newest first. An edit sent from this page goes pending → acknowledged
 * ("effective from frame N") → shown, with its prompt-to-pixel latency: the time from sending to
 * the display of the first frame the new prompt governs.
 */
export class Timeline {
  readonly element: HTMLOListElement;
  readonly #rows: Row[] = [];
  #framesPerLatent = 1;
  #lastShownFrame = -1;
  #nextKey = 0;

  constructor() {
    this.element = h('ol', { class: 'timeline', 'aria-label': 'Prompt timeline' });
  }

  /** Video frames per latent frame, to turn an entry's latent frame into a video frame. */
  set framesPerLatent(n: number) {
    this.#framesPerLatent = n;
  }

  /** Adds or updates the server's entries (from `state` or `prompt` messages). */
  sync(entries: readonly PromptEntry[]): void {
    for (const entry of entries) {
      let row = this.#rows.find((r) => r.editId === entry.id);
      if (!row) {
        row = this.#add({ text: entry.text, state: 'acknowledged', requestedAt: entry.requestedAt, editId: entry.id });
      }
      row.effectiveFrame = entry.effectiveFrom * this.#framesPerLatent;
      if (row.state === 'acknowledged' && row.sentAt === undefined && row.effectiveFrame <= this.#lastShownFrame) row.state = 'shown';
      this.#render(row);
    }
  }

  /** Records an edit this page is sending; returns its key for `acknowledge` or `fail`. */
  addPending(text: string): number {
    return this.#add({ text, state: 'pending', requestedAt: Date.now(), sentAt: performance.now() }).key;
  }

  /** The server took the edit: it governs frames from `ack.effectiveFrame` on. */
  acknowledge(key: number, ack: SteerAck): void {
    const row = this.#rows.find((r) => r.key === key);
    if (!row) return;
    // The server's `prompt` broadcast of this edit may have arrived first, as someone else's.
    const twin = this.#rows.findIndex((r) => r !== row && r.editId === ack.editId);
    if (twin >= 0) this.#rows.splice(twin, 1)[0]?.element.remove();
    row.editId = ack.editId;
    row.effectiveFrame = ack.effectiveFrame;
    row.state = 'acknowledged';
    this.#render(row);
  }

  fail(key: number, message: string): void {
    const row = this.#rows.find((r) => r.key === key);
    if (!row) return;
    row.state = 'failed';
    row.error = message;
    this.#render(row);
  }

  /** A frame was displayed: measure the edits it makes visible and mark the prompt on screen. */
  frameShown(frame: number, displayTime: number): void {
    this.#lastShownFrame = frame;
    let current: Row | undefined;
    for (const row of this.#rows) {
      if (row.effectiveFrame === undefined || row.state === 'failed') continue;
      if (row.effectiveFrame <= frame) {
        if (row.state === 'acknowledged') {
          row.state = 'shown';
          if (row.sentAt !== undefined) row.latencyMs = Math.max(0, displayTime - row.sentAt);
          this.#render(row);
        }
        if (!current || row.effectiveFrame > (current.effectiveFrame ?? 0)) current = row;
      }
    }
    for (const row of this.#rows) row.element.classList.toggle('current', row === current);
  }

  #add(fields: Omit<Row, 'key' | 'element'>): Row {
    const row: Row = { ...fields, key: this.#nextKey++, element: h('li', { class: 'edit' }) };
    // Newest first: edits still pending on top, then the server's entries by id.
    const id = row.editId;
    const next = id === undefined ? this.#rows[0] : this.#rows.find((r) => r.editId !== undefined && r.editId < id);
    if (next) {
      this.#rows.splice(this.#rows.indexOf(next), 0, row);
      next.element.before(row.element);
    } else {
      this.#rows.push(row);
      this.element.append(row.element);
    }
    if (this.#rows.length > MAX_ROWS) this.#rows.pop()?.element.remove();
    this.#render(row);
    return row;
  }

  #render(row: Row): void {
    const status = statusText(row);
    const shown = `${row.state} ${row.text} ${status}`;
    if (row.shown === shown) return;
    row.shown = shown;
    const el = row.element;
    el.dataset.state = row.state;
    el.dataset.mine = String(row.sentAt !== undefined);
    if (row.effectiveFrame !== undefined) el.dataset.effectiveFrame = String(row.effectiveFrame);
    if (row.latencyMs !== undefined) el.dataset.latencyMs = String(Math.round(row.latencyMs));
    const time = new Date(row.requestedAt);
    el.replaceChildren(
      h('p', { class: 'edit-text' }, row.text || '(empty prompt)'),
      h('p', { class: 'edit-status' }, h('time', { datetime: time.toISOString() }, time.toLocaleTimeString()), ' · ', status),
    );
  }
}

function statusText(row: Row): string {
  const from = row.effectiveFrame === 0 ? 'from the start' : `effective from frame ${row.effectiveFrame ?? '?'}`;
  switch (row.state) {
    case 'pending':
      return 'sending…';
    case 'failed':
      return `not applied: ${row.error ?? 'unknown error'}`;
    case 'acknowledged':
      return from;
    case 'shown':
      return row.latencyMs === undefined ? `${from}, on screen` : `${from}, on screen ${Math.round(row.latencyMs)} ms after sending`;
  }
}
