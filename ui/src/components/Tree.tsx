import { useMemo, useState } from "react";
import type { Json } from "../api";
import { formatValue } from "../format";

interface Entry {
  path: string;
  key: string;
  depth: number;
  value: Json | undefined;
  branch: boolean;
}

/** Nested values as rows: every dict and list opened, each row with its full path. */
export function flattenTree(value: Json, depth = 0, prefix = ""): Entry[] {
  if (value === null || typeof value !== "object") return [];
  const entries: Entry[] = [];
  const items: [string, Json][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  for (const [key, child] of items) {
    const path = prefix ? `${prefix}.${key}` : key;
    const branch = child !== null && typeof child === "object" && Object.keys(child).length > 0;
    entries.push({ path, key, depth, value: branch ? undefined : child, branch });
    if (branch) entries.push(...flattenTree(child, depth + 1, path));
  }
  return entries;
}

/** A searchable view of nested values (params, outputs, environment). */
export function Tree({ value, label }: { value: Json; label: string }) {
  const [search, setSearch] = useState("");
  const entries = useMemo(() => flattenTree(value), [value]);
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const matches = (e: Entry) => words.every((w) => `${e.path} ${formatValue(e.value)}`.toLowerCase().includes(w));
  const shown = words.length
    ? entries.filter((e) => matches(e) || entries.some((d) => d.path.startsWith(`${e.path}.`) && matches(d)))
    : entries;
  if (entries.length === 0) return <p className="empty">No {label}.</p>;
  return (
    <div className="tree">
      <input aria-label={`Search ${label}`} placeholder={`Search ${label}…`} value={search} onChange={(e) => setSearch(e.target.value)} />
      <table className="plain kv">
        <tbody>
          {shown.map((e) => (
            <tr key={e.path} className={e.branch ? "branch" : ""}>
              <td style={{ paddingLeft: 6 + e.depth * 14 }} title={e.path}>{e.key}</td>
              <td className="value">{e.branch ? "" : formatValue(e.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
