/**
 * `npm run render -- --stack local --out out/manifests`: writes every Kubernetes manifest a stack declares,
 * without the Pulumi engine. It runs index.ts against the SDK's mock monitor (no provider, no cluster, no
 * state) and dumps each Kubernetes resource's inputs, which are the objects the provider would apply.
 * The main job uses it where the engine's language host and Kubernetes provider cannot be built.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { Command } from "commander";
import { plainValue, waitForRegistrations } from "./mock-runtime";

export const projectRoot = path.resolve(__dirname, "..");

export interface Manifest {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
    [field: string]: unknown;
}

/** Reads Pulumi.<stack>.yaml into runtime config; secure values need the engine and are refused. */
export function stackRuntimeConfig(root: string, stack: string): Record<string, string> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new Error(`no stack file ${file}`);
    const document = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(document.config ?? {})) {
        if (value !== null && typeof value === "object" && "secure" in value) {
            throw new Error(`${key} is a secret: rendering without the engine cannot decrypt it; use 'pulumi up' for stack ${stack}`);
        }
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return config;
}

/** Runs the program of `root` under mocks and returns the Kubernetes objects it registers. */
export async function renderManifests(root: string, stack: string): Promise<Manifest[]> {
    const project = (yaml.load(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
    pulumi.runtime.setAllConfig(stackRuntimeConfig(root, stack));
    const registered: { type: string; inputs: Record<string, unknown> }[] = [];
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            registered.push({ type: args.type, inputs: args.inputs });
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
    }, project, stack, false);
    require(path.join(root, "index.ts"));
    await waitForRegistrations();
    return registered
        .filter((resource) => resource.type.startsWith("kubernetes:") && typeof resource.inputs.kind === "string")
        .map((resource) => plainValue(resource.inputs) as Manifest);
}

export function manifestFileName(manifest: Manifest): string {
    return [manifest.kind.toLowerCase(), manifest.metadata.namespace, manifest.metadata.name].filter(Boolean).join("-") + ".yaml";
}

export function writeManifests(manifests: Manifest[], outDir: string): string[] {
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(outDir, { recursive: true });
    return manifests.map((manifest) => {
        const file = path.join(outDir, manifestFileName(manifest));
        fs.writeFileSync(file, yaml.dump(manifest, { lineWidth: -1, noRefs: true }));
        return file;
    });
}

async function main(argv: string[]): Promise<void> {
    const options = new Command("render")
        .description("Render a stack's Kubernetes manifests without the Pulumi engine")
        .option("-s, --stack <name>", "stack whose Pulumi.<stack>.yaml is rendered", "local")
        .option("-o, --out <dir>", "output directory (replaced)", "out/manifests")
        .parse(argv)
        .opts<{ stack: string; out: string }>();
    const outDir = path.resolve(options.out);
    const files = writeManifests(await renderManifests(projectRoot, options.stack), outDir);
    process.stdout.write(`[render] ${files.length} manifests of stack ${options.stack} written to ${outDir}\n`);
}

if (require.main === module) {
    main(process.argv).catch((error: Error) => {
        process.stderr.write(`[render] ${error.message}\n`);
        process.exit(error.name === "ConfigError" ? 2 : 1);
    });
}
