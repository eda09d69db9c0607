declare global {
  interface Window {
    /** Where the dashboard is served (e.g. `/dashboard`), set by the page before its script runs. */
    BULWARK_BASE: string;
  }
}

/** The prefix of every request the page makes. */
export const base: string = window.BULWARK_BASE;
