import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { QueryClient } from "@tanstack/react-query";
import { searchRuns } from "../src/api";
import { FIRST_RUNS_PAGE, prefetchRuns } from "../src/prefetch";
import { DEFAULT_COLUMNS } from "../src/url";

const EARLY = readFileSync(new URL("../public/early.js", import.meta.url), "utf8");

/** The URLs public/early.js asks for when the page opens at `hash`. */
function earlyRequests(hash: string, token: string | null = null, preloaded: { rel: string; href: string }[] = []):
    { url: string; headers: Record<string, string> }[] {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  vi.stubGlobal("location", { hash });
  const chunks = { getAttribute: () => "assets/Runs-abc.js assets/useInfiniteQuery-def.js" };
  vi.stubGlobal("document", {
    querySelector: (selector: string) => (selector.includes("labbook-runs-chunks") ? chunks : null),
    createElement: () => ({ rel: "", href: "" }),
    head: { appendChild: (link: { rel: string; href: string }) => preloaded.push(link) },
  });
  vi.stubGlobal("localStorage", { getItem: () => token });
  vi.stubGlobal("window", globalThis);
  vi.stubGlobal("fetch", (url: string, init: RequestInit) => {
    calls.push({ url, headers: init.headers as Record<string, string> });
    return Promise.resolve(new Response(JSON.stringify({ runs: [], next_cursor: null, count: 0 })));
  });
  new Function(EARLY)();
  return calls;
}

/** The URLs the runs route asks for first (prefetch.ts) at `hash`. */
async function routeRequests(hash: string): Promise<string[]> {
  const urls: string[] = [];
  vi.stubGlobal("fetch", (url: string) => {
    urls.push(url);
    return Promise.resolve(new Response(JSON.stringify({ runs: [], next_cursor: null, count: 0 })));
  });
  const [, project, query] = /^#\/projects\/([^/?]+)(?:\?(.*))?$/.exec(hash)!;
  prefetchRuns(new QueryClient(), decodeURIComponent(project), new URLSearchParams(query ?? ""));
  await new Promise((r) => setTimeout(r, 10));
  return urls;
}

afterEach(() => {
  vi.unstubAllGlobals();
  delete (globalThis as { labbookEarly?: unknown }).labbookEarly;
});

describe("the runs page's early requests (public/early.js)", () => {
  it.each([
    "#/projects/scale",
    "#/projects/demo?sort=metrics.loss.last",
    "#/projects/my%20project?filter=params.lr%20%3C%200.5&sort=-name&sort=status",
    "#/projects/demo?col=name&col=params.optimizer.name&col=metrics.%60val%20acc%60.max&run=abc",
    "#/projects/demo?col=",
  ])("asks for exactly what the route would, at %s", async (hash) => {
    const early = earlyRequests(hash).map((c) => c.url).sort();
    vi.unstubAllGlobals();
    delete (globalThis as { labbookEarly?: unknown }).labbookEarly;
    expect(early).toEqual((await routeRequests(hash)).sort());
  });

  it("asks for nothing on other pages", () => {
    for (const hash of ["", "#/", "#/runs/abc", "#/projects/demo/artifacts", "#/compare?run=a"]) {
      const preloaded: unknown[] = [];
      expect(earlyRequests(hash, null, preloaded as never)).toEqual([]);
      expect(preloaded).toEqual([]);
    }
  });

  it("preloads the runs page's chunks that index.html names", () => {
    const preloaded: { rel: string; href: string }[] = [];
    earlyRequests("#/projects/demo", null, preloaded);
    expect(preloaded).toEqual([{ rel: "modulepreload", href: "./assets/Runs-abc.js" },
                               { rel: "modulepreload", href: "./assets/useInfiniteQuery-def.js" }]);
  });

  it("sends the stored token, and its answer is taken once by the same request", async () => {
    const [runs] = earlyRequests("#/projects/demo", "lbk_secret");
    expect(runs.headers.Authorization).toBe("Bearer lbk_secret");
    expect(runs.url).toContain(`limit=${FIRST_RUNS_PAGE}`);
    const later: string[] = [];
    vi.stubGlobal("fetch", (url: string) => {
      later.push(url);
      return Promise.resolve(new Response(JSON.stringify({ runs: [], next_cursor: null })));
    });
    const search = { project: "demo", orderBy: ["-created_at"], columns: DEFAULT_COLUMNS, onlyColumns: true, limit: FIRST_RUNS_PAGE };
    await searchRuns(search);
    expect(later).toEqual([]); // the early answer
    await searchRuns(search);
    expect(later).toHaveLength(1); // taken once: a re-read asks the server
  });
});
