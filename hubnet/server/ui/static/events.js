// The live feed: GET /v1/events from revision 0 (catch-up, 1000 a page), then the long-poll
// (`since=R&wait=25`), which returns as soon as any controller commits a change. Every batch is handed to
// `onEvents`, which refreshes the view on screen: nothing is ever reloaded.

import * as api from './api.js';
import { el, nodeLink, table, time } from './dom.js';

const KEEP = 2000;
const WAIT_SECONDS = 25;

export class Feed {
  constructor(onEvents, onStatus, onRefused) {
    this.onEvents = onEvents;
    this.onStatus = onStatus;
    this.onRefused = onRefused;
    this.events = [];
    this.revision = 0;
    this.controller = null;
  }

  start() {
    this.controller = new AbortController();
    this.run(this.controller.signal);
  }

  stop() {
    this.controller?.abort();
    this.events = [];
    this.revision = 0;
  }

  async run(signal) {
    let catchingUp = true;
    while (!signal.aborted) {
      try {
        const page = await api.get(
          '/v1/events',
          { since: this.revision, wait: catchingUp ? 0 : WAIT_SECONDS, limit: 1000 },
          signal,
        );
        if (signal.aborted) return;
        this.revision = page.revision;
        if (page.items.length) {
          this.events.push(...page.items);
          this.events.splice(0, Math.max(0, this.events.length - KEEP));
        }
        catchingUp = page.items.length === 1000;
        this.onStatus('live');
        if (page.items.length) this.onEvents(page.items);
      } catch (error) {
        if (signal.aborted) return;
        if (error.status === 401 || error.status === 403) return this.onRefused(error);
        this.onStatus('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }
}

export function renderEvents(events) {
  const shown = events.slice(-300).reverse();
  table(
    document.getElementById('events-table'),
    ['Revision', 'Time', 'Type', 'Node', 'Data'],
    shown.map((e) => [
      e.revision,
      time(e.created_at),
      el('code', { text: e.type }),
      nodeLink(e.node),
      JSON.stringify(e.data),
    ]),
  );
}
