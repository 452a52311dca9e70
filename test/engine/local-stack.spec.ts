import { strict as assert } from "assert";
import * as path from "path";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import type { Stack } from "@pulumi/pulumi/automation";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes";
import { parseMiB } from "../../components/units";
import { checkConfig } from "../support/promtool";
import { EngineSandbox, repoFingerprint } from "../support/engine";
import { findManifest, Manifest, mountedSecret, readManifests } from "../support/manifests";

describe("engine: the local stack through the real engine (inline program, file backend)", function () {
    this.timeout(10 * 60 * 1000);
    const sandbox = new EngineSandbox();
    const manifestsDir = path.join(sandbox.root, "manifests");
    let stack: Stack;
    let created = 0;
    let fingerprint: string;

    const find = (kind: string, name: string): Manifest => findManifest(readManifests(manifestsDir), kind, name);

    before(async () => {
        fingerprint = repoFingerprint();
        sandbox.copyStackFile("local", (config) => {
            config["prometheus-paas:kubernetes"].renderYamlToDirectory = manifestsDir;
        });
        stack = await sandbox.open("local");
    });

    after(() => sandbox.cleanup());

    it("`up` creates every resource and renders every manifest", async () => {
        const result = await stack.up();
        created = result.summary.resourceChanges?.create ?? 0;
        assert.ok(created > 20, `created ${created}`);
        const kinds = new Set(readManifests(manifestsDir).map((manifest) => `${manifest.kind}/${manifest.metadata.name}`));
        for (const expected of [
            "StatefulSet/prometheus-shop", "StatefulSet/prometheus-blog", "StatefulSet/thanos-store", "StatefulSet/thanos-compactor",
            "Deployment/thanos-query", "Service/thanos-query", "PodDisruptionBudget/prometheus-blog", "Namespace/prometheus-local",
            "Secret/grafana-datasource-thanos", "Secret/prometheus-shop-web", "Role/prometheus-shop-discovery",
        ]) {
            assert.ok(kinds.has(expected), `missing ${expected}; rendered: ${[...kinds].sort().join(", ")}`);
        }
    });

    it("renders the invariants the mock tests check: tmpfs, memory limit, flags, sidecar", () => {
        const spec = find("StatefulSet", "prometheus-shop").spec.template.spec;
        const tsdb = spec.volumes.find((volume: any) => volume.name === "tsdb");
        assert.deepEqual(tsdb.emptyDir, { medium: "Memory", sizeLimit: "512Mi" });
        const prometheus = spec.containers.find((c: any) => c.name === "prometheus");
        // The provider writes quantities canonical: 1024Mi comes out as 1Gi.
        assert.equal(parseMiB(prometheus.resources.limits.memory), 512 + 512, prometheus.resources.limits.memory);
        for (const flag of ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--web.enable-lifecycle", "--storage.tsdb.retention.size=384MB"]) {
            assert.ok(prometheus.args.includes(flag), flag);
        }
        const sidecar = spec.containers.find((c: any) => c.name === "thanos-sidecar");
        assert.equal(sidecar.args[0], "sidecar");
        assert.equal(find("StatefulSet", "prometheus-blog").spec.replicas, 2);
    });

    it("renders prometheus.yml files that pass promtool", () => {
        for (const name of ["prometheus-shop-config", "prometheus-blog-config"]) {
            const template: string = find("ConfigMap", name).data["prometheus.yml.tmpl"];
            const result = checkConfig(template.split(replicaPlaceholder).join(`${name}-0`));
            assert.ok(result.ok, `${name}: ${result.output}`);
        }
    });

    it("keeps bucket credentials out of ConfigMaps; the objstore Secret carries base64 data", () => {
        const configMaps = readManifests(manifestsDir).filter((manifest) => manifest.kind === "ConfigMap");
        assert.ok(configMaps.length > 0, "no ConfigMap rendered");
        for (const configMap of configMaps) {
            assert.doesNotMatch(JSON.stringify(configMap.data ?? {}), /secret_key|access_key/, configMap.metadata.name);
        }
        const objstoreSecret = mountedSecret(readManifests(manifestsDir), find("StatefulSet", "thanos-store"), "objstore");
        const objstore = Buffer.from(objstoreSecret.data["objstore.yml"], "base64").toString("utf8");
        assert.match(objstore, /type: S3/);
    });

    it("keeps each instance's password out of ConfigMaps and pod specs; its web Secret holds the bcrypt hash of the stack's password", async () => {
        const passwords = JSON.parse((await stack.getConfig("prometheus-paas:instancePasswords")).value) as Record<string, string>;
        const manifests = readManifests(manifestsDir);
        for (const [instance, password] of Object.entries(passwords)) {
            for (const manifest of manifests.filter((candidate) => candidate.kind !== "Secret")) {
                assert.ok(!JSON.stringify(manifest).includes(password), `${manifest.kind}/${manifest.metadata.name} holds ${instance}'s password`);
            }
            const web = mountedSecret(manifests, find("StatefulSet", `prometheus-${instance}`), "web");
            const file = (key: string) => Buffer.from(web.data[key], "base64").toString("utf8");
            const hash = (yaml.load(file("web.yml")) as { basic_auth_users: Record<string, string> }).basic_auth_users[instance];
            assert.ok(bcrypt.compareSync(password, hash), `${instance}: the hash does not match the stack's password`);
            assert.equal(file("password"), password);
        }
    });

    it("a second `up` and a preview with nothing changed change nothing: the web config's bcrypt hash is stable", async () => {
        const again = await stack.up();
        assert.deepEqual(again.summary.resourceChanges, { same: created });
        const result = await stack.preview({ expectNoChanges: true });
        assert.deepEqual(result.changeSummary, { same: created });
    });

    it("a new password replaces the instance's web Secret and Grafana datasource (same names) and nothing else: no pod restarts", async () => {
        const statefulSetBefore = find("StatefulSet", "prometheus-shop");
        await stack.setConfig("prometheus-paas:instancePasswords.shop", { value: "local-shop-password-rotated", secret: true }, true);
        const result = await stack.up();
        assert.deepEqual(result.summary.resourceChanges, { same: created - 2, replace: 2 });
        assert.deepEqual(find("StatefulSet", "prometheus-shop"), statefulSetBefore);
        const web = mountedSecret(readManifests(manifestsDir), statefulSetBefore, "web");
        assert.equal(Buffer.from(web.data.password, "base64").toString("utf8"), "local-shop-password-rotated");
    });

    it("destroy leaves nothing in the state", async () => {
        assert.ok((await sandbox.managedResources(stack)).length > 0, "nothing to destroy");
        await stack.destroy();
        assert.deepEqual(await sandbox.managedResources(stack), []);
    });

    it("leaves the repository untouched", () => {
        assert.equal(repoFingerprint(), fingerprint);
    });
});
