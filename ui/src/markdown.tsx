/**
 * A small Markdown reader for run descriptions and readmes: headings, paragraphs, lists, fenced
 * code, quotes, and inline code, bold, italics and links. It builds React elements (never HTML
 * strings), so text from a run can never become markup; links go to http(s) and mailto only.
 */
import type { ReactNode } from "react";

const SAFE_URL = /^(https?:|mailto:)/i;

export function inline(text: string, key = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  let match: RegExpExecArray | null;
  let n = 0;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) out.push(text.slice(last, match.index));
    const k = `${key}-${n++}`;
    if (match[1] !== undefined) out.push(<code key={k}>{match[1]}</code>);
    else if (match[2] !== undefined) out.push(<strong key={k}>{match[2]}</strong>);
    else if (match[3] !== undefined || match[4] !== undefined) out.push(<em key={k}>{match[3] ?? match[4]}</em>);
    else if (SAFE_URL.test(match[6])) out.push(<a key={k} href={match[6]} rel="noopener noreferrer" target="_blank">{match[5]}</a>);
    else out.push(match[0]);
    last = pattern.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export interface Block {
  kind: "h" | "p" | "ul" | "ol" | "code" | "quote";
  level?: number;
  lines: string[];
}

/** The blocks of a Markdown text (what `Markdown` draws). */
export function blocks(text: string): Block[] {
  const out: Block[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const code: string[] = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      out.push({ kind: "code", lines: code });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      out.push({ kind: "h", level: heading[1].length, lines: [heading[2]] });
      continue;
    }
    if (!line.trim()) continue;
    const kind = /^\s*[-*+]\s+/.test(line) ? "ul" : /^\s*\d+[.)]\s+/.test(line) ? "ol" : /^\s*>/.test(line) ? "quote" : "p";
    const strip = (l: string) => (kind === "ul" ? l.replace(/^\s*[-*+]\s+/, "") : kind === "ol" ? l.replace(/^\s*\d+[.)]\s+/, "")
      : kind === "quote" ? l.replace(/^\s*>\s?/, "") : l);
    const previous = out[out.length - 1];
    const continues = previous && previous.kind === kind && i > 0 && lines[i - 1].trim() !== "";
    if (continues) previous.lines.push(strip(line));
    else out.push({ kind, lines: [strip(line)] });
  }
  return out;
}

export function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      {blocks(text).map((b, i) => {
        const k = `b${i}`;
        if (b.kind === "code") return <pre key={k}><code>{b.lines.join("\n")}</code></pre>;
        if (b.kind === "h") {
          const Tag = `h${Math.min(6, (b.level ?? 1) + 2)}` as "h3";
          return <Tag key={k}>{inline(b.lines[0], k)}</Tag>;
        }
        if (b.kind === "ul" || b.kind === "ol") {
          const List = b.kind;
          return <List key={k}>{b.lines.map((l, j) => <li key={j}>{inline(l, `${k}-${j}`)}</li>)}</List>;
        }
        if (b.kind === "quote") return <blockquote key={k}>{inline(b.lines.join(" "), k)}</blockquote>;
        return <p key={k}>{inline(b.lines.join(" "), k)}</p>;
      })}
    </div>
  );
}
