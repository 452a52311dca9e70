/**
 * The shape of the code: no import cycle in components/ (so config and the spec builders depend one way), the
 * config schemas and types load without Pulumi, and the config modules stay small enough to read.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..", "..");
const components = path.join(root, "components");

interface ModuleImport {
    readonly target: string;
    /** Erased at compile time: `import type`, or every named import marked `type`. */
    readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return sourceFiles(full);
        return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
    });
}

/** The import and re-export declarations of a file; relative ones resolved to files, packages kept by name. */
function importsOf(file: string): ModuleImport[] {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
    const found: ModuleImport[] = [];
    for (const statement of source.statements) {
        let specifier: ts.Expression | undefined;
        let typeOnly = false;
        if (ts.isImportDeclaration(statement)) {
            specifier = statement.moduleSpecifier;
            const clause = statement.importClause;
            const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
            typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && named !== undefined && named.length > 0 && named.every((element) => element.isTypeOnly)));
        } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined) {
            specifier = statement.moduleSpecifier;
            typeOnly = statement.isTypeOnly;
        }
        if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
        const name = specifier.text;
        if (!name.startsWith(".")) {
            found.push({ target: name, typeOnly });
            continue;
        }
        const base = path.resolve(path.dirname(file), name);
        const resolved = [`${base}.ts`, path.join(base, "index.ts"), base].find((candidate) => fs.existsSync(candidate));
        found.push({ target: resolved ?? `${base} (missing)`, typeOnly });
    }
    return found;
}

const graph = new Map(sourceFiles(components).map((file) => [file, importsOf(file)]));
const relative = (file: string) => path.relative(root, file);

/** Every cycle through the local imports (each reported once, from its first module in path order). */
function cycles(edges: (file: string) => string[]): string[][] {
    const found: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string) => {
        state.set(file, "open");
        stack.push(file);
        for (const next of edges(file)) {
            if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
            else if (state.get(next) === undefined) visit(next);
        }
        stack.pop();
        state.set(file, "done");
    };
    for (const file of [...graph.keys()].sort()) if (state.get(file) === undefined) visit(file);
    return found;
}

const localEdges = (typeImportsToo: boolean) => (file: string) =>
    (graph.get(file) ?? []).filter((entry) => graph.has(entry.target) && (typeImportsToo || !entry.typeOnly)).map((entry) => entry.target);

/** The modules a file loads at run time, transitively (type-only imports are erased). */
function runtimeClosure(file: string, seen = new Set<string>()): Set<string> {
    for (const entry of graph.get(file) ?? []) {
        if (entry.typeOnly || seen.has(entry.target)) continue;
        seen.add(entry.target);
        if (graph.has(entry.target)) runtimeClosure(entry.target, seen);
    }
    return seen;
}

const configDir = path.join(components, "config");
/** The schemas, the types and what the broker's settings and records need from them: plain data and zod. */
const pulumiFreeConfigModules = ["primitives", "errors", "schema", "aws-schema", "types", "plan-catalog", "instances"].map((name) => path.join(configDir, `${name}.ts`));

describe("module structure", () => {
    it("components/ has no import cycle, type-only imports included (config depends on the spec builders one way)", () => {
        assert.ok(graph.size > 50, `found only ${graph.size} modules under components/`);
        const missing = [...graph.values()].flat().filter((entry) => entry.target.endsWith("(missing)"));
        assert.deepEqual(missing.map((entry) => relative(entry.target)), [], "imports of files that do not exist");
        const found = cycles(localEdges(true));
        assert.deepEqual(found.map((cycle) => cycle.map(relative).join(" -> ")), []);
    });

    it("the config schemas, types, plan catalog and instance checks load without Pulumi (no run-time import of @pulumi/*, directly or through another module)", () => {
        for (const file of pulumiFreeConfigModules) {
            assert.ok(graph.has(file), `${relative(file)} is missing`);
            const pulumi = [...runtimeClosure(file)].filter((target) => target.startsWith("@pulumi/"));
            assert.deepEqual(pulumi, [], `${relative(file)} loads ${pulumi.join(", ")}`);
        }
    });

    it("no module of components/config/ is over 400 lines", () => {
        const modules = sourceFiles(configDir);
        assert.ok(modules.length >= pulumiFreeConfigModules.length);
        for (const file of modules) {
            const lines = fs.readFileSync(file, "utf8").split("\n").length;
            assert.ok(lines <= 400, `${relative(file)} has ${lines} lines`);
        }
    });

    it("the broker image copies every file of components/ that is not TypeScript (read at run time next to the compiled modules)", () => {
        const dataFiles = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
            const full = path.join(dir, entry.name);
            return entry.isDirectory() ? dataFiles(full) : entry.name.endsWith(".ts") ? [] : [path.relative(root, full)];
        });
        const copies = [...fs.readFileSync(path.join(root, "Dockerfile"), "utf8").matchAll(/cp ((?:components\/\S+ )+)\/out\/(\S+)/g)]
            .flatMap(([, sources, target]) => sources.trim().split(" ").filter((source) => path.dirname(source) === target.replace(/\/$/, "")));
        assert.deepEqual(copies.sort(), dataFiles(components).sort());
    });
});
