/**
 * Where scripts/setup-tools.sh puts the real tools (the same layout as scripts/tools-env.sh).
 * A missing tool throws: tests that need one fail loudly, they never skip.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import versions from "../../components/versions.json";

const toolsDir = process.env.PAAS_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "prometheus-paas", "tools");

export const toolDirs = {
    promtool: path.join(toolsDir, `promtool-${versions.tools.prometheusModule}`),
    pulumi: path.join(toolsDir, `pulumi-${versions.tools.pulumi}`),
};

function requireBinary(binary: string, step: string): string {
    if (!fs.existsSync(binary)) {
        throw new Error(`${path.basename(binary)} not found at ${binary}: run 'bash scripts/setup-tools.sh ${step}' (or 'bash scripts/setup.sh')`);
    }
    return binary;
}

export function promtoolBinary(): string {
    return process.env.PROMTOOL ?? requireBinary(path.join(toolDirs.promtool, "promtool"), "promtool");
}

export function pulumiBinary(): string {
    return requireBinary(path.join(toolDirs.pulumi, "pulumi"), "pulumi");
}

/** Environment for running the real engine offline against a given file backend. */
export function engineEnv(backendDir: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${toolDirs.pulumi}${path.delimiter}${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: "local-only-not-a-secret",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // `npm test` type-checks the program with tsc already; skip ts-node's second check in each engine run.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
}

/**
 * A project directory outside the repository whose Pulumi.yaml runs the program in `programDir` (a directory
 * `main` becomes the program's working directory, with its tsconfig and node_modules). `pulumi stack init`
 * writes the passphrase salt into the stack file beside Pulumi.yaml, so stack files live here, not in the repo.
 */
export function temporaryProject(programDir: string, stackFiles: Record<string, unknown> = {}, dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-project-"))): string {
    fs.mkdirSync(dir, { recursive: true });
    const project = yaml.load(fs.readFileSync(path.join(programDir, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), yaml.dump({ ...project, main: programDir }));
    for (const [stack, content] of Object.entries(stackFiles)) {
        fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), yaml.dump(content));
    }
    return dir;
}
