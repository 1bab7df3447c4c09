/**
 * The upload size check done before sending: the server refuses files over its limit, and Engine.IO
 * drops a connection whose message is far over it without an answer, so a too-big file never leaves.
 * Sizes are written as the server writes them (invokeai_gui/server/uploads.py), never reading as equal.
 */

/** The server's default (ServerConfig.max_upload_bytes); a systemConfig `max_upload_bytes` overrides it. */
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

export function humanSize(n: number): string {
  if (n < 1000) return `${n} bytes`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(0)} KB`;
  return `${(n / 1e6).toFixed(1)} MB`.replace('.0 MB', ' MB');
}

/** Both sizes with the least precision that tells different numbers apart. */
export function sizesThatDiffer(n: number, limit: number): [string, string] {
  if (n === limit || humanSize(n) !== humanSize(limit)) return [humanSize(n), humanSize(limit)];
  for (const digits of [2, 3]) {
    const a = `${(n / 1e6).toFixed(digits)} MB`;
    const b = `${(limit / 1e6).toFixed(digits)} MB`;
    if (a !== b && n >= 1_000_000 && limit >= 1_000_000) return [a, b];
  }
  return [`${n.toLocaleString('en-US')} bytes`, `${limit.toLocaleString('en-US')} bytes`];
}

/** The limit in force: the server's own when its systemConfig says, else the default. */
export function uploadLimit(config: { max_upload_bytes?: unknown } | null | undefined): number {
  const value = config?.max_upload_bytes;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : DEFAULT_MAX_UPLOAD_BYTES;
}

/** Why `size` bytes may not be sent, or null when they may. */
export function oversizeMessage(name: string, size: number, limit: number): string | null {
  if (size <= limit) return null;
  const [a, b] = sizesThatDiffer(size, limit);
  return `${name} is ${a}; the limit is ${b}. It was not uploaded.`;
}
