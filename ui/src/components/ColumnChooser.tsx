import { useMemo, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { columnLabel, columnGroup } from "../columns";

interface Props {
  available: string[];
  selected: string[];
  onChange: (columns: string[]) => void;
  /** Columns matching a search, asked of the server (a project may use thousands of names). */
  lookup?: (search: string, signal: AbortSignal) => Promise<string[]>;
  /** What `lookup` searches (the project), for caching. */
  lookupKey?: string;
}

const SHOWN = 200;

/** Search every param, output and metric column; tick to show it. Lists at most 200 matches. */
export function ColumnChooser({ available, selected, onChange, lookup, lookupKey }: Props) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const chosen = useMemo(() => new Set(selected), [selected]);
  const found = useQuery({
    queryKey: ["column-lookup", lookupKey, search.trim()],
    queryFn: ({ signal }) => lookup!(search.trim(), signal),
    enabled: open && !!lookup && search.trim().length > 0,
    placeholderData: keepPreviousData,
  });
  const matches = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    const all = [...new Set([...selected, ...available, ...(words.length ? found.data ?? [] : [])])];
    return all.filter((c) => words.every((w) => c.toLowerCase().includes(w)));
  }, [available, selected, search, found.data]);
  const toggle = (column: string) =>
    onChange(chosen.has(column) ? selected.filter((c) => c !== column) : [...selected, column]);
  return (
    <div className="chooser">
      <button aria-expanded={open} onClick={() => setOpen(!open)}>Columns ({selected.length})</button>
      {open ? (
        <div className="chooser-panel" role="dialog" aria-label="Choose columns">
          <input autoFocus aria-label="Search columns" placeholder="Search params, outputs, metrics…" value={search}
                 onChange={(e) => setSearch(e.target.value)} />
          <ul>
            {matches.slice(0, SHOWN).map((column) => (
              <li key={column}>
                <label>
                  <input type="checkbox" checked={chosen.has(column)} onChange={() => toggle(column)} />
                  <span className="group">{columnGroup(column)}</span> {columnLabel(column)}
                </label>
              </li>
            ))}
          </ul>
          {matches.length > SHOWN ? <div className="more">{matches.length - SHOWN} more: refine the search</div> : null}
          <div className="chooser-actions">
            <button onClick={() => setOpen(false)}>Done</button>
          </div>
        </div>
      ) : null}
    </div>
  );
}
