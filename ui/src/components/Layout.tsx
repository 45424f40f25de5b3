import { isRouteErrorResponse, Link, Outlet, useLocation, useRouteError } from "react-router";
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
  const location = useLocation();
  // The router's own answers (an unknown page) are responses, not Errors: say what happened.
  const shown = isRouteErrorResponse(error)
    ? new Error(error.status === 404
      ? `No page at ${location.pathname}. The dashboard has projects, runs and compare pages.`
      : `${error.status} ${error.statusText}`)
    : error;
  return (
    <div className="app">
      <header className="topbar"><Link to="/" className="brand">labbook</Link><nav><Link to="/">Projects</Link></nav></header>
      <main><ErrorBox error={shown} /></main>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function Loading({ what }: { what: string }) {
  return <div className="loading">Loading {what}…</div>;
}
