import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes";
import { projectRoot } from "../support/fixtures";
import { checkConfig } from "../support/promtool";
import { engineEnv, pulumiBinary } from "../support/tools";

interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: any;
}

/** The real `pulumi` CLI on the local stack, with a throw-away file backend and manifests dir. */
class LocalStack {
    readonly backendDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-backend-"));
    readonly manifestsDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-manifests-"));
    readonly configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "paas-config-")), "Pulumi.local.yaml");

    constructor() {
        // Same stack file, manifests rendered outside the repository.
        const stackFile = yaml.load(fs.readFileSync(path.join(projectRoot, "Pulumi.local.yaml"), "utf8")) as any;
        stackFile.config["prometheus-paas:kubernetes"].renderYamlToDirectory = this.manifestsDir;
        fs.writeFileSync(this.configFile, yaml.dump(stackFile));
    }

    run(args: string[], expectSuccess = true): { status: number; output: string } {
        const result = spawnSync(pulumiBinary(), [...args, "--stack", "local", "--non-interactive"], {
            cwd: projectRoot,
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

    withConfig(args: string[], expectSuccess = true) {
        return this.run([...args, "--config-file", this.configFile], expectSuccess);
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

    stateText(): string {
        return this.run(["stack", "export", "--show-secrets=false"]).output;
    }

    cleanup() {
        for (const dir of [this.backendDir, this.manifestsDir, path.dirname(this.configFile)]) {
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
        stack.run(["stack", "init", "local"]);
    });

    after(() => stack?.cleanup());

    it("renders every manifest with `up`", () => {
        stack.withConfig(["up", "--yes", "--skip-preview"]);
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
        for (const configMap of stack.manifests().filter((manifest) => manifest.kind === "ConfigMap")) {
            assert.doesNotMatch(JSON.stringify(configMap.data ?? {}), /secret_key|access_key/, configMap.metadata.name);
        }
    });

    it("reports no changes on a second `up`", () => {
        stack.withConfig(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    });

    it("refreshes cleanly", () => {
        stack.withConfig(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    });

    it("destroys everything it created", () => {
        stack.withConfig(["destroy", "--yes", "--skip-preview"]);
        const state = JSON.parse(stack.stateText());
        const left = (state.deployment.resources ?? []).filter((resource: any) => !resource.type.startsWith("pulumi:"));
        assert.deepEqual(left.map((resource: any) => resource.urn), []);
    });

    it("leaves the repository untouched", () => {
        const after = spawnSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8" }).stdout;
        assert.equal(after, gitStatusBefore);
    });
});
