import { useEffect, useMemo, useRef, type ReactNode } from "react";
import { Link } from "react-router";
import { getCoreRowModel, useReactTable, type ColumnDef } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { RunRow } from "../api";
import { columnLabel, columnGroup, columnText, isNumeric, sortable } from "../columns";
import { StatusBadge } from "./Layout";

const ROW_HEIGHT = 28;
const SELECT_WIDTH = 36;

interface Props {
  /** The loaded rows, in order (infinite mode), or the rows of a window cache by position. */
  rows: RunRow[];
  /** Windowed mode: the number of matching runs, and the run at a position (undefined: not loaded yet). */
  total?: number;
  rowAt?: (index: number) => RunRow | undefined;
  /** Windowed mode: the positions on screen (load them). */
  onRange?: (first: number, last: number) => void;
  columns: string[];
  sort: string[];
  selected: Set<string>;
  hasMore: boolean;
  loadingMore: boolean;
  onSort: (column: string) => void;
  onToggle: (uuid: string) => void;
  onToggleAll: () => void;
  onNeedMore: () => void;
  /** A cell drawn by the caller (tags edited in place); undefined: the value as text. */
  renderCell?: (run: RunRow, column: string) => ReactNode | undefined;
}

function widthOf(id: string): number {
  if (id === "name") return 180;
  if (id === "status") return 95;
  if (id === "tags" || id === "description") return 180;
  if (id.endsWith("_at")) return 165;
  if (id === "uuid") return 280;
  if (id.includes(".")) return Math.min(260, Math.max(90, 48 + 7.5 * (columnGroup(id).length + columnLabel(id).length)));
  return 110;
}

/**
 * The runs table: rows and columns are both virtualised, so the DOM holds only what is on screen
 * (about 40 rows) whatever the number of runs; reaching the end of the loaded rows asks for the
 * next page.
 */
export function RunsTable(props: Props) {
  const { rows, columns, sort, selected, hasMore, loadingMore, onSort, onToggle, onToggleAll, onNeedMore, renderCell } = props;
  const { total, rowAt, onRange } = props;
  const windowed = total !== undefined && rowAt !== undefined;
  const scroller = useRef<HTMLDivElement>(null);

  const defs = useMemo<ColumnDef<RunRow>[]>(
    () => columns.map((id) => ({ id, header: columnLabel(id), size: widthOf(id), accessorFn: (row) => columnText(row, id) })),
    [columns],
  );
  const table = useReactTable({
    data: rows,
    columns: defs,
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    getRowId: (row) => row.uuid,
  });
  const model = table.getRowModel().rows;
  const leaf = table.getVisibleLeafColumns();

  const rowVirtualizer = useVirtualizer({
    count: windowed ? total : model.length + (hasMore ? 1 : 0),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
  });
  const colVirtualizer = useVirtualizer({
    horizontal: true,
    count: leaf.length,
    getScrollElement: () => scroller.current,
    estimateSize: (i) => leaf[i].getSize(),
    overscan: 3,
  });
  useEffect(() => colVirtualizer.measure(), [columns, colVirtualizer]);

  const items = rowVirtualizer.getVirtualItems();
  const last = items.length ? items[items.length - 1].index : 0;
  const first = items.length ? items[0].index : 0;
  useEffect(() => {
    if (windowed) onRange?.(first, last);
    else if (hasMore && !loadingMore && last >= model.length - 20) onNeedMore();
  }, [windowed, onRange, first, hasMore, loadingMore, last, model.length, onNeedMore]);

  const cols = colVirtualizer.getVirtualItems();
  const totalWidth = colVirtualizer.getTotalSize() + SELECT_WIDTH;
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.uuid));
  const sortedBy = (id: string) => (sort[0] === id ? "ascending" : sort[0] === `-${id}` ? "descending" : "none");

  return (
    <div className="runs-table" ref={scroller} role="grid" aria-rowcount={windowed ? total : rows.length}>
      <div className="rt-header" style={{ width: totalWidth }} role="row">
        <div className="rt-cell rt-select" role="columnheader">
          <input type="checkbox" aria-label="Select all loaded runs" checked={allSelected} onChange={onToggleAll} />
        </div>
        {cols.map((c) => {
          const column = leaf[c.index];
          const order = sortedBy(column.id);
          return (
            <div key={column.id} role="columnheader" aria-sort={order}
                 className={`rt-cell rt-head ${isNumeric(column.id) ? "num" : ""} ${sortable(column.id) ? "sortable" : ""}`}
                 style={{ left: c.start + SELECT_WIDTH, width: c.size }}
                 title={sortable(column.id) ? `Sort by ${column.id}` : column.id}
                 onClick={() => sortable(column.id) && onSort(column.id)}>
              <span className="group">{columnGroup(column.id)}</span> {String(column.columnDef.header)}
              {order === "ascending" ? " ▲" : order === "descending" ? " ▼" : ""}
            </div>
          );
        })}
      </div>
      <div className="rt-body" style={{ height: rowVirtualizer.getTotalSize(), width: totalWidth }}>
        {items.map((item) => {
          const run = windowed ? rowAt(item.index) : model[item.index]?.original;
          if (!run) {
            return (
              <div key={windowed ? `pending-${item.index}` : "more"} className="rt-row rt-more"
                   style={{ transform: `translateY(${item.start}px)`, width: totalWidth }}>
                Loading {windowed ? `run ${item.index + 1}` : "more runs"}…
              </div>
            );
          }
          return (
            <div key={run.uuid} role="row" data-uuid={run.uuid} data-index={item.index}
                 className={`rt-row ${selected.has(run.uuid) ? "selected" : ""} ${item.index % 2 ? "odd" : ""}`}
                 style={{ transform: `translateY(${item.start}px)`, width: totalWidth }}>
              <div className="rt-cell rt-select" role="gridcell">
                <input type="checkbox" aria-label={`Select ${run.name ?? run.uuid}`} checked={selected.has(run.uuid)}
                       onChange={() => onToggle(run.uuid)} />
              </div>
              {cols.map((c) => {
                const id = leaf[c.index].id;
                const text = columnText(run, id);
                const custom = renderCell?.(run, id);
                return (
                  <div key={id} role="gridcell" data-col={id} className={`rt-cell ${isNumeric(id) ? "num" : ""}`}
                       style={{ left: c.start + SELECT_WIDTH, width: c.size }} title={text}>
                    {custom !== undefined ? custom : id === "name" ? <Link to={`/runs/${run.uuid}`}>{text}</Link>
                      : id === "status" ? <StatusBadge status={run.status} /> : text}
                  </div>
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}
