import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { Manifest, renderManifests, stackRuntimeConfig, writeManifests } from "../../automation/render";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes";
import { projectRoot } from "../support/fixtures";
import { checkConfig } from "../support/promtool";

describe("offline manifest renderer (the main job without the engine)", () => {
    let manifests: Manifest[];

    before(async () => {
        manifests = await renderManifests(projectRoot, "local");
    });

    const find = (kind: string, name: string) => {
        const found = manifests.filter((manifest) => manifest.kind === kind && manifest.metadata.name === name);
        assert.equal(found.length, 1, `${kind}/${name}`);
        return found[0] as any;
    };

    it("renders every Kubernetes object of the local stack", () => {
        const names = manifests.map((manifest) => `${manifest.kind}/${manifest.metadata.name}`);
        for (const expected of ["Namespace/prometheus-local", "StatefulSet/prometheus-shop", "StatefulSet/prometheus-blog", "StatefulSet/thanos-store",
            "StatefulSet/thanos-compactor", "Deployment/thanos-query", "PodDisruptionBudget/prometheus-blog", "Secret/thanos-objstore"]) {
            assert.ok(names.includes(expected), `missing ${expected}`);
        }
        for (const manifest of manifests) {
            assert.ok(manifest.apiVersion && manifest.kind && manifest.metadata.name, JSON.stringify(manifest.metadata));
        }
    });

    it("resolves outputs and secrets into plain manifest fields", () => {
        const statefulSet = find("StatefulSet", "prometheus-shop");
        assert.equal(statefulSet.spec.serviceName, "prometheus-shop-headless");
        assert.deepEqual(statefulSet.spec.template.spec.volumes.find((v: any) => v.name === "tsdb").emptyDir, { medium: "Memory", sizeLimit: "512Mi" });
        assert.match(find("Secret", "thanos-objstore").stringData["objstore.yml"], /bucket: thanos-local/);
        assert.doesNotMatch(JSON.stringify(manifests), /4dabf18193072939515e22adb298388d/);
    });

    it("writes configs that promtool accepts", () => {
        for (const name of ["prometheus-shop-config", "prometheus-blog-config"]) {
            const template: string = find("ConfigMap", name).data["prometheus.yml.tmpl"];
            const result = checkConfig(template.split(replicaPlaceholder).join("pod-0"));
            assert.ok(result.ok, result.output);
        }
    });

    it("writes one YAML file per object into a fresh directory", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
        fs.writeFileSync(path.join(dir, "stale.yaml"), "stale");
        const files = writeManifests(manifests, dir);
        assert.equal(files.length, manifests.length);
        assert.equal(fs.existsSync(path.join(dir, "stale.yaml")), false);
        const statefulSet = yaml.load(fs.readFileSync(path.join(dir, "statefulset-prometheus-local-prometheus-shop.yaml"), "utf8")) as any;
        assert.equal(statefulSet.kind, "StatefulSet");
        fs.rmSync(dir, { recursive: true });
    });

    it("refuses secure values instead of rendering placeholders", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-stack-"));
        fs.writeFileSync(path.join(dir, "Pulumi.x.yaml"), "config:\n  prometheus-paas:bucketSecretKey:\n    secure: v1:abc\n");
        assert.throws(() => stackRuntimeConfig(dir, "x"), /prometheus-paas:bucketSecretKey is a secret: rendering without the engine cannot decrypt it/);
        fs.rmSync(dir, { recursive: true });
    });
});
