import type { DashboardSnapshot } from '../snapshot.js';
import type { Chart } from '../statechart.js';

/** What `…/api/charts` answers: each machine the dashboard draws, laid out. */
export interface Charts {
  readonly circuitBreaker: Chart;
  readonly subscriber: Chart;
}

/** Everything the page remembers between updates. */
export interface PageState {
  /** The latest snapshot from the feed. */
  snap: DashboardSnapshot | null;
  charts: Charts | null;
  /** The actor whose statechart is shown. */
  chart: string | null;
  /** The admin token, once the server accepted it: in memory only, so a reload forgets it. */
  token: string | null;
  /** The token the page reads data with (the read or the admin token), once given; in memory only. */
  readToken: string | null;
  /** The dead-letter count the list was last loaded for; -1 reloads it on the next snapshot. */
  dlCount: number;
}

/** The page's one state. */
export const state: PageState = {
  snap: null,
  charts: null,
  chart: null,
  token: null,
  readToken: null,
  dlCount: -1,
};
