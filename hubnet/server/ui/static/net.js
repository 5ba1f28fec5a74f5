// Address math for the picture: IPv4 and IPv6 addresses as BigInt, so both families take one code path.

export function parseAddress(text) {
  if (text.includes(':')) return { family: 6, value: parse6(text) };
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new Error(`not an address: ${text}`);
  }
  return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
}

function parse6(text) {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.split('::').length > 2) throw new Error(`not an address: ${text}`);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === null && missing !== 0)) throw new Error(`not an address: ${text}`);
  const groups = [...left, ...Array(missing).fill('0'), ...right];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) throw new Error(`not an address: ${text}`);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function isAddress(text) {
  try {
    parseAddress(text.trim());
    return true;
  } catch {
    return false;
  }
}

export function parseCidr(text) {
  const [address, length] = text.split('/');
  const parsed = parseAddress(address);
  const bits = parsed.family === 4 ? 32 : 128;
  return { ...parsed, bits, prefix: length === undefined ? bits : Number(length) };
}

export function formatAddress(family, value) {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((value >> s) & 0xffffn));
  let best = [-1, 0];
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best[1]) best = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best[1] < 2) return hex.join(':');
  return `${hex.slice(0, best[0]).join(':')}::${hex.slice(best[0] + best[1]).join(':')}`;
}
