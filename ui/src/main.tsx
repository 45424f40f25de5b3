import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createHashRouter, RouterProvider } from "react-router";
import { Layout, RouteError } from "./components/Layout";
import "./styles.css";

// Routes live in the URL's hash (#/projects/demo?...): any static server, at any prefix, can
// serve the dashboard without knowing its routes. Each page is its own chunk, loaded on demand.
const router = createHashRouter([
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    hydrateFallbackElement: <div className="loading">Loading…</div>,
    children: [
      { index: true, lazy: async () => ({ Component: (await import("./pages/Projects")).default }) },
      { path: "projects/:project", lazy: async () => ({ Component: (await import("./pages/Runs")).default }) },
      { path: "runs/:uuid", lazy: async () => ({ Component: (await import("./pages/Run")).default }) },
      { path: "compare", lazy: async () => ({ Component: (await import("./pages/Compare")).default }) },
      { path: "media", lazy: async () => ({ Component: (await import("./pages/Media")).default }) },
      { path: "projects/:project/artifacts", lazy: async () => ({ Component: (await import("./pages/Artifacts")).default }) },
      { path: "artifact", lazy: async () => ({ Component: (await import("./pages/ArtifactPage")).default }) },
      { path: "lineage", lazy: async () => ({ Component: (await import("./pages/Lineage")).default }) },
    ],
  },
]);

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, retry: 1, refetchOnWindowFocus: false } },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
