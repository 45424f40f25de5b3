import { useMemo, useRef, useState } from "react";
import { ApiError } from "../api";
import { applyCompletion, complete, type Names } from "../completion";

interface Props {
  value: string;
  names: Names;
  error: unknown;
  onApply: (filter: string) => void;
}

/** The filter box: the filter language, completion of field names, the server's parse error in place. */
export function FilterBox({ value, names, error, onApply }: Props) {
  const [draft, setDraft] = useState(value);
  const [cursor, setCursor] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [seen, setSeen] = useState(value);
  const input = useRef<HTMLInputElement>(null);
  if (seen !== value) {
    // the URL changed (back/forward): show its filter
    setSeen(value);
    setDraft(value);
  }
  const completion = useMemo(() => complete(draft, cursor, names), [draft, cursor, names]);
  const showing = open && completion.items.length > 0;
  const filterError = error instanceof ApiError && (error.field === "filter" || error.code === "bad_query") ? error : null;

  const choose = (item: string) => {
    const next = applyCompletion(draft, completion, item);
    setDraft(next.text);
    setCursor(next.cursor);
    setActive(0);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(next.cursor, next.cursor);
    });
  };

  return (
    <div className="filter-box">
      <div className="filter-row">
        <input
          ref={input}
          aria-label="Filter runs"
          className={filterError ? "invalid" : ""}
          placeholder="Filter, e.g. params.lr < 0.01 and metrics.loss.min < 0.3 and 'best' in tags"
          value={draft}
          spellCheck={false}
          onChange={(e) => {
            setDraft(e.target.value);
            setCursor(e.target.selectionStart ?? e.target.value.length);
            setOpen(true);
            setActive(0);
          }}
          onSelect={(e) => setCursor((e.target as HTMLInputElement).selectionStart ?? 0)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={(e) => {
            if (showing && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
              e.preventDefault();
              const n = completion.items.length;
              setActive((a) => (a + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
            } else if (showing && e.key === "Tab") {
              e.preventDefault();
              choose(completion.items[active]);
            } else if (e.key === "Enter") {
              if (showing && active > 0) {
                e.preventDefault();
                choose(completion.items[active]);
              } else {
                setOpen(false);
                onApply(draft.trim());
              }
            } else if (e.key === "Escape") {
              setOpen(false);
            }
          }}
        />
        <button onClick={() => onApply(draft.trim())}>Apply</button>
        {value ? <button onClick={() => { setDraft(""); onApply(""); }}>Clear</button> : null}
      </div>
      {showing ? (
        <ul className="completions" role="listbox">
          {completion.items.map((item, i) => (
            <li key={item} role="option" aria-selected={i === active} className={i === active ? "active" : ""}
                onMouseDown={(e) => { e.preventDefault(); choose(item); }}>
              {item}
            </li>
          ))}
        </ul>
      ) : null}
      {filterError ? (
        <div className="filter-error" role="alert">
          {filterError.message}
          {filterError.hint ? <span className="hint"> {filterError.hint}</span> : null}
        </div>
      ) : null}
    </div>
  );
}
