/** Text for numbers, times and durations, the same on every page. */
import type { Json } from "./api";

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e12) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

/** A count with thousands separators ("100,000"), without Intl: a page's first
 * `toLocaleString` loads the locale's number formats (tens of ms before the first rows show). */
export function formatCount(value: number): string {
  if (!Number.isInteger(value)) return String(value);
  const digits = String(Math.abs(value)).replace(/\B(?=(\d{3})+$)/g, ",");
  return value < 0 ? `-${digits}` : digits;
}

export function formatValue(value: Json | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h ? `${h}h ${m}m ${rest}s` : `${m}m ${rest}s`;
}

/** "3 min ago", for last-activity columns. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** The unit of a resource series (labbook.capture.resources names them): bytes, bytes per
 * second, percent, °C, W, or none. */
export function resourceUnit(name: string): string {
  if (/_rate$/.test(name)) return "B/s";
  if (/percent$/.test(name)) return "%";
  if (/(^|\.)(memory|rss|used|total)$/.test(name)) return "B";
  if (/\.temperature$/.test(name)) return "°C";
  if (/\.power$/.test(name)) return "W";
  return "";
}

const PREFIXES: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""]];

function byteScale(magnitude: number): [number, string] {
  return PREFIXES.find(([scale]) => magnitude >= scale) ?? [1, ""];
}

function withUnit(text: string, unit: string, prefix = ""): string {
  return unit === "%" ? `${text}%` : `${text} ${prefix}${unit}`;
}

/** Axis ticks in `unit` (none: as formatNumber writes them); bytes scaled to kB, MB, GB, TB by
 * the largest tick, with as many decimals as the step between ticks needs to tell them apart. */
export function formatTicks(ticks: number[], unit: string): string[] {
  if (!unit) return ticks.map((t) => formatNumber(t));
  const bytes = unit.startsWith("B");
  const [scale, prefix] = bytes ? byteScale(Math.max(...ticks.map(Math.abs))) : [1, ""];
  let step = Infinity;
  for (let i = 1; i < ticks.length; i++) step = Math.min(step, Math.abs(ticks[i] - ticks[i - 1]));
  const decimals = Number.isFinite(step) && step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step / scale) - 1e-9))) : 2;
  return ticks.map((t) => {
    if (t === 0) return withUnit("0", unit);
    return withUnit((t / scale).toFixed(decimals), unit, prefix); // the same decimals on every tick
  });
}

/** One value in `unit`, for the chart's hover: bytes scaled as above, four significant digits. */
export function formatWithUnit(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined) return "";
  if (!unit || !Number.isFinite(value)) return formatNumber(value);
  if (!unit.startsWith("B")) return withUnit(formatNumber(value), unit);
  const [scale, prefix] = byteScale(Math.abs(value));
  return withUnit(String(Number((value / scale).toPrecision(4))), unit, prefix);
}
