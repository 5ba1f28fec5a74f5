// The address space: per pool, one cell per node subnet on a <canvas>, coloured by state.
//
// Sources, all documented API: GET /v1/pools (geometry, `excluded`, the counts the legend is checked against,
// `quarantine_seconds`) and GET /v1/nodes (every record, every state). A cell is
//   active / stale     a live node holds the subnet (GET /v1/pools counts these as `allocated`),
//   quarantined        a released record holds it, released less than quarantine_seconds ago (`quarantined`),
//   free               nobody holds it, or its release has cooled down (`free` minus `quarantined`),
//   excluded           never handed out: the service CIDR, the router's subnet (not in `total`).

import { el, number, when } from './dom.js';
import { formatAddress, parseCidr } from './net.js';

export const STATES = ['free', 'active', 'stale', 'quarantined', 'excluded'];
const CODE = Object.fromEntries(STATES.map((s, i) => [s, i]));
const MAX_HEIGHT = 560;
const COLOURS = ['#d0d7de', '#1a7f37', '#bf8700', '#8250df', '#57606a'];
const LABELS = {
  active: 'active',
  stale: 'stale (no heartbeat; route kept)',
  quarantined: 'released, quarantined',
  free: 'free',
  excluded: 'excluded (service CIDR, router)',
};

export function buildPool(pool, nodes, quarantineSeconds, now) {
  const started = performance.now();
  const cidr = parseCidr(pool.cidr);
  const shift = BigInt(cidr.bits - pool.node_prefix);
  const hostBits = BigInt(cidr.bits - cidr.prefix);
  const size = 2 ** (pool.node_prefix - cidr.prefix);
  const state = new Uint8Array(size);
  const owner = new Int32Array(size).fill(-1);
  const indexOf = (c) => Number((c.value - cidr.value) >> shift);
  for (const text of pool.excluded || []) {
    const ex = parseCidr(text);
    const first = indexOf(ex);
    state.fill(CODE.excluded, first, first + 2 ** Math.max(0, pool.node_prefix - ex.prefix));
  }
  // Released records first, oldest release first, then live ones: the live holder of a re-issued subnet wins.
  const order = nodes
    .map((node, i) => i)
    .sort((a, b) => rank(nodes[a]) - rank(nodes[b]) || (nodes[a].released_at || 0) - (nodes[b].released_at || 0));
  for (const i of order) {
    const node = nodes[i];
    for (const subnet of node.subnets?.length ? node.subnets : [node.subnet]) {
      const c = safeCidr(subnet);
      if (!c || c.family !== cidr.family || c.prefix !== pool.node_prefix) continue;
      if (c.value >> hostBits !== cidr.value >> hostBits) continue; // another pool's subnet
      const index = indexOf(c);
      if (state[index] === CODE.excluded) continue;
      state[index] = cellState(node, quarantineSeconds, now);
      owner[index] = i;
    }
  }
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const code of state) counts[STATES[code]] += 1;
  return { pool, cidr, shift, size, state, owner, nodes, counts, buildMs: performance.now() - started };
}

function rank(node) {
  return node.state === 'released' ? 0 : 1;
}

function safeCidr(text) {
  try {
    return text ? parseCidr(text) : null;
  } catch {
    return null;
  }
}

function cellState(node, quarantineSeconds, now) {
  if (node.state === 'active') return CODE.active;
  if (node.state === 'stale') return CODE.stale;
  const cooling =
    node.released_at !== null && node.released_at !== undefined && node.released_at > now - quarantineSeconds;
  return cooling ? CODE.quarantined : CODE.free;
}

// Does the picture agree with GET /v1/pools? (It can lag by one refresh while changes arrive.)
function agrees(model) {
  const { counts, pool } = model;
  return (
    counts.active + counts.stale === pool.allocated &&
    counts.quarantined === pool.quarantined &&
    counts.free + counts.quarantined === pool.free &&
    model.size - counts.excluded === pool.total
  );
}

// The keyboard cursor of each pool's picture, kept across refreshes (the live feed redraws while one navigates).
const cursors = new Map();

export function renderPools(target, models, open) {
  const focused = document.activeElement?.closest?.('.pool')?.dataset.pool;
  target.replaceChildren(...models.map((model) => poolCard(model, open)));
  if (focused) target.querySelector(`.pool[data-pool="${CSS.escape(focused)}"] canvas`)?.focus();
}

function poolCard(model, open) {
  const { pool } = model;
  const canvas = el('canvas', {
    class: 'space',
    tabindex: 0,
    role: 'img',
    'aria-label': `${pool.cidr}: ${model.size} node subnets; the legend below gives the counts per state`,
  });
  const legend = el(
    'ul',
    { class: 'legend', 'data-pool': pool.cidr },
    STATES.map((s) =>
      el(
        'li',
        { 'data-state': s },
        el('span', { class: `swatch swatch-${s}`, 'aria-hidden': 'true' }),
        `${LABELS[s]} `,
        el('strong', { class: 'count', 'data-count': model.counts[s], text: number(model.counts[s]) }),
      ),
    ),
  );
  const ok = agrees(model);
  const api = el(
    'p',
    { class: ok ? 'agree' : 'agree differs', 'data-agrees': String(ok) },
    `GET /v1/pools: ${number(pool.allocated)} allocated, ${number(pool.free)} free (of which ${number(pool.quarantined)} quarantined), ` +
      `${number(pool.total)} total${pool.low ? ' — low on free subnets' : ''}. `,
    ok ? 'The picture matches.' : 'The picture differs (changes arriving; it refreshes).',
  );
  const timing = el('p', { class: 'timing' });
  const card = el(
    'article',
    { class: 'card pool', 'data-pool': pool.cidr },
    el(
      'h3',
      {},
      `${pool.cidr} `,
      el('span', { class: 'muted', text: `/${pool.node_prefix} per node · ${number(model.size)} cells` }),
    ),
    el(
      'div',
      { class: 'pool-body' },
      el('div', { class: 'canvas-wrap' }, canvas),
      el('div', { class: 'side' }, legend, api, timing),
    ),
  );
  requestAnimationFrame(() => {
    const started = performance.now();
    const geometry = draw(canvas, model);
    const drawMs = performance.now() - started;
    const ms = model.buildMs + drawMs; // the cells' states from the records, then the picture
    timing.textContent = `${model.size.toLocaleString('en-US')} cells in ${ms.toFixed(1)} ms (states ${model.buildMs.toFixed(1)}, drawing ${drawMs.toFixed(1)})`;
    timing.dataset.ms = ms.toFixed(1);
    attach(canvas, model, geometry, open);
  });
  return card;
}

// Square-ish grid: 2^k cells in 2^ceil(k/2) columns. One fillRect per cell, grouped by colour.
function draw(canvas, model, focus = -1) {
  const k = Math.log2(model.size);
  const cols = 2 ** Math.ceil(k / 2);
  const rows = model.size / cols;
  // The picture takes the card's width, less the legend beside it on a wide screen, and at most MAX_HEIGHT.
  const card = canvas.closest('.card')?.clientWidth || 640;
  const width = Math.max(120, card > 820 ? card - 360 : card - 32);
  const cell = Math.max(1, Math.min(28, Math.floor(width / cols), Math.floor(MAX_HEIGHT / rows)));
  const gap = cell >= 6 ? 1 : 0;
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let code = 0; code < STATES.length; code++) {
    ctx.fillStyle = COLOURS[code];
    for (let i = 0; i < model.size; i++) {
      if (model.state[i] === code) ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - gap, cell - gap);
    }
  }
  if (focus >= 0) {
    ctx.strokeStyle = '#0b57d0';
    ctx.lineWidth = 2;
    ctx.strokeRect(
      (focus % cols) * cell + 1,
      Math.floor(focus / cols) * cell + 1,
      Math.max(cell - 2, 2),
      Math.max(cell - 2, 2),
    );
  }
  return { cols, cell };
}

function attach(canvas, model, geometry, open) {
  const tip = document.getElementById('tip');
  let focus = cursors.get(model.pool.cidr) ?? -1;
  if (focus >= 0 && document.activeElement === canvas) draw(canvas, model, focus);
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX - box.left) * canvas.width) / box.width / geometry.cell);
    const y = Math.floor(((event.clientY - box.top) * canvas.height) / box.height / geometry.cell);
    const index = y * geometry.cols + x;
    return x >= 0 && x < geometry.cols && index >= 0 && index < model.size ? index : -1;
  };
  const show = (index, x, y) => {
    if (index < 0) return hide();
    tip.replaceChildren(...describe(model, index).map((line) => el('div', { text: line })));
    tip.hidden = false;
    tip.style.left = `${Math.min(x + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
    tip.style.top = `${y + 14}px`;
  };
  const hide = () => {
    tip.hidden = true;
  };
  const openAt = (index) => {
    const owner = index >= 0 ? model.owner[index] : -1;
    if (owner >= 0) open(model.nodes[owner].name);
  };
  canvas.addEventListener('mousemove', (e) => show(at(e), e.clientX, e.clientY));
  canvas.addEventListener('mouseleave', hide);
  canvas.addEventListener('click', (e) => openAt(at(e)));
  canvas.addEventListener('blur', () => {
    hide();
    draw(canvas, model);
  });
  canvas.addEventListener('keydown', (e) => {
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: geometry.cols, ArrowUp: -geometry.cols };
    if (e.key === 'Enter') return openAt(focus);
    if (e.key === 'Escape') return hide();
    if (!(e.key in moves)) return;
    e.preventDefault();
    focus = focus < 0 ? 0 : Math.min(model.size - 1, Math.max(0, focus + moves[e.key]));
    cursors.set(model.pool.cidr, focus);
    draw(canvas, model, focus);
    const box = canvas.getBoundingClientRect();
    const scale = box.width / canvas.width;
    show(
      focus,
      box.left + (focus % geometry.cols) * geometry.cell * scale,
      box.top + Math.floor(focus / geometry.cols) * geometry.cell * scale,
    );
  });
}

function describe(model, index) {
  const subnet = formatAddress(model.cidr.family, model.cidr.value + (BigInt(index) << model.shift));
  const lines = [`${subnet}/${model.pool.node_prefix}: ${LABELS[STATES[model.state[index]]]}`];
  const owner = model.owner[index];
  if (owner >= 0) {
    const node = model.nodes[owner];
    lines.push(
      `node ${node.name} (${node.state}), address ${(node.addresses?.length ? node.addresses : [node.address]).join(', ')}`,
    );
    if (node.state === 'released') lines.push(`released ${when(node.released_at)}`);
    else lines.push(`lease expires ${when(node.lease_expires_at)}`);
  }
  return lines;
}
