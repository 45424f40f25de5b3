/** Small formatting helpers of the artifact pages: sizes and YAML (as MLRun's "View YAML"). */
import type { Json } from "../api";

export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const PLAIN = /^[A-Za-z_][\w./@:+-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~|[-+]?(\d|\.\d))/i;

function scalar(value: Json): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : value > 0 ? ".inf" : value < 0 ? "-.inf" : ".nan";
  if (typeof value === "boolean") return String(value);
  const text = String(value);
  return PLAIN.test(text) && !RESERVED.test(text) ? text : JSON.stringify(text);
}

/** A JSON value as block YAML (strings quoted where YAML would read them as something else). */
export function toYaml(value: Json, indent = 0): string {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value.map((item) => {
      const inner = toYaml(item, indent + 2);
      return `${pad}- ${isBlock(item) ? inner.trimStart() : inner}`;
    }).join("\n");
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return entries.map(([k, v]) => {
      const key = scalar(k);
      return isBlock(v) ? `${pad}${key}:\n${toYaml(v, indent + 2)}` : `${pad}${key}: ${toYaml(v, indent + 2)}`;
    }).join("\n");
  }
  return scalar(value);
}

function isBlock(value: Json): boolean {
  return (Array.isArray(value) && value.length > 0) || (!!value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0);
}
