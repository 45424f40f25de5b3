import { describe, expect, it } from "vitest";
import { isValidElement } from "react";
import { blocks, inline } from "../src/markdown";

describe("markdown", () => {
  it("splits headings, paragraphs, lists and code", () => {
    const text = "# Title\n\nsome *text*\nmore\n\n- a\n- b\n\n1. one\n2. two\n\n```\nx = 1\n# not a heading\n```\n> quoted";
    expect(blocks(text)).toEqual([
      { kind: "h", level: 1, lines: ["Title"] },
      { kind: "p", lines: ["some *text*", "more"] },
      { kind: "ul", lines: ["a", "b"] },
      { kind: "ol", lines: ["one", "two"] },
      { kind: "code", lines: ["x = 1", "# not a heading"] },
      { kind: "quote", lines: ["quoted"] },
    ]);
  });

  it("keeps markup as text and links only to safe schemes", () => {
    const parts = inline("<b>x</b> [ok](https://e.org) [bad](javascript:alert(1)) `c`");
    expect(parts[0]).toBe("<b>x</b> ");
    const link = parts[1];
    expect(isValidElement(link) && (link.props as { href: string }).href).toBe("https://e.org");
    const links = parts.filter(isValidElement).map((p) => (p.props as { href?: string }).href).filter(Boolean);
    expect(links).toEqual(["https://e.org"]);
    expect(parts.filter((p) => typeof p === "string").join("")).toContain("[bad](javascript:alert(1)");
  });
});
