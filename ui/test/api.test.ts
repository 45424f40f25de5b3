import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, querySeries, queryString, searchRuns } from "../src/api";

type Call = { url: string; init: RequestInit };

function serve(answer: (call: Call) => { status: number; body: unknown }): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
    const call = { url, init };
    calls.push(call);
    const { status, body } = answer(call);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("the API client", () => {
  it("repeats list parameters and leaves empty ones out", () => {
    expect(queryString({ project: "p", filter: "", order_by: ["-a", "b"], cursor: null })).toBe("?project=p&order_by=-a&order_by=b");
  });

  it("asks for a page of runs with the filter, order and cursor", async () => {
    const calls = serve(() => ({ status: 200, body: { runs: [], next_cursor: null } }));
    await searchRuns({ project: "demo", filter: "params.lr < 0.5", orderBy: ["-metrics.loss.min"], limit: 200, cursor: "abc" });
    const url = new URL(calls[0].url, "http://x");
    expect(url.pathname).toBe("/api/v1/runs");
    expect(url.searchParams.get("filter")).toBe("params.lr < 0.5");
    expect(url.searchParams.getAll("order_by")).toEqual(["-metrics.loss.min"]);
    expect(url.searchParams.get("cursor")).toBe("abc");
  });

  it("turns the server's error shape into an ApiError with its field and hint", async () => {
    serve(() => ({ status: 400, body: { error: { code: "bad_query", message: "Expected a value after '<'", field: "filter", hint: "See the filter language" } } }));
    const error = await searchRuns({ filter: "params.lr <" }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: "bad_query", field: "filter", hint: "See the filter language" });
    expect(error.message).toBe("Expected a value after '<'");
  });

  it("splits a comparison into requests the server accepts (at most 200 runs x 20 metrics)", async () => {
    const calls = serve((call) => {
      const body = JSON.parse(String(call.init.body));
      return { status: 200, body: { series: body.runs.flatMap((run: string) => body.metrics.map((name: string) => ({ run, name }))) } };
    });
    const runs = Array.from({ length: 450 }, (_, i) => `r${i}`);
    const metrics = Array.from({ length: 25 }, (_, i) => `m${i}`);
    const series = await querySeries(runs, metrics, { x: "wall", points: 800, xMin: 5, xMax: 9 });
    expect(calls).toHaveLength(3 * 2);
    for (const call of calls) {
      const body = JSON.parse(String(call.init.body));
      expect(body.runs.length).toBeLessThanOrEqual(200);
      expect(body.metrics.length).toBeLessThanOrEqual(20);
      expect(body).toMatchObject({ x: "wall", points: 800, x_min: 5, x_max: 9 });
    }
    expect(series).toHaveLength(450 * 25);
  });
});
