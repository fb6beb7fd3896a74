import { createStream, describeError, listStreams, openStream, type ListedStream } from './api.ts';
import { formatDuration, h } from './dom.ts';
import { EXAMPLE_PROMPTS, randomPrompt } from './prompts.ts';

const LIST_REFRESH_MS = 5000;

/** `/`: a prompt, a seed and "Start stream", which creates a stream and opens its steer page. */
export function renderStartPage(root: HTMLElement): void {
  document.title = 'livegen: start a live stream';
  const prompt = h('textarea', { id: 'prompt', name: 'prompt', rows: '3', maxlength: '500', required: true, autofocus: true, spellcheck: 'false', 'aria-describedby': 'prompt-hint' });
  prompt.value = EXAMPLE_PROMPTS[0] ?? '';
  const seed = h('input', { id: 'seed', name: 'seed', type: 'number', min: '0', max: '4294967295', step: '1', inputmode: 'numeric', placeholder: 'random' });
  const privacy = h('input', { id: 'private', name: 'private', type: 'checkbox' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Start stream');
  const error = h('p', { class: 'error', role: 'alert' });

  const examples = h('div', { class: 'examples', role: 'group', 'aria-label': 'Example prompts' });
  for (const text of EXAMPLE_PROMPTS) {
    const chip = h('button', { type: 'button', class: 'chip' }, text);
    chip.addEventListener('click', () => {
      prompt.value = text;
      prompt.focus();
    });
    examples.append(chip);
  }
  const surprise = h('button', { type: 'button', class: 'chip surprise' }, 'Surprise me');
  surprise.addEventListener('click', () => {
    prompt.value = randomPrompt();
    prompt.focus();
  });
  examples.append(surprise);

  const form = h(
    'form',
    { class: 'panel start-form', 'aria-labelledby': 'start-title' },
    h('h2', { id: 'start-title' }, 'Start a stream'),
    h('label', { for: 'prompt' }, 'Prompt'),
    prompt,
    h('p', { id: 'prompt-hint', class: 'hint' }, 'Shapes, colours and motions; you can change the prompt while it plays. Enter starts, Shift+Enter adds a line.'),
    examples,
    h(
      'div',
      { class: 'options' },
      h('div', { class: 'field' }, h('label', { for: 'seed' }, 'Seed'), seed),
      h('div', { class: 'field check' }, privacy, h('label', { for: 'private' }, 'Private: only people with its link can watch')),
    ),
    submit,
    error,
  );
  prompt.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    submit.textContent = 'Starting…';
    const options = { prompt: prompt.value.trim(), private: privacy.checked, ...(seed.value !== '' ? { seed: Number(seed.value) } : {}) };
    createStream(options).then(openStream, (err: unknown) => {
      error.textContent = describeError(err);
      submit.disabled = false;
      submit.textContent = 'Start stream';
    });
  });

  const live = h('ul', { class: 'live-list' });
  root.replaceChildren(
    h(
      'header',
      { class: 'top' },
      h('h1', { class: 'brand' }, h('a', { href: '/' }, 'livegen')),
      h('p', { class: 'tagline' }, 'Video generated live by a neural network, steered by its prompt.'),
    ),
    h('main', { class: 'start' }, form, h('section', { class: 'panel live-now', 'aria-labelledby': 'live-title' }, h('h2', { id: 'live-title' }, 'Live now'), live)),
  );
  const refresh = (): void => void listStreams().then((streams) => renderList(live, streams), () => renderList(live, undefined));
  refresh();
  setInterval(refresh, LIST_REFRESH_MS);
}

function renderList(list: HTMLUListElement, streams: ListedStream[] | undefined): void {
  if (!streams) {
    list.replaceChildren(h('li', { class: 'hint' }, 'Cannot reach the server.'));
    return;
  }
  if (streams.length === 0) {
    list.replaceChildren(h('li', { class: 'hint' }, 'No public streams right now: start one.'));
    return;
  }
  list.replaceChildren(
    ...streams.map((s) =>
      h(
        'li',
        {},
        h('a', { href: `/s/${encodeURIComponent(s.id)}` }, s.prompt || '(empty prompt)'),
        h('span', { class: 'hint' }, ` ${s.viewers} watching · ${formatDuration(Date.now() - s.createdAt)}`),
      ),
    ),
  );
}
