/** The column chooser's open panel: its own chunk, loaded when the chooser is first opened. */
import { useMemo } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ChooserProps } from "./ColumnChooser";

const SHOWN = 200;

// columnGroup and columnLabel come as props: an import of ../columns would tie this chunk to the runs page's
export default function ColumnChooserPanel({ available, selected, onChange, lookup, lookupKey, search, setSearch, onClose,
                                             columnGroup, columnLabel }:
  ChooserProps & { search: string; setSearch: (search: string) => void; onClose: () => void;
                   columnGroup: (column: string) => string; columnLabel: (column: string) => string }) {
  const chosen = useMemo(() => new Set(selected), [selected]);
  const found = useQuery({
    queryKey: ["column-lookup", lookupKey, search.trim()],
    queryFn: ({ signal }) => lookup!(search.trim(), signal),
    enabled: !!lookup && search.trim().length > 0,
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
        <button onClick={onClose}>Done</button>
      </div>
    </div>
  );
}
