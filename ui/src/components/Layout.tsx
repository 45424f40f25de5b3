import { Link, Outlet, useRouteError } from "react-router";
import { useState } from "react";
import { ApiError, setToken } from "../api";

export function Layout() {
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">labbook</Link>
        <nav><Link to="/">Projects</Link></nav>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  return (
    <div className="error-box" role="alert">
      <strong>{api ? `${api.status} ${api.code}` : "Error"}</strong>: {error instanceof Error ? error.message : String(error)}
      {api?.hint ? <div className="hint">{api.hint}</div> : null}
      {api?.status === 401 ? <TokenForm /> : null}
    </div>
  );
}

/** For a server that needs a token: kept in this browser and sent as an Authorization header. */
function TokenForm() {
  const [token, setDraft] = useState("");
  return (
    <form className="token-form" onSubmit={(e) => { e.preventDefault(); setToken(token.trim()); window.location.reload(); }}>
      <input type="password" aria-label="Token" placeholder="lbk_…" value={token} onChange={(e) => setDraft(e.target.value)} />
      <button type="submit" disabled={!token.trim()}>Use this token</button>
    </form>
  );
}

export function RouteError() {
  const error = useRouteError();
  return (
    <div className="app">
      <header className="topbar"><Link to="/" className="brand">labbook</Link></header>
      <main><ErrorBox error={error} /></main>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function Loading({ what }: { what: string }) {
  return <div className="loading">Loading {what}…</div>;
}
