import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalCluster } from "../support/local-pods";
import { ProcessGroup } from "../support/processes";

describe("local pods: rendered pods as local processes, only paths and ports remapped", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "local-pods-"));
    const manifestsDir = path.join(root, "manifests");
    const labels = { app: "x" };
    const configMap = (data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "ns" }, data });
    const writeManifests = (data: Record<string, string>) => fs.writeFileSync(path.join(manifestsDir, "all.yaml"), [
        configMap(data),
        { apiVersion: "v1", kind: "Secret", metadata: { name: "sec", namespace: "ns" }, data: { "key.yml": Buffer.from("endpoint: 127.0.0.1:9000\n").toString("base64") } },
        { apiVersion: "v1", kind: "Service", metadata: { name: "app-headless", namespace: "ns" }, spec: { clusterIP: "None", selector: labels, ports: [{ name: "web", port: 80, targetPort: "web" }] } },
        {
            apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "app", namespace: "ns" },
            spec: {
                replicas: 2,
                template: {
                    metadata: { labels },
                    spec: {
                        containers: [{
                            name: "main",
                            image: "quay.io/prometheus/prometheus:v3.16.0",
                            args: ["--data=/data", "--config=/etc/app/config/app.yml", "--listen=0.0.0.0:8080", "--other=/data2/x"],
                            ports: [{ name: "web", containerPort: 8080 }],
                            volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "config", mountPath: "/etc/app/config" }, { name: "secret", mountPath: "/etc/app/secret" }],
                        }],
                        volumes: [{ name: "data", emptyDir: {} }, { name: "config", configMap: { name: "cfg" } }, { name: "secret", secret: { secretName: "sec" } }],
                    },
                },
            },
        },
    ].map((manifest) => yaml.dump(manifest)).join("---\n"));
    fs.mkdirSync(manifestsDir);
    writeManifests({ "app.yml": "rule_files: [/etc/app/config/*.yml]\ntarget: localhost:8080\n", "old.yml": "x\n" });
    const cluster = new LocalCluster(manifestsDir, path.join(root, "pods"), new ProcessGroup(path.join(root, "logs")));

    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it("remaps mount paths and declared ports in arguments and projected files, nothing else", async () => {
        const [first, second] = await cluster.schedule("StatefulSet", "app");
        assert.deepEqual([first.name, second.name], ["app-0", "app-1"]);
        assert.notEqual(first.localPort(8080), second.localPort(8080));
        assert.deepEqual(first.args(first.container("main")), [
            `--data=${first.volumeDir("data")}`,
            `--config=${first.volumeDir("config")}/app.yml`,
            `--listen=127.0.0.1:${first.localPort(8080)}`,
            "--other=/data2/x",
        ]);
        assert.equal(fs.readFileSync(path.join(first.volumeDir("config"), "app.yml"), "utf8"), `rule_files: [${first.volumeDir("config")}/*.yml]\ntarget: 127.0.0.1:${first.localPort(8080)}\n`);
        assert.equal(fs.readFileSync(path.join(first.volumeDir("secret"), "key.yml"), "utf8"), "endpoint: 127.0.0.1:9000\n");
        assert.throws(() => first.remap("--x=localhost:9999"), /app-0: port 9999 is not a containerPort of the pod \(declared: 8080\)/);
    });

    it("answers dnssrv+ names of a Service with the local pods it selects; fails on other cluster names", () => {
        assert.deepEqual(cluster.resolveServiceNames("--endpoint=dnssrv+_web._tcp.app-headless.ns.svc.cluster.local"),
            cluster.pods.map((pod) => `--endpoint=127.0.0.1:${pod.localPort(8080)}`));
        assert.throws(() => cluster.resolveServiceNames("--endpoint=dns+app-headless.ns.svc.cluster.local:80"), /of a form the local DNS does not answer/);
        assert.throws(() => cluster.resolveServiceNames("--endpoint=dnssrv+_grpc._tcp.app-headless.ns.svc.cluster.local"), /Service ns\/app-headless has no such port/);
    });

    it("follows a changed ConfigMap like the kubelet: changed files rewritten, removed ones deleted", () => {
        writeManifests({ "app.yml": "changed: localhost:8080\n" });
        cluster.reloadManifests();
        const pod = cluster.pod("app-1");
        assert.deepEqual(pod.refreshVolumes().sort(), ["config/app.yml", "config/old.yml"]);
        assert.deepEqual(fs.readdirSync(pod.volumeDir("config")), ["app.yml"]);
        assert.equal(fs.readFileSync(path.join(pod.volumeDir("config"), "app.yml"), "utf8"), `changed: 127.0.0.1:${pod.localPort(8080)}\n`);
        assert.deepEqual(pod.refreshVolumes(), []);
    });
});
