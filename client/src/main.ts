import './app.css';
import { renderStartPage } from './StartPage.ts';
import { WatchPage } from './WatchPage.ts';

const root = document.getElementById('app') ?? document.body;
// The server serves this page for `/` and `/s/<id>`; the view token rides in the query, the steer token in the fragment.
const watch = /^\/s\/([^/]+)$/.exec(location.pathname);
if (watch?.[1]) {
  new WatchPage(root, {
    streamId: decodeURIComponent(watch[1]),
    viewToken: new URLSearchParams(location.search).get('token') ?? undefined,
    steerToken: new URLSearchParams(location.hash.slice(1)).get('steer') ?? undefined,
  });
} else {
  renderStartPage(root);
}
