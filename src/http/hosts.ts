import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

/** @returns true for an address only this machine reaches (127.0.0.0/8, ::1, their IPv4-mapped form) */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || a === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

const isWildcard = (address: string): boolean => address === '0.0.0.0' || address === '::';

/** An address as a `Host` header names it: IPv6 in brackets, lowercase. */
const hostName = (address: string): string => (isIPv6(address) ? `[${address}]` : address).toLowerCase();

/**
 * The `Host` values a server bound to `address:port` answers by default: the bound address,
 * `localhost`, `127.0.0.1` and `[::1]`, each with the port; bound to every interface (`0.0.0.0`,
 * `::`), the address of each interface too (probes and scrapers that call the pod's IP).
 */
export function defaultHosts(address: string, port: number): string[] {
  const names = new Set([hostName(address), 'localhost', '127.0.0.1', '[::1]']);
  if (isWildcard(address))
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) names.add(hostName(i.address));
  return [...names].map((n) => `${n}:${port}`);
}

/** A `Host` header split into name and port (80 when it names none). */
function parseHost(header: string): { name: string; port: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase(), port: m[2] === undefined ? 80 : Number(m[2]) };
}

/**
 * Which `Host` headers a server accepts, against DNS rebinding (a page on another origin whose
 * name resolves to this machine). Entries are `name:port`, or a bare `name` for any port; `'*'`
 * accepts every host.
 */
export class HostAllowlist {
  private readonly any: boolean;
  private readonly exact = new Set<string>();
  private readonly names = new Set<string>();

  constructor(entries: readonly string[]) {
    this.any = entries.includes('*');
    for (const entry of entries) {
      const host = parseHost(entry);
      if (!host) continue;
      if (/:\d+$/.test(entry.trim())) this.exact.add(`${host.name}:${host.port}`);
      else this.names.add(host.name);
    }
  }

  /** @returns true when a request with this `Host` header may be answered */
  allows(header: string | undefined): boolean {
    if (this.any) return true;
    const host = header === undefined ? undefined : parseHost(header);
    if (!host) return false;
    return this.names.has(host.name) || this.exact.has(`${host.name}:${host.port}`);
  }
}
