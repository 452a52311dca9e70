import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes";
import { projectRoot } from "../support/fixtures";
import { checkConfig } from "../support/promtool";
import { engineEnv, pulumiBinary, temporaryProject } from "../support/tools";

interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: any;
}

/** The real `pulumi` CLI on the local stack, with a throw-away file backend and manifests dir. */
class LocalStack {
    readonly backendDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-backend-"));
    readonly manifestsDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-manifests-"));
    readonly projectDir: string;

    constructor() {
        const stackFile = yaml.load(fs.readFileSync(path.join(projectRoot, "Pulumi.local.yaml"), "utf8")) as any;
        stackFile.config["prometheus-paas:kubernetes"].renderYamlToDirectory = this.manifestsDir;
        this.projectDir = temporaryProject(projectRoot, { local: stackFile });
    }

    run(args: string[], expectSuccess = true): { status: number; output: string } {
        const result = spawnSync(pulumiBinary(), [...args, "--stack", "local", "--non-interactive"], {
            cwd: this.projectDir,
            env: engineEnv(this.backendDir),
            encoding: "utf8",
            timeout: 10 * 60 * 1000,
        });
        const output = `${result.stdout}${result.stderr}`;
        if (expectSuccess) {
            assert.equal(result.status, 0, `pulumi ${args.join(" ")} failed:\n${output}`);
        }
        return { status: result.status ?? -1, output };
    }

    manifests(): Manifest[] {
        const files: string[] = [];
        const walk = (dir: string) => {
            for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
                const full = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(full);
                else if (/\.ya?ml$/.test(entry.name)) files.push(full);
            }
        };
        walk(this.manifestsDir);
        return files.flatMap((file) => yaml.loadAll(fs.readFileSync(file, "utf8")) as Manifest[]).filter(Boolean);
    }

    find(kind: string, name: string): Manifest {
        const found = this.manifests().filter((manifest) => manifest.kind === kind && manifest.metadata.name === name);
        assert.equal(found.length, 1, `expected one ${kind} ${name}`);
        return found[0];
    }

    /** Resources in the state, without the stack and provider entries. */
    managedResources(): string[] {
        const state = JSON.parse(this.run(["stack", "export"]).output);
        return (state.deployment.resources ?? []).filter((resource: any) => !resource.type.startsWith("pulumi:")).map((resource: any) => resource.urn);
    }

    cleanup() {
        for (const dir of [this.backendDir, this.manifestsDir, this.projectDir]) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
}

describe("engine: `pulumi up` of the local stack (real CLI, file backend)", function () {
    this.timeout(20 * 60 * 1000);
    let stack: LocalStack;
    let gitStatusBefore: string;

    before(() => {
        gitStatusBefore = spawnSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8" }).stdout;
        stack = new LocalStack();
        stack.run(["stack", "init"]);
    });

    after(() => stack?.cleanup());

    it("renders every manifest with `up`", () => {
        stack.run(["up", "--yes", "--skip-preview"]);
        const kinds = new Set(stack.manifests().map((manifest) => `${manifest.kind}/${manifest.metadata.name}`));
        for (const expected of [
            "StatefulSet/prometheus-shop", "StatefulSet/prometheus-blog", "StatefulSet/thanos-store", "StatefulSet/thanos-compactor",
            "Deployment/thanos-query", "Service/thanos-query", "PodDisruptionBudget/prometheus-blog", "Namespace/prometheus-local",
            "ConfigMap/grafana-datasource-thanos", "Secret/thanos-objstore", "Role/prometheus-shop-discovery",
        ]) {
            assert.ok(kinds.has(expected), `missing ${expected}; rendered: ${[...kinds].sort().join(", ")}`);
        }
    });

    it("renders the invariants the mock tests check: tmpfs, memory limit, flags, sidecar", () => {
        const statefulSet = stack.find("StatefulSet", "prometheus-shop");
        const spec = statefulSet.spec.template.spec;
        const tsdb = spec.volumes.find((volume: any) => volume.name === "tsdb");
        assert.deepEqual(tsdb.emptyDir, { medium: "Memory", sizeLimit: "512Mi" });
        const prometheus = spec.containers.find((c: any) => c.name === "prometheus");
        assert.equal(prometheus.resources.limits.memory, "1536Mi");
        for (const flag of ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--web.enable-lifecycle", "--storage.tsdb.retention.size=384MB"]) {
            assert.ok(prometheus.args.includes(flag), flag);
        }
        const sidecar = spec.containers.find((c: any) => c.name === "thanos-sidecar");
        assert.equal(sidecar.args[0], "sidecar");
        assert.equal(stack.find("StatefulSet", "prometheus-blog").spec.replicas, 2);
    });

    it("renders prometheus.yml files that pass promtool", () => {
        for (const name of ["prometheus-shop-config", "prometheus-blog-config"]) {
            const template: string = stack.find("ConfigMap", name).data["prometheus.yml.tmpl"];
            const result = checkConfig(template.split(replicaPlaceholder).join(`${name}-0`));
            assert.ok(result.ok, `${name}: ${result.output}`);
        }
    });

    it("keeps bucket credentials out of ConfigMaps", () => {
        const configMaps = stack.manifests().filter((manifest) => manifest.kind === "ConfigMap");
        assert.ok(configMaps.length > 0, "no ConfigMap rendered");
        for (const configMap of configMaps) {
            assert.doesNotMatch(JSON.stringify(configMap.data ?? {}), /secret_key|access_key/, configMap.metadata.name);
        }
    });

    it("reports no changes on a second `up`", () => {
        stack.run(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    });

    it("refreshes cleanly", () => {
        assert.ok(stack.managedResources().length > 0, "nothing to refresh");
        stack.run(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    });

    it("destroys everything it created", () => {
        assert.ok(stack.managedResources().length > 0, "nothing to destroy");
        stack.run(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(stack.managedResources(), []);
    });

    it("leaves the repository untouched", () => {
        const after = spawnSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8" }).stdout;
        assert.equal(after, gitStatusBefore);
    });
});
