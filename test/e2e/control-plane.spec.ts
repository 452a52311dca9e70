import { strict as assert } from "assert";
import bcrypt from "bcryptjs";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import type { Stack } from "@pulumi/pulumi/automation";
import { parseStackConfig } from "../../components/config/stack";
import { skipAwaitAnnotation } from "../../components/kubernetes/workload";
import { prometheusPodLabels } from "../../components/prometheus/kubernetes-spec";
import { thanosCompactorSpec } from "../../components/thanos/kubernetes-spec";
import { ControlPlane, startControlPlane } from "../support/control-plane";
import { EngineSandbox, kubernetesStateObjects, StateObject } from "../support/engine";
import { minimalRawConfig } from "../support/fixtures";
import { boundAppTraffic, pod } from "../support/network-policies";
import { ProcessGroup, waitFor } from "../support/processes";
import { appTargets, inClusterPrometheusYml, RunningPrometheus, startPrometheus, waitForAppTargets } from "../support/prometheus";
import { LoopbackUnits, setUnitStatus, TsuruUnit } from "../support/tsuru-units";

/** The Kubernetes objects the stack's state says it manages, with the inputs the provider applied. */
async function stateObjects(stack: Stack): Promise<StateObject[]> {
    return kubernetesStateObjects((await stack.exportStack()).deployment.resources);
}

describe("e2e: the local stack on a real Kubernetes API server, every unit of a Tsuru app discovered and scraped", function () {
    this.timeout(10 * 60 * 1000);
    const sandbox = new EngineSandbox();
    const prometheusProcesses = new ProcessGroup();
    let controlPlane: ControlPlane;
    let units: LoopbackUnits;
    let stack: Stack;
    let managed: StateObject[] = [];

    // The stack's namespace for Prometheus and Thanos; the app namespaces are Tsuru's, Grafana's is Grafana's.
    const prometheusNamespace = "prometheus-local";
    const appNamespace = "tsuru-local";
    const otherInstanceNamespace = "tsuru-blog";

    before(async () => {
        controlPlane = await startControlPlane();
        units = new LoopbackUnits(controlPlane.admin);
        console.log(`      (control plane ready in ${controlPlane.startupMs} ms)`);
        for (const namespace of [appNamespace, otherInstanceNamespace, "grafana"]) await controlPlane.createNamespace(namespace);
        sandbox.copyStackFile("local", (config) => {
            // The API server listens on loopback, as the local stack's network says.
            config["prometheus-paas:kubernetes"] = { namespace: prometheusNamespace, kubeconfig: controlPlane.kubeconfigPath, skipAwait: true, network: config["prometheus-paas:kubernetes"].network };
            // Scrapes every 10 s instead of 30 s, so waits stay short.
            config["prometheus-paas:plans"] = { small: { scrapeInterval: "10s" } };
            // Bind the blog instance elsewhere: its token is the "other instance" that must not see shop's apps.
            const blog = (config["prometheus-paas:instances"] as { name: string; apps: { namespace: string }[] }[]).find((instance) => instance.name === "blog")!;
            for (const app of blog.apps) app.namespace = otherInstanceNamespace;
        });
        stack = await sandbox.open("local");
    });

    after(async () => {
        await units?.close();
        await prometheusProcesses.stopAll();
        await controlPlane?.stop();
        sandbox.cleanup();
    });

    describe("the engine applies the stack (inline program, Kubernetes provider pointed at the API server)", () => {
        let created = 0;

        it("`up` creates every object of the stack, and the API server accepts each one", async () => {
            const result = await stack.up();
            created = result.summary.resourceChanges?.create ?? 0;
            managed = await stateObjects(stack);
            assert.ok(managed.length >= 25, `only ${managed.length} Kubernetes objects in the state`);
            const kinds = new Set(managed.map((object) => `${object.kind}/${object.namespace ?? ""}/${object.name}`));
            for (const expected of [
                "Namespace//prometheus-local", "StatefulSet/prometheus-local/prometheus-shop", "StatefulSet/prometheus-local/prometheus-blog",
                "StatefulSet/prometheus-local/thanos-store", "StatefulSet/prometheus-local/thanos-compactor", "Deployment/prometheus-local/thanos-query",
                "PodDisruptionBudget/prometheus-local/prometheus-blog", "Role/tsuru-local/prometheus-shop-discovery",
                "RoleBinding/tsuru-blog/prometheus-blog-discovery", "Secret/grafana/grafana-datasource-thanos", "Secret/prometheus-local/prometheus-shop-web",
                "NetworkPolicy/prometheus-local/default-deny", "NetworkPolicy/prometheus-local/prometheus-shop", "NetworkPolicy/prometheus-local/prometheus-blog",
                "NetworkPolicy/prometheus-local/thanos-store", "NetworkPolicy/prometheus-local/thanos-query", "NetworkPolicy/prometheus-local/thanos-query-tenants",
                "NetworkPolicy/prometheus-local/thanos-compactor",
            ]) {
                assert.ok(kinds.has(expected), `missing ${expected}; the state has: ${[...kinds].sort().join(", ")}`);
            }
            for (const object of managed) {
                const live = await controlPlane.admin.request("GET", await controlPlane.admin.objectPath(object.apiVersion, object.kind, object.name, object.namespace));
                assert.equal(live.status, 200, `${object.urn}: ${JSON.stringify(live.body)}`);
                assert.equal(live.body.metadata.annotations?.[skipAwaitAnnotation], "true", `${object.urn} was applied without ${skipAwaitAnnotation}`);
                // Server-side apply: the API server typed the whole object against its schema.
                assert.ok(live.body.metadata.managedFields.some((entry: { operation: string }) => entry.operation === "Apply"), `${object.urn} was not server-side applied`);
            }
        });

        it("every object, as the program declared it, passes the API server's strict field validation (and a field outside the schema fails)", async () => {
            for (const object of managed) {
                const answer = await controlPlane.admin.dryRunApplyStrict(object.inputs);
                assert.equal(answer.status, 200, `${object.urn}: ${answer.body.message ?? JSON.stringify(answer.body)}`);
            }
            // The control: an unknown field fails, so passing means something.
            const statefulSet = managed.find((object) => object.kind === "StatefulSet")!.inputs;
            const bogus = { ...statefulSet, spec: { ...statefulSet.spec, template: { ...statefulSet.spec.template, spec: { ...statefulSet.spec.template.spec, tmpfsSize: "1Gi" } } } };
            const answer = await controlPlane.admin.dryRunApplyStrict(bogus);
            assert.ok(answer.status >= 400, JSON.stringify(answer.body));
            assert.match(answer.body.message, /\.spec\.template\.spec\.tmpfsSize: field not declared in schema/);
        });

        it("the compactor's scratch as a volume claim (thanos.compactor.scratch.storageClass) instead of the emptyDir passes the same validation", async () => {
            const compactor = managed.find((object) => object.kind === "StatefulSet" && object.name === "thanos-compactor")!.inputs;
            const objstoreSecret = compactor.spec.template.spec.volumes.find((volume: { name: string }) => volume.name === "objstore").secret.secretName;
            const { thanos } = parseStackConfig({ ...minimalRawConfig(), thanos: { compactor: { scratch: { size: "200Gi", storageClass: "standard" } } } });
            const spec = thanosCompactorSpec(thanos, "thanos", objstoreSecret);
            assert.equal((spec.volumeClaimTemplates as unknown[]).length, 1);
            // Another name: a StatefulSet's claim templates cannot change in place (the provider replaces it).
            const answer = await controlPlane.admin.dryRunApplyStrict({ ...compactor, metadata: { ...compactor.metadata, name: "thanos-compactor-with-claim" }, spec });
            assert.equal(answer.status, 201, answer.body.message ?? JSON.stringify(answer.body));
            assert.equal(answer.body.spec.volumeClaimTemplates[0].spec.storageClassName, "standard");
        });

        it("a preview right after shows no changes", async () => {
            const result = await stack.preview({ expectNoChanges: true });
            assert.deepEqual(result.changeSummary, { same: created });
        });

        it("refresh reads every object back from the API server and finds no drift", async () => {
            const result = await stack.refresh();
            assert.deepEqual(result.summary.resourceChanges, { same: created });
            const preview = await stack.preview({ expectNoChanges: true });
            assert.deepEqual(preview.changeSummary, { same: created });
        });
    });

    describe("every unit of a Tsuru app is discovered through the instance's Role and scraped", () => {
        let shop: RunningPrometheus;
        let shopWithBlogToken: RunningPrometheus;
        let shopToken: string;
        let blogToken: string;

        const appA = "shop-web";
        const appUnits: (TsuruUnit & { contentType: string | null })[] = [
            { name: "shop-web-web-6d4f9-abcde", namespace: appNamespace, app: appA, process: "web", node: "node-a", contentType: "text/plain; version=0.0.4; charset=utf-8" },
            { name: "shop-web-worker-7c8b5-fghij", namespace: appNamespace, app: appA, process: "worker", node: "node-b", contentType: null },
            { name: "shop-web-build-1", namespace: appNamespace, app: appA, process: "web", node: "node-a", kind: "build", contentType: "text/plain" },
            { name: "shop-web-isolated-run-1", namespace: appNamespace, app: appA, process: "web", node: "node-a", kind: "isolated-run", contentType: "text/plain" },
            { name: "search-api-web-5f6d7-klmno", namespace: appNamespace, app: "search-api", process: "web", node: "node-a", contentType: "text/plain" },
            { name: "shop-web-web-elsewhere", namespace: otherInstanceNamespace, app: appA, process: "web", node: "node-b", contentType: "text/plain" },
        ];
        const [webUnit, workerUnit] = appUnits;
        const laterUnit: TsuruUnit & { contentType: null } = { name: "shop-web-web-6d4f9-pqrst", namespace: appNamespace, app: appA, process: "web", node: "node-b", contentType: null };

        /** Shop's prometheus.yml as the cluster holds it, connected with `token`. */
        const shopConfig = (token: string) => inClusterPrometheusYml(controlPlane, {
            namespace: prometheusNamespace, configMap: "prometheus-shop-config", podName: "prometheus-shop-0", token, dir: prometheusProcesses.logDir,
        });
        const runUnit = (unit: TsuruUnit & { contentType: string | null }) => units.run(unit, unit.contentType);

        before(async () => {
            assert.ok(managed.length > 0, "the stack is not up");
            for (const unit of appUnits) await runUnit(unit);
            shopToken = await controlPlane.serviceAccountToken(prometheusNamespace, "prometheus-shop");
            blogToken = await controlPlane.serviceAccountToken(prometheusNamespace, "prometheus-blog");
            [shop, shopWithBlogToken] = await Promise.all([
                startPrometheus(prometheusProcesses, "prometheus-shop", await shopConfig(shopToken)),
                startPrometheus(prometheusProcesses, "prometheus-shop-with-blog-token", await shopConfig(blogToken)),
            ]);
        });

        it("the API server lets each instance's ServiceAccount list pods only where its Role is (403 elsewhere)", async () => {
            const listPods = async (token: string, namespace: string) => (await controlPlane.client(token).request("GET", `/api/v1/namespaces/${namespace}/pods`)).status;
            assert.equal(await listPods(shopToken, appNamespace), 200);
            assert.equal(await listPods(shopToken, otherInstanceNamespace), 403);
            assert.equal(await listPods(blogToken, otherInstanceNamespace), 200);
            assert.equal(await listPods(blogToken, appNamespace), 403);
        });

        it("lists exactly app A's two running units as targets (not its build or isolated-run pods, not app B, not another namespace), with app, process, pod, namespace and node labels", async () => {
            const targets = await waitForAppTargets(shop, [webUnit.name, workerUnit.name]);
            const labelsOf = (unit: TsuruUnit) => ({
                job: `tsuru-app-${appA}`, instance: `${units.ipOf.get(unit.name)}:8888`,
                app: appA, process: unit.process, app_version: "3", namespace: appNamespace, pod: unit.name, node: unit.node,
            });
            assert.deepEqual(targets.map((target) => target.labels).sort((a, b) => a.pod.localeCompare(b.pod)), [labelsOf(webUnit), labelsOf(workerUnit)]);
            // The build and isolated-run pods were discovered and dropped by the relabelling, not missed.
            const dropped = (await shop.targets()).droppedTargets.map((target) => target.discoveredLabels.__meta_kubernetes_pod_name).sort();
            assert.deepEqual(dropped, ["shop-web-build-1", "shop-web-isolated-run-1"]);
        });

        it("scrapes both units (up == 1), the one whose /metrics sends no Content-Type too, and their series carry app, process and pod", async () => {
            const targets = await waitForAppTargets(shop, [webUnit.name, workerUnit.name], "up");
            assert.deepEqual(targets.map((target) => target.lastError), ["", ""]);
            const up = await shop.query(`up{job="tsuru-app-${appA}"}`);
            assert.deepEqual(up.map((series) => [series.metric.pod, series.value[1]]).sort(), [[webUnit.name, "1"], [workerUnit.name, "1"]]);
            const series = await waitFor("unit_requests_total of both units", async () => {
                const result = await shop.query("unit_requests_total");
                return result.length === 2 ? result : undefined;
            }, { timeoutMs: 30_000, process: shop.process });
            assert.deepEqual(series.map(({ metric }) => [metric.app, metric.process, metric.pod, metric.namespace]).sort(), [
                [appA, "web", webUnit.name, appNamespace],
                [appA, "worker", workerUnit.name, appNamespace],
            ]);
        });

        it("discovers a unit added later, without a restart", async () => {
            await runUnit(laterUnit);
            await waitForAppTargets(shop, [webUnit.name, workerUnit.name, laterUnit.name], "up");
            assert.equal(shop.process.hasExited, false);
        });

        it("drops a unit that stops Running", async () => {
            await setUnitStatus(controlPlane.admin, webUnit, "Succeeded", units.ipOf.get(webUnit.name)!);
            await waitForAppTargets(shop, [workerUnit.name, laterUnit.name]);
        });

        it("a Prometheus with another instance's token discovers none of A's units: the API server answers 403", async () => {
            await waitFor("the discovery to be refused", () => (/forbidden/.test(fs.readFileSync(shopWithBlogToken.process.logFile, "utf8")) ? true : undefined), {
                timeoutMs: 30_000, process: shopWithBlogToken.process,
            });
            const refusal = fs.readFileSync(shopWithBlogToken.process.logFile, "utf8").split("\n").find((line) => /forbidden/.test(line))!;
            assert.match(refusal, /system:serviceaccount:prometheus-local:prometheus-blog.*cannot (list|watch) resource \\?"pods\\?".*namespace \\?"tsuru-local\\?"/);
            assert.deepEqual(await appTargets(shopWithBlogToken), []);
        });

        const boundLater = { name: "shop-api", namespace: "tsuru-shop-api" };
        const boundLaterUnit: TsuruUnit & { contentType: string } = {
            name: "shop-api-web-8e9f0-uvwxy", namespace: boundLater.namespace, app: boundLater.name, process: "web", node: "node-a", contentType: "text/plain",
        };
        const listPodsAsShop = async (namespace: string) => (await controlPlane.client(shopToken).request("GET", `/api/v1/namespaces/${namespace}/pods`)).status;
        /** Shop's NetworkPolicy as the API server holds it, evaluated (cyclonus' matcher) for the bound-later app's unit both ways. */
        const boundLaterTraffic = async () => {
            const policy = await controlPlane.admin.expect("GET", `/apis/networking.k8s.io/v1/namespaces/${prometheusNamespace}/networkpolicies/prometheus-shop`);
            return boundAppTraffic([policy], pod(prometheusNamespace, prometheusPodLabels({ name: "shop" }), { ports: { web: 9090, grpc: 10901 } }), { ...boundLater, port: 8888 });
        };

        it("binding an app in another namespace (and making shop an HA pair) updates the stack in place: a Role, a RoleBinding and a PDB created, nothing replaced or deleted; the live NetworkPolicy admits the app's units", async () => {
            await controlPlane.createNamespace(boundLater.namespace);
            sandbox.editStackFile("local", (config) => {
                const instance = config["prometheus-paas:instances"].find((candidate: { name: string }) => candidate.name === "shop");
                instance.replicas = 2;
                instance.apps.push(boundLater);
            });
            const { summary } = await stack.up();
            const { same, update, ...others } = summary.resourceChanges ?? {};
            assert.deepEqual(others, { create: 3 });
            assert.ok((update ?? 0) >= 2, `updated ${update}`);
            const statefulSet = await controlPlane.admin.expect("GET", `/apis/apps/v1/namespaces/${prometheusNamespace}/statefulsets/prometheus-shop`);
            assert.equal(statefulSet.spec.replicas, 2);
            assert.equal(await listPodsAsShop(boundLater.namespace), 200);
            assert.deepEqual(await boundLaterTraffic(), { scrape: true, query: true, storeApi: false }, "the live NetworkPolicy admits the bound app's units");
            assert.deepEqual((await stack.preview({ expectNoChanges: true })).changeSummary, { same: (same ?? 0) + (update ?? 0) + 3 });
        });

        it("the new config, reloaded as the sidecar does, makes the bound app's units targets through the new Role", async () => {
            await shop.reload(await shopConfig(shopToken));
            await runUnit(boundLaterUnit);
            const targets = await waitForAppTargets(shop, [workerUnit.name, laterUnit.name, boundLaterUnit.name], "up");
            const target = targets.find((candidate) => candidate.labels.pod === boundLaterUnit.name)!;
            assert.equal(target.labels.job, `tsuru-app-${boundLater.name}`);
            assert.equal(target.labels.namespace, boundLater.namespace);
        });

        it("unbinding deletes the Role and RoleBinding; after the reload its units are no longer targets, the API server refuses the listing and the live NetworkPolicy denies the units", async () => {
            sandbox.editStackFile("local", (config) => {
                const instance = config["prometheus-paas:instances"].find((candidate: { name: string }) => candidate.name === "shop");
                instance.apps = instance.apps.filter((app: { name: string }) => app.name !== boundLater.name);
            });
            const { summary } = await stack.up();
            assert.equal(summary.resourceChanges?.delete, 2);
            assert.equal(summary.resourceChanges?.create, undefined);
            assert.equal(await listPodsAsShop(boundLater.namespace), 403);
            assert.deepEqual(await boundLaterTraffic(), { scrape: false, query: false, storeApi: false }, "the live NetworkPolicy no longer admits the unbound app's units");
            await shop.reload(await shopConfig(shopToken));
            await waitForAppTargets(shop, [workerUnit.name, laterUnit.name]);
        });
    });

    describe("a changed objstore.yml: the bucket endpoint moves", () => {
        /** The StatefulSets and Deployments (by name) as the API server holds them, with the Secret their pods mount as objstore.yml. */
        async function workloads(): Promise<Map<string, { generation: number; objstoreSecret?: string }>> {
            const found = new Map<string, { generation: number; objstoreSecret?: string }>();
            for (const kind of ["statefulsets", "deployments"]) {
                const list = await controlPlane.admin.expect("GET", `/apis/apps/v1/namespaces/${prometheusNamespace}/${kind}`);
                for (const item of list.items) {
                    const objstoreSecret = (item.spec.template.spec.volumes ?? []).find((volume: { name: string }) => volume.name === "objstore")?.secret?.secretName;
                    found.set(item.metadata.name, { generation: item.metadata.generation, objstoreSecret });
                }
            }
            return found;
        }

        it("`up` replaces each objstore Secret by one of a new name and updates the workloads that mount it (so their pods roll), the old Secrets deleted, the NetworkPolicies' bucket egress moved; a preview then shows no changes", async () => {
            const before = await workloads();
            const mounting = [...before].filter(([, workload]) => workload.objstoreSecret !== undefined).map(([name]) => name).sort();
            assert.deepEqual(mounting, ["prometheus-blog", "prometheus-shop", "thanos-compactor", "thanos-store"]);

            sandbox.editStackFile("local", (config) => {
                config["prometheus-paas:bucket"].endpoint = "10.20.30.40:9000";
            });
            const { summary } = await stack.up();
            const { same, ...changed } = summary.resourceChanges ?? {};
            // Thanos' Secret and one per instance; the four workloads that mount one and the NetworkPolicies of the four
            // (their egress follows the bucket); nothing else.
            assert.deepEqual(changed, { replace: 3, update: 8 });
            for (const name of ["prometheus-shop", "prometheus-blog", "thanos-store", "thanos-compactor"]) {
                const policy = await controlPlane.admin.expect("GET", `/apis/networking.k8s.io/v1/namespaces/${prometheusNamespace}/networkpolicies/${name}`);
                assert.ok(policy.spec.egress.some((rule: any) => rule.to?.some((peer: any) => peer.ipBlock?.cidr === "10.20.30.40/32") && rule.ports.some((port: any) => port.port === 9000)), `${name}: ${JSON.stringify(policy.spec.egress)}`);
            }

            const after = await workloads();
            for (const name of mounting) {
                const [old, now] = [before.get(name)!, after.get(name)!];
                assert.notEqual(now.objstoreSecret, old.objstoreSecret, `${name} still mounts ${old.objstoreSecret}`);
                assert.equal(now.generation, old.generation + 1, `${name}: the pod template did not change, so its pods would keep the old objstore.yml`);
                const secret = await controlPlane.admin.expect("GET", `/api/v1/namespaces/${prometheusNamespace}/secrets/${now.objstoreSecret}`);
                assert.match(Buffer.from(secret.data["objstore.yml"], "base64").toString("utf8"), /endpoint: 10\.20\.30\.40:9000/, now.objstoreSecret);
                assert.equal((await controlPlane.admin.request("GET", `/api/v1/namespaces/${prometheusNamespace}/secrets/${old.objstoreSecret}`)).status, 404, `${old.objstoreSecret} was not deleted`);
            }
            assert.equal(after.get("thanos-query")!.generation, before.get("thanos-query")!.generation, "thanos-query reads no objstore.yml, yet it changed");
            assert.deepEqual((await stack.preview({ expectNoChanges: true })).changeSummary, { same: (same ?? 0) + 11 });
        });
    });

    describe("a new instance password", () => {
        it("`up` replaces the web Secret and the Grafana datasource under the same names on the API server; the StatefulSet is untouched, so no pod restarts", async () => {
            const statefulSet = () => controlPlane.admin.expect("GET", `/apis/apps/v1/namespaces/${prometheusNamespace}/statefulsets/prometheus-shop`);
            const before = await statefulSet();
            await stack.setConfig("prometheus-paas:instancePasswords.shop", { value: "control-plane-password-rotated", secret: true }, true);
            const { summary } = await stack.up();
            const { same, ...changed } = summary.resourceChanges ?? {};
            assert.deepEqual(changed, { replace: 2 });
            assert.equal((await statefulSet()).metadata.generation, before.metadata.generation, "the pod template changed: the pods would restart");
            const web = await controlPlane.admin.expect("GET", `/api/v1/namespaces/${prometheusNamespace}/secrets/prometheus-shop-web`);
            assert.equal(Buffer.from(web.data.password, "base64").toString("utf8"), "control-plane-password-rotated");
            const webYml = yaml.load(Buffer.from(web.data["web.yml"], "base64").toString("utf8")) as { basic_auth_users: Record<string, string> };
            assert.ok(bcrypt.compareSync("control-plane-password-rotated", webYml.basic_auth_users.shop));
            const datasource = await controlPlane.admin.expect("GET", "/api/v1/namespaces/grafana/secrets/grafana-datasource-prometheus-shop");
            assert.match(Buffer.from(datasource.data["prometheus-shop.yaml"], "base64").toString("utf8"), /basicAuthPassword: control-plane-password-rotated/);
            assert.deepEqual((await stack.preview({ expectNoChanges: true })).changeSummary, { same: (same ?? 0) + 2 });
        });
    });

    describe("destroy", () => {
        it("deletes every object from the API server; the namespace is left Terminating for the namespace controller", async () => {
            const objects = await stateObjects(stack);
            assert.ok(objects.length > 0, "nothing was created");
            await stack.destroy();
            assert.deepEqual(await sandbox.managedResources(stack), []);
            for (const object of objects) {
                const live = await controlPlane.admin.request("GET", await controlPlane.admin.objectPath(object.apiVersion, object.kind, object.name, object.namespace));
                if (object.kind === "Namespace") {
                    assert.equal(live.body.status?.phase, "Terminating", `${object.urn}: ${JSON.stringify(live.body)}`);
                } else {
                    assert.equal(live.status, 404, `${object.urn} is still there: ${JSON.stringify(live.body.metadata)}`);
                }
            }
        });
    });
});

describe("the test control plane's startup bound", () => {
    it("fails within its bound, naming it, and stops what it had started", async () => {
        const error: Error = await startControlPlane({ timeoutMs: 1 }).then(() => assert.fail("started within 1 ms"), (failure) => failure);
        assert.match(error.message, /did not start within 1 ms: .*etcd.*\n\(logs of etcd and kube-apiserver in (\S+)\)/s);
        const logDir = /logs of etcd and kube-apiserver in (\S+)\)/.exec(error.message)![1];
        const dataDir = /--data-dir=(\S+)/.exec(fs.readFileSync(path.join(logDir, "etcd.log"), "utf8"))![1];
        const stillRunning = fs.readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
            try {
                return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dataDir);
            } catch {
                return false; // gone meanwhile
            }
        });
        assert.deepEqual(stillRunning, []);
        fs.rmSync(logDir, { recursive: true, force: true });
    });
});
