// Nodes: the table (GET /v1/nodes, paged through the API's cursor; filter by state), search by name or address
// (over every page), an IP inside a subnet (GET /v1/lookup) opens its node; node detail (GET /v1/nodes/{name}).

import * as api from './api.js';
import { badge, el, nodeLink, table, time, when } from './dom.js';
import { isAddress } from './net.js';

const PAGE = 50;
const view = { state: '', query: '', cursors: [null], next: null };

export function setup(open) {
  const form = document.getElementById('nodes-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    view.state = document.getElementById('nodes-state').value;
    view.query = document.getElementById('nodes-query').value.trim();
    view.cursors = [null];
    if (view.query && isAddress(view.query)) {
      await lookup(view.query, open);
      return;
    }
    await renderNodes();
  });
  document.getElementById('nodes-state').addEventListener('change', () => form.requestSubmit());
  document.getElementById('nodes-first').addEventListener('click', () => {
    view.cursors = [null];
    renderNodes();
  });
  document.getElementById('nodes-next').addEventListener('click', () => {
    if (!view.next) return;
    view.cursors.push(view.next);
    renderNodes();
  });
}

async function lookup(ip, open) {
  const message = document.getElementById('nodes-message');
  try {
    const node = await api.get('/v1/lookup', { ip });
    open(node.name);
  } catch (error) {
    message.textContent =
      error.status === 404 ? `No live node's subnet holds ${ip}.` : `Lookup failed: ${error.message}`;
  }
}

export async function renderNodes() {
  const message = document.getElementById('nodes-message');
  let items;
  if (view.query) {
    const q = view.query.toLowerCase();
    const everything = await api.all('/v1/nodes', { state: view.state });
    items = everything.filter((n) => n.name.includes(q) || (n.addresses || [n.address]).some((a) => a.includes(q)));
    view.next = null;
    message.textContent = `${items.length} of ${everything.length} nodes match “${view.query}”.`;
  } else {
    const cursor = view.cursors[view.cursors.length - 1];
    const page = await api.get('/v1/nodes', { state: view.state, limit: PAGE, cursor });
    items = page.items;
    view.next = page.next_cursor;
    message.textContent = `Page ${view.cursors.length}: ${items.length} nodes${view.state ? ` (${view.state})` : ''}.`;
  }
  table(
    document.getElementById('nodes-table'),
    ['Name', 'State', 'Address', 'Subnet', 'Route', 'Lease expires / released'],
    items.map((n) => [
      nodeLink(n.name),
      badge(n.state),
      (n.addresses?.length ? n.addresses : [n.address]).join(', '),
      (n.subnets?.length ? n.subnets : [n.subnet]).join(', '),
      n.route_state,
      n.state === 'released' ? when(n.released_at) : when(n.lease_expires_at),
    ]),
  );
  document.getElementById('nodes-next').disabled = !view.next;
  document.getElementById('nodes-first').disabled = view.cursors.length === 1;
}

export async function renderNode(name, events) {
  const node = await api.get(`/v1/nodes/${encodeURIComponent(name)}`);
  document.getElementById('node-title').replaceChildren(`Node ${node.name} `, badge(node.state));
  const list = (values, one) => (values?.length ? values : [one]).filter(Boolean).join(', ');
  const fields = [
    ['State', node.state],
    ['Generation', node.generation],
    ['Addresses', list(node.addresses, node.address)],
    ['Subnets', list(node.subnets, node.subnet)],
    ['Gateways', list(node.gateways, node.gateway)],
    ['Route state', node.route_error ? `${node.route_state}: ${node.route_error}` : node.route_state],
    ['Lease expires', when(node.lease_expires_at)],
    ['Released', when(node.released_at) || '—'],
    ['Router addresses', list(node.router_addresses, node.router_address) || '—'],
    ['Mode', node.mode],
    ['Machine id', node.machine_id || '—'],
    ['Flags', node.flags.join(', ') || '—'],
  ];
  const routers = Object.entries(node.route_states || {});
  const mine = events.filter((e) => e.node === node.name).reverse();
  const routesTable = el('table', { id: 'node-routes' });
  const eventsTable = el('table', { id: 'node-events' });
  document.getElementById('node-detail').replaceChildren(
    el(
      'dl',
      { class: 'record' },
      fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]),
    ),
    el('h3', { text: 'Route state per router' }),
    routers.length
      ? el('div', { class: 'scroll' }, routesTable)
      : el('p', { text: 'No router has reported on this node (no router agent has joined).' }),
    el('h3', { text: 'Events' }),
    mine.length
      ? el('div', { class: 'scroll' }, eventsTable)
      : el('p', { text: 'No events for this node in what this tab has read.' }),
  );
  table(
    routesTable,
    ['Router', 'State'],
    routers.map(([router, state]) => [router, badge(state)]),
  );
  table(
    eventsTable,
    ['Revision', 'Time', 'Type', 'Data'],
    mine.map((e) => [e.revision, time(e.created_at), el('code', { text: e.type }), JSON.stringify(e.data)]),
  );
}
