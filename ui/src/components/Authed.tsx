/**
 * Elements that load API files themselves (img, audio, video, iframe, download links) on a server
 * that needs a token. Such an element sends no Authorization header and a token never goes in a
 * URL, so with a token in use the bytes are fetched with the header and shown through a blob: URL
 * (media, downloads) or posted into the server's empty sandboxed shell page (HTML and charts: the
 * frame keeps the server's policy and its opaque origin). Without a token, plain URLs, which the
 * browser caches and prefetches.
 */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { authHeaders, tokenInUse } from "../api";
import { shellUrl } from "../api2";

async function fetchAuthed(url: string, signal?: AbortSignal): Promise<Response> {
  const response = await fetch(url, { headers: authHeaders(), signal });
  if (!response.ok) throw new Error(`${response.status} loading ${url}`);
  return response;
}

/** blob: URLs of fetched files, the most recently used kept (each revoked when dropped). */
const BLOB_CACHE_SIZE = 300;
const blobs = new Map<string, Promise<string>>();

/** The blob: URL of an API file fetched with the token (cached; shared by panels and prefetch). */
export function blobUrl(url: string): Promise<string> {
  const hit = blobs.get(url);
  if (hit) {
    blobs.delete(url);
    blobs.set(url, hit);
    return hit;
  }
  const loading = fetchAuthed(url).then(async (r) => URL.createObjectURL(await r.blob()));
  loading.catch(() => blobs.delete(url)); // a failed load may be retried
  blobs.set(url, loading);
  while (blobs.size > BLOB_CACHE_SIZE) {
    const [oldest, promise] = blobs.entries().next().value as [string, Promise<string>];
    blobs.delete(oldest);
    promise.then((u) => URL.revokeObjectURL(u), () => undefined);
  }
  return loading;
}

/** `url` as an element may load it: itself without a token, else a blob: URL once fetched (null until then). */
export function useLoadableUrl(url: string | null): string | null {
  const authed = tokenInUse();
  const [loaded, setLoaded] = useState<{ url: string; blob: string } | null>(null);
  useEffect(() => {
    if (!authed || !url) return;
    let live = true;
    blobUrl(url).then((blob) => { if (live) setLoaded({ url, blob }); }, () => undefined);
    return () => { live = false; };
  }, [authed, url]);
  if (!url || !authed) return url;
  return loaded?.url === url ? loaded.blob : null;
}

/** A download link: the plain URL without a token; with one, the bytes fetched with the header. */
export function DownloadLink({ href, filename, className, children }: {
  href: string; filename?: string; className?: string; children: ReactNode;
}) {
  if (!tokenInUse()) return <a className={className} href={href} download={filename ?? true}>{children}</a>;
  const save = async (e: React.MouseEvent) => {
    e.preventDefault();
    const response = await fetchAuthed(href);
    const name = filename ?? /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") ?? "")?.[1]
      ?? decodeURIComponent(new URL(href, location.href).pathname.split("/").pop() ?? "download");
    const blob = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = blob;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(blob), 60_000);
  };
  return <a className={className} href={href} download={filename ?? true} onClick={save}>{children}</a>;
}

interface FrameProps {
  src: string;
  kind: "html" | "chart";
  className: string;
  title: string;
  [data: `data-${string}`]: string;
}

/**
 * A server page (logged HTML: scripts off; a chart: its library's scripts) in an `<iframe sandbox>`
 * without allow-same-origin. With a token, the page is fetched with the header and posted to the
 * shell page, whose policy lets only its own inline script run (HTML) or this server's vendor files
 * too (charts); the frame then needs `allow-scripts` for the shell, and is still an opaque origin.
 */
export function SandboxFrame({ src, kind, ...rest }: FrameProps) {
  const authed = tokenInUse();
  const frame = useRef<HTMLIFrameElement>(null);
  useEffect(() => {
    if (!authed) return;
    const control = new AbortController();
    const text = fetchAuthed(src, control.signal).then((r) => r.text());
    text.catch(() => undefined);
    const ready = (e: MessageEvent) => {
      if (e.source !== frame.current?.contentWindow || e.data !== "labbook-shell") return;
      window.removeEventListener("message", ready);
      text.then((page) => frame.current?.contentWindow?.postMessage(page, "*"), () => undefined);
    };
    window.addEventListener("message", ready);
    return () => { control.abort(); window.removeEventListener("message", ready); };
  }, [authed, src]);
  const sandbox = kind === "chart" || authed ? "allow-scripts" : "";
  // keyed by src: each page gets a fresh shell (a shell takes one page)
  return authed
    ? <iframe key={src} ref={frame} sandbox={sandbox} src={shellUrl(kind)} data-src={src} {...rest} />
    : <iframe sandbox={sandbox} src={src} {...rest} />;
}

/** `<img>`, `<audio>` and `<video>` of an API file (a blob: URL when a token is in use). */
export function ApiImg({ src, ...rest }: React.ImgHTMLAttributes<HTMLImageElement> & { src: string }) {
  return <img src={useLoadableUrl(src) ?? undefined} data-api-src={src} {...rest} />;
}

export function ApiAudio({ src, ...rest }: React.AudioHTMLAttributes<HTMLAudioElement> & { src: string }) {
  return <audio src={useLoadableUrl(src) ?? undefined} {...rest} />;
}

export function ApiVideo({ src, ...rest }: React.VideoHTMLAttributes<HTMLVideoElement> & { src: string }) {
  return <video src={useLoadableUrl(src) ?? undefined} {...rest} />;
}
