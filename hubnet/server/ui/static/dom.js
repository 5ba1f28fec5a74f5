// Small DOM helpers. Text always goes in through textContent: nothing the API returns is parsed as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function table(target, headers, rows) {
  target.replaceChildren(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        headers.map((h) => el('th', { scope: 'col', text: h })),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((cells) =>
        el(
          'tr',
          {},
          cells.map((c) => el('td', {}, c)),
        ),
      ),
    ),
  );
}

export function nodeLink(name) {
  return name ? el('a', { href: `#node/${encodeURIComponent(name)}`, 'data-node': name, text: name }) : '';
}

export function badge(state) {
  return el('span', { class: `badge state-${state}`, text: state });
}

export function when(seconds) {
  if (seconds === null || seconds === undefined) return '';
  return new Date(seconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function number(n) {
  return n.toLocaleString('en-US');
}

// An event's created_at (ISO 8601 with microseconds and +00:00) as `2026-12-07 04:14:30 UTC`.
export function time(iso) {
  return String(iso)
    .replace('T', ' ')
    .replace(/\.\d+/, '')
    .replace(/\+00:00$/, ' UTC');
}
