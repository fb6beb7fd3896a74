import { h } from './dom.ts';

/** The links of a stream this page can hand out: always the view link, the steer link if it has the token. */
export interface ShareLinks {
  view: string;
  steer?: string;
}

/** The links of the stream a page is on: the path and view token of its URL; the steer token from its fragment. */
export function shareLinks(location: Location, steerToken: string | undefined): ShareLinks {
  const view = `${location.origin}${location.pathname}${location.search}`;
  return steerToken ? { view, steer: `${view}#steer=${encodeURIComponent(steerToken)}` } : { view };
}

/** The share box: each link read-only with a copy button; the steer link marked as the powerful one. */
export function createSharePanel(links: ShareLinks): HTMLElement {
  return h(
    'section',
    { class: 'panel share', 'aria-labelledby': 'share-title' },
    h('h2', { id: 'share-title' }, 'Share'),
    linkField('view', 'Watch link', 'View only: people can watch but not change the prompt.', links.view),
    links.steer !== undefined && linkField('steer', 'Steer link', 'Anyone with this link can change the prompt. Share it only with co-pilots.', links.steer),
  );
}

function linkField(kind: 'view' | 'steer', label: string, hint: string, url: string): HTMLElement {
  const id = `share-${kind}`;
  const input = h('input', { id, type: 'text', readonly: true, value: url, 'aria-describedby': `${id}-hint`, spellcheck: 'false' });
  input.addEventListener('focus', () => input.select());
  const button = h('button', { type: 'button', class: 'button small' }, 'Copy');
  button.addEventListener('click', () => {
    input.select();
    // The clipboard API exists only in secure contexts; elsewhere the selected text is left for Ctrl+C.
    const copied = 'clipboard' in navigator ? navigator.clipboard.writeText(url) : Promise.reject(new Error('no clipboard'));
    copied.then(
      () => flash(button, 'Copied'),
      () => flash(button, 'Press Ctrl+C'),
    );
  });
  return h(
    'div',
    { class: `share-link share-${kind}` },
    h('label', { for: id }, kind === 'steer' ? h('span', { class: 'badge steer' }, 'can steer') : h('span', { class: 'badge' }, 'view only'), ' ', label),
    h('div', { class: 'copy-row' }, input, button),
    h('p', { id: `${id}-hint`, class: 'hint' }, hint),
  );
}

function flash(button: HTMLButtonElement, text: string): void {
  button.textContent = text;
  setTimeout(() => (button.textContent = 'Copy'), 1500);
}
