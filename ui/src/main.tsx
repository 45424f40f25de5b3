import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createHashRouter, RouterProvider } from "react-router";
import { Layout, RouteError } from "./components/Layout";
import { prefetchCompare, prefetchRun, prefetchRuns } from "./prefetch";
import "./styles.css";

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false } },
});

/** A route's loader that starts its page's first requests and returns at once (navigation never waits on it). */
const prefetching = (start: (params: Record<string, string | undefined>, search: URLSearchParams) => void) =>
  ({ params, request }: { params: Record<string, string | undefined>; request: Request }) => {
    start(params, new URL(request.url).searchParams);
    return null;
  };

// Routes live in the URL's hash (#/projects/demo?...): any static server, at any prefix, can
// serve the dashboard without knowing its routes. Each page is its own chunk, loaded on demand;
// the runs and run pages' first requests go out beside their chunk's download (prefetch.ts).
const router = createHashRouter([
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    hydrateFallbackElement: <div className="loading">Loading…</div>,
    children: [
      { index: true, lazy: async () => ({ Component: (await import("./pages/Projects")).default }) },
      { path: "projects/:project", loader: prefetching((p, search) => prefetchRuns(queryClient, p.project ?? "", search)),
        lazy: async () => ({ Component: (await import("./pages/Runs")).default }) },
      { path: "runs/:uuid", loader: prefetching((p, search) => prefetchRun(queryClient, p.uuid ?? "", search)),
        lazy: async () => ({ Component: (await import("./pages/Run")).default }) },
      { path: "compare", loader: prefetching((_p, search) => prefetchCompare(queryClient, search)), lazy: async () => ({ Component: (await import("./pages/Compare")).default }) },
      { path: "media", lazy: async () => ({ Component: (await import("./pages/Media")).default }) },
      { path: "projects/:project/artifacts", lazy: async () => ({ Component: (await import("./pages/Artifacts")).default }) },
      { path: "artifact", lazy: async () => ({ Component: (await import("./pages/ArtifactPage")).default }) },
      { path: "lineage", lazy: async () => ({ Component: (await import("./pages/Lineage")).default }) },
    ],
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
