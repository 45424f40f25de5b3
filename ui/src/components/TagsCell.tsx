import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, setTags } from "../api";

/**
 * A run's tags, edited in place: × removes one, + adds one (Enter saves, Escape cancels). The
 * server needs a write token on a team server; a local `labbook ui` takes edits from this machine.
 */
export function TagsCell({ uuid, tags }: { uuid: string; tags: string[] }) {
  const client = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const save = async (next: string[]) => {
    setBusy(true);
    setError(null);
    try {
      await setTags(uuid, next);
      await Promise.all([
        client.invalidateQueries({ queryKey: ["runs"] }),
        client.invalidateQueries({ queryKey: ["run", uuid] }),
        client.invalidateQueries({ queryKey: ["names"] }),
      ]);
      setAdding(false);
      setDraft("");
    } catch (e) {
      setError(e instanceof ApiError ? `${e.message}${e.hint ? ` ${e.hint}` : ""}` : String(e));
    } finally {
      setBusy(false);
    }
  };
  const add = () => {
    const tag = draft.trim();
    if (!tag) return setAdding(false);
    if (!tags.includes(tag)) void save([...tags, tag]);
    else setAdding(false);
  };
  return (
    <span className="tags-cell" data-tags={tags.join(",")}>
      {tags.map((t) => (
        <span key={t} className="tag">
          {t}
          <button className="link tag-remove" aria-label={`Remove tag ${t}`} disabled={busy}
                  onClick={() => void save(tags.filter((x) => x !== t))}>×</button>
        </span>
      ))}
      {adding ? (
        <input className="tag-input" aria-label="New tag" autoFocus value={draft} disabled={busy}
               onChange={(e) => setDraft(e.target.value)} onBlur={add}
               onKeyDown={(e) => {
                 if (e.key === "Enter") add();
                 if (e.key === "Escape") { setAdding(false); setDraft(""); }
               }} />
      ) : (
        <button className="link tag-add" aria-label="Add a tag" onClick={() => setAdding(true)}>+</button>
      )}
      {error ? <span className="tag-error" role="alert" title={error}>{error}</span> : null}
    </span>
  );
}
