// The console's entry: sign-in, the views (one per #hash), and refreshing the view on screen from the live feed.

import * as api from './api.js';
import { Feed, renderEvents } from './events.js';
import { renderNode, renderNodes, setup as setupNodes } from './nodes.js';
import { renderRoutes } from './routes.js';
import { buildPool, renderPools } from './space.js';

const VIEWS = ['space', 'nodes', 'node', 'routes', 'events'];
const $ = (id) => document.getElementById(id);
const feed = new Feed(
  onEvents,
  (status) => setLive(status),
  (error) => signOut(`Signed out: ${error.message}`),
);

function route() {
  const [view, ...rest] = (location.hash.slice(1) || 'space').split('/');
  return { view: VIEWS.includes(view) ? view : 'space', arg: decodeURIComponent(rest.join('/')) };
}

function open(name) {
  location.hash = `#node/${encodeURIComponent(name)}`;
}

async function signIn(event) {
  event.preventDefault();
  const input = $('token');
  const value = input.value.trim();
  input.value = '';
  const error = $('signin-error');
  error.hidden = true;
  if (!value) return showError('Enter an admin token.');
  api.signIn(value);
  try {
    await api.get('/v1/pools'); // the first data call doubles as the token check
  } catch (failure) {
    api.signOut();
    const why = {
      401: 'The controller does not know this token (401).',
      403: 'This token is valid but is not an admin token (403): bootstrap tokens and node secrets cannot read the console.',
      429: 'Too many failed sign-ins from this address (429): wait a little and try again.',
    };
    return showError(why[failure.status] || `Sign-in failed: ${failure.message}`);
  }
  for (const id of ['nav', 'session']) $(id).hidden = false;
  $('signin').hidden = true;
  feed.start();
  await show();
}

function showError(text) {
  const error = $('signin-error');
  error.textContent = text;
  error.hidden = false;
  $('token').focus();
}

function signOut(message = '') {
  feed.stop();
  api.signOut();
  for (const id of ['nav', 'session']) $(id).hidden = true;
  for (const view of VIEWS) $(`view-${view}`).hidden = true;
  $('view-error').hidden = true;
  $('pools').replaceChildren();
  $('signin').hidden = false;
  if (message) showError(message);
}

function setLive(status) {
  const live = $('live');
  live.textContent = status === 'live' ? 'live' : 'reconnecting…';
  live.className = `live is-${status}`;
}

let busy = null;
let again = false;

// Render the current view. Refreshes never overlap: one asked for while another runs follows it.
async function show() {
  if (!api.signedIn()) return;
  if (busy) {
    again = true;
    return busy;
  }
  const { view, arg } = route();
  $('tip').hidden = true;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  for (const link of document.querySelectorAll('#nav a')) {
    link.toggleAttribute('aria-current', link.dataset.view === (view === 'node' ? 'nodes' : view));
  }
  busy = render(view, arg)
    .then(() => {
      $('view-error').hidden = true;
    })
    .catch((error) => {
      if (error.status === 401 || error.status === 403) return signOut(`Signed out: ${error.message}`);
      $('view-error').textContent = `Could not load this view: ${error.message}`;
      $('view-error').hidden = false;
    })
    .finally(() => {
      busy = null;
      $('main').dataset.rendered = `${view}:${Date.now()}`;
      if (again) {
        again = false;
        show();
      }
    });
  return busy;
}

async function render(view, arg) {
  if (view === 'space') return renderSpace();
  if (view === 'nodes') return renderNodes();
  if (view === 'node') return renderNode(arg, feed.events);
  if (view === 'routes') return renderRoutes();
  return renderEvents(feed.events);
}

async function renderSpace() {
  const [pools, nodes] = await Promise.all([api.get('/v1/pools'), api.all('/v1/nodes')]);
  const now = Date.now() / 1000;
  renderPools(
    $('pools'),
    pools.items.map((p) => buildPool(p, nodes, pools.quarantine_seconds, now)),
    open,
  );
}

let timer = null;

// A burst of events (a batch of registrations) makes one refresh, 200 ms after the first of them.
function onEvents() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    show();
  }, 200);
}

function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    show();
    $('main').focus({ preventScroll: true });
  });
  setupNodes(open);
  $('token').focus();
}

start();
