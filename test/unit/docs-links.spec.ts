import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import GithubSlugger from "github-slugger";
import MarkdownIt from "markdown-it";

// Every relative link and image in README.md and docs/*.md must resolve: the file or directory exists in the
// repository, and an anchor names a heading of the target markdown file as GitHub slugs it. markdown-it does the
// parsing (inline and reference-style links, images; nothing inside fenced or inline code is a link), and
// github-slugger computes GitHub's heading ids (duplicates suffixed -1, -2...). Absolute URLs are not checked.
const root = path.resolve(__dirname, "..", "..");
const markdown = new MarkdownIt({ html: true, linkify: false });

type Token = MarkdownIt.Token;

interface Link {
    href: string;
    line: number;
}

function documentationFiles(): string[] {
    const docs = path.join(root, "docs");
    const pages = fs.existsSync(docs) ? fs.readdirSync(docs).filter((name) => name.endsWith(".md")).sort().map((name) => path.join(docs, name)) : [];
    return [path.join(root, "README.md"), ...pages];
}

const parsed = new Map<string, Token[]>();
function tokens(file: string): Token[] {
    let result = parsed.get(file);
    if (!result) {
        result = markdown.parse(fs.readFileSync(file, "utf8"), {});
        parsed.set(file, result);
    }
    return result;
}

/** The links and images of a markdown file, with the line they are on (1-based). */
function linksOf(file: string): Link[] {
    const links: Link[] = [];
    let line = 1;
    for (const block of tokens(file)) {
        if (block.map) line = block.map[0] + 1; // table cells carry no map: the row before them has one; the breaks count within a paragraph
        if (block.type !== "inline" || !block.children) continue;
        for (const token of block.children) {
            if (token.type === "softbreak" || token.type === "hardbreak") line++;
            const href = token.type === "link_open" ? token.attrGet("href") : token.type === "image" ? token.attrGet("src") : null;
            if (href !== null) links.push({ href: String(href), line });
        }
    }
    return links;
}

const anchors = new Map<string, Set<string>>();
/** The heading ids GitHub gives a markdown file. */
function headingIds(file: string): Set<string> {
    let ids = anchors.get(file);
    if (!ids) {
        const slugger = new GithubSlugger();
        ids = new Set<string>();
        const list = tokens(file);
        list.forEach((token, index) => {
            if (token.type !== "heading_open") return;
            const text = (list[index + 1].children ?? [])
                .filter((child) => child.type === "text" || child.type === "code_inline")
                .map((child) => child.content)
                .join("");
            ids!.add(slugger.slug(text));
        });
        anchors.set(file, ids);
    }
    return ids;
}

const relative = (file: string) => path.relative(root, file);

/** Why a link of `file` does not resolve, or undefined when it does. */
function problem(file: string, href: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//")) return undefined; // http:, https:, mailto:...
    const hash = href.indexOf("#");
    const target = decodeURIComponent(hash < 0 ? href : href.slice(0, hash)).split("?")[0];
    const anchor = hash < 0 ? undefined : decodeURIComponent(href.slice(hash + 1));
    const resolved = target === "" ? file : target.startsWith("/") ? path.join(root, target) : path.resolve(path.dirname(file), target);
    if (path.relative(root, resolved).startsWith("..")) return `points outside the repository (${resolved})`;
    if (!fs.existsSync(resolved)) return `${relative(resolved)} does not exist`;
    if (anchor === undefined) return undefined;
    if (!resolved.endsWith(".md")) {
        return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `#${anchor} is not a line anchor, and ${relative(resolved)} has no headings`;
    }
    const ids = headingIds(resolved);
    return ids.has(anchor) ? undefined : `${relative(resolved)} has no heading with the id '${anchor}' (it has: ${[...ids].join(", ")})`;
}

describe("documentation links", () => {
    const files = documentationFiles();

    it("checks README.md and the docs/ pages, and finds links in them", () => {
        assert.ok(files.length > 1, "no docs/*.md page found");
        assert.ok(files.flatMap(linksOf).some((link) => !/^[a-z]+:/i.test(link.href)), "no relative link found: the parser finds nothing");
    });

    for (const file of files) {
        it(`every relative link and anchor in ${relative(file)} resolves`, () => {
            const broken = linksOf(file).flatMap((link) => {
                const why = problem(file, link.href);
                return why === undefined ? [] : [`${relative(file)}:${link.line}: (${link.href}) ${why}`];
            });
            assert.deepStrictEqual(broken, [], `broken links:\n${broken.join("\n")}`);
        });
    }
});
