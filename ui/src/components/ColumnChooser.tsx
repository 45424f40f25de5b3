import { lazy, Suspense, useState } from "react";
import { columnGroup, columnLabel } from "../columns";

export interface ChooserProps {
  available: string[];
  selected: string[];
  onChange: (columns: string[]) => void;
  /** Columns matching a search, asked of the server (a project may use thousands of names). */
  lookup?: (search: string, signal: AbortSignal) => Promise<string[]>;
  /** What `lookup` searches (the project), for caching. */
  lookupKey?: string;
}

// The panel is not needed for the runs page's first paint: its code loads when first opened.
const Panel = lazy(() => import("./ColumnChooserPanel"));

/** Search every param, output and metric column; tick to show it. Lists at most 200 matches. */
export function ColumnChooser(props: ChooserProps) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  return (
    <div className="chooser">
      <button aria-expanded={open} onClick={() => setOpen(!open)}>Columns ({props.selected.length})</button>
      {open ? (
        <Suspense fallback={<div className="chooser-panel" aria-busy="true" />}>
          <Panel {...props} search={search} setSearch={setSearch} onClose={() => setOpen(false)}
                 columnGroup={columnGroup} columnLabel={columnLabel} />
        </Suspense>
      ) : null}
    </div>
  );
}
