/**
 * The runs table's window cache for large results: rows are fetched by position, a page at a
 * time, only where the table shows them; a jump to row 50,000 asks for that page alone.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { runWindow, type RunRow, type RunSearch } from "./api";

export const WINDOW_PAGE = 100;

/** The pages that hold positions [first, last] (with one page of margin each side). */
export function pagesFor(first: number, last: number, total: number, page = WINDOW_PAGE): number[] {
  if (total <= 0) return [];
  const lo = Math.max(0, Math.floor(first / page) - 1);
  const hi = Math.min(Math.floor((total - 1) / page), Math.floor(last / page) + 1);
  const out: number[] = [];
  for (let p = lo; p <= hi; p++) out.push(p);
  return out;
}

export function useRunWindows(search: RunSearch, total: number, enabled: boolean) {
  const key = JSON.stringify([search.project, search.filter, search.orderBy, search.columns]);
  const [pages, setPages] = useState<Map<number, RunRow[]>>(new Map());
  const asked = useRef<Set<number>>(new Set());
  const current = useRef(key);
  useEffect(() => {
    current.current = key;
    asked.current = new Set();
    setPages(new Map());
  }, [key]);
  const request = useCallback((first: number, last: number) => {
    if (!enabled) return;
    for (const p of pagesFor(first, last, total)) {
      if (asked.current.has(p)) continue;
      asked.current.add(p);
      const forKey = key;
      runWindow({ ...search, offset: p * WINDOW_PAGE, limit: WINDOW_PAGE }).then(
        (page) => {
          if (current.current === forKey) setPages((old) => new Map(old).set(p, page.runs));
        },
        () => asked.current.delete(p), // asked again when next seen
      );
    }
  }, [enabled, total, key, search]);
  const rowAt = useCallback((index: number) => pages.get(Math.floor(index / WINDOW_PAGE))?.[index % WINDOW_PAGE], [pages]);
  return { rowAt, request, loaded: [...pages.values()].reduce((n, p) => n + p.length, 0) };
}
