// Routes: the drift report (GET /v1/routes without `since`) and the integrity check (GET /v1/check).

import * as api from './api.js';
import { badge, el, nodeLink, number, table, when } from './dom.js';

const SHOWN = 100;

export async function renderRoutes() {
  const [drift, check, routers] = await Promise.all([
    api.get('/v1/routes'),
    api.get('/v1/check'),
    api.get('/v1/routers'),
  ]);
  const kinds = ['desired', 'actual', 'missing', 'unexpected', 'foreign'];
  const summary = el(
    'ul',
    { class: 'figures', id: 'drift-figures' },
    kinds.map((k) => el('li', { 'data-kind': k }, el('strong', { text: number((drift[k] || []).length) }), ` ${k}`)),
  );
  const parts = [
    el('h3', { text: 'Drift: desired routes against the router' }),
    drift.backend === 'none'
      ? el('p', {
          class: 'hint',
          text: 'No embedded route backend (HUBNET_ROUTE_BACKEND=none): nothing is read from a router here; router agents report per node (see a node’s route state).',
        })
      : null,
    summary,
  ];
  for (const kind of ['missing', 'unexpected', 'foreign']) {
    const rows = drift[kind] || [];
    if (!rows.length) continue;
    const t = el('table', { 'data-kind': kind });
    table(
      t,
      kind === 'foreign' ? ['Prefix', 'Held by'] : ['Prefix', 'Next hop', 'Node'],
      rows
        .slice(0, SHOWN)
        .map((r) => (kind === 'foreign' ? [r.prefix, r.holder] : [r.prefix, r.next_hop, nodeLink(r.node)])),
    );
    parts.push(
      el('h4', { text: `${kind} (${number(rows.length)}${rows.length > SHOWN ? `, first ${SHOWN} shown` : ''})` }),
      el('div', { class: 'scroll' }, t),
    );
  }
  parts.push(el('h3', { text: 'Router agents' }));
  if (routers.items.length) {
    const t = el('table', { id: 'routers' });
    table(
      t,
      ['Router', 'Status', 'Last report', 'Routes', 'Missing', 'Unexpected', 'Foreign', 'Error'],
      routers.items.map((r) => [
        r.name,
        badge(r.status),
        when(r.last_report_at),
        r.route_count,
        r.missing,
        r.unexpected,
        r.foreign,
        r.last_error || '',
      ]),
    );
    parts.push(el('div', { class: 'scroll' }, t));
  } else {
    parts.push(el('p', { id: 'routers', text: 'No router agent has joined (GET /v1/routers).' }));
  }
  parts.push(el('h3', { text: 'Integrity check' }));
  const checked = check.checked || {};
  parts.push(
    el(
      'p',
      { id: 'check-result', class: check.ok ? 'ok' : 'error', 'data-ok': String(check.ok) },
      check.ok ? 'No problems found' : `${number(check.problems.length)} problem(s) found`,
      ` (checked ${number(checked.nodes || 0)} nodes, ${number(checked.routes || 0)} routes, ${number(checked.bridges || 0)} bridge reports).`,
    ),
  );
  if (check.problems.length) {
    const t = el('table', { id: 'check-problems' });
    table(
      t,
      ['Kind', 'Node', 'Subject', 'Detail', 'Age'],
      check.problems
        .slice(0, SHOWN)
        .map((p) => [
          p.kind,
          nodeLink(p.node),
          p.subject || '',
          p.detail,
          p.age_seconds === null ? '' : `${p.age_seconds.toFixed(0)} s`,
        ]),
    );
    parts.push(el('div', { class: 'scroll' }, t));
  }
  document.getElementById('routes-detail').replaceChildren(...parts.filter(Boolean));
}
