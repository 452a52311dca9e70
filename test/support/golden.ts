/**
 * Golden files: what a stack renders, pinned under test/golden/<name>/ and compared file by file.
 * `UPDATE_GOLDEN=1 npm test` (or `UPDATE_GOLDEN=1 npx mocha test/stack/golden.spec.ts`) rewrites them;
 * review the change with `git diff test/golden`.
 */
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "./fixtures";

export const goldenRoot = path.join(projectRoot, "test", "golden");

export function updatingGolden(): boolean {
    return ["1", "true", "yes"].includes((process.env.UPDATE_GOLDEN ?? "").toLowerCase());
}

function filesUnder(dir: string, prefix = ""): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]);
}

/** The first lines where two texts differ, numbered, for an assertion message. */
export function lineDiff(expected: string, actual: string, context = 2, most = 12): string {
    const want = expected.split("\n");
    const got = actual.split("\n");
    const lines: string[] = [];
    for (let index = 0; index < Math.max(want.length, got.length) && lines.length < most; index++) {
        if (want[index] === got[index]) continue;
        for (let before = Math.max(0, index - context); before < index; before++) lines.push(`   ${before + 1}  ${want[before]}`);
        if (want[index] !== undefined) lines.push(` - ${index + 1}  ${want[index]}`);
        if (got[index] !== undefined) lines.push(` + ${index + 1}  ${got[index]}`);
    }
    return lines.join("\n");
}

/**
 * Compares `files` (path relative to test/golden/<name>/ → content) with the golden directory: same set of
 * files, same bytes. With UPDATE_GOLDEN=1 the directory is rewritten to `files` instead (stale files removed).
 */
export function assertGolden(name: string, files: Readonly<Record<string, string>>): void {
    const dir = path.join(goldenRoot, name);
    if (updatingGolden()) {
        fs.rmSync(dir, { recursive: true, force: true });
        for (const [file, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), content);
        }
        return;
    }
    const stored = filesUnder(dir).sort();
    const rendered = Object.keys(files).sort();
    const problems: string[] = [];
    for (const file of rendered.filter((candidate) => !stored.includes(candidate))) problems.push(`new file ${file}`);
    for (const file of stored.filter((candidate) => !rendered.includes(candidate))) problems.push(`no longer rendered: ${file}`);
    for (const file of rendered.filter((candidate) => stored.includes(candidate))) {
        const expected = fs.readFileSync(path.join(dir, file), "utf8");
        if (expected !== files[file]) problems.push(`${file} differs:\n${lineDiff(expected, files[file])}`);
    }
    if (problems.length > 0) {
        throw new Error(
            `rendered artifacts of '${name}' differ from test/golden/${name}/ (${problems.length} file(s)):\n${problems.join("\n")}\n` +
                "If the change is intended: UPDATE_GOLDEN=1 npm test, then review `git diff test/golden`.",
        );
    }
}
