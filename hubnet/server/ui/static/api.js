// The console's only way to the controller: the documented /v1 API (docs/api.md) with the admin token.
//
// The token lives in this module variable for the life of the tab. It is never written to localStorage or
// sessionStorage (both outlive the page; sessionStorage may be saved to disk with the session), never to a cookie
// (a cookie would be sent by the browser on its own: a CSRF surface) and never into a URL (history, server logs).

let token = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function signIn(value) {
  token = value;
}

export function signOut() {
  token = null;
}

export function signedIn() {
  return token !== null;
}

export async function get(path, params = {}, signal = undefined) {
  if (token === null) throw new ApiError(401, 'not signed in');
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const url = query.size ? `${path}?${query}` : path;
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, await problemDetail(response));
  return response.json();
}

// Every error answer is RFC 9457 problem+json: its detail says what failed.
async function problemDetail(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || response.statusText;
  } catch {
    return response.statusText || `HTTP ${response.status}`;
  }
}

// Every page of a paged list (`items`, `next_cursor`), at most `pages` pages.
export async function all(path, params = {}, pages = 100) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < pages; page++) {
    const answer = await get(path, { ...params, limit: 1000, cursor });
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}
