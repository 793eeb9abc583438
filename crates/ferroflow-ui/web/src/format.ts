// Display helpers shared by the pages.

export function formatTime(ms: number | string | undefined): string {
  if (ms === undefined || ms === null || ms === '') return '';
  const date = new Date(Number(ms));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatDuration(start?: number | string, end?: number | string): string {
  if (!start) return '';
  const ms = (end ? Number(end) : Date.now()) - Number(start);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function formatValue(value: number | string | undefined): string {
  if (value === undefined || value === null) return '';
  const n = Number(value);
  if (typeof value === 'string' && Number.isNaN(n)) return value;
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? n.toExponential(4) : String(Number(n.toPrecision(6)));
}

export function formatBytes(size: number | string | undefined): string {
  if (size === undefined) return '';
  let n = Number(size);
  for (const unit of ['B', 'KB', 'MB', 'GB']) {
    if (n < 1024 || unit === 'GB') return unit === 'B' ? `${n} B` : `${n.toFixed(1)} ${unit}`;
    n /= 1024;
  }
  return '';
}

/** A value of a MLflow search filter: a quoted string. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function tagValue(tags: { key: string; value: string }[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.key === key)?.value;
}
