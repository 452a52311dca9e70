import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import bcrypt from "bcryptjs";
import * as yaml from "js-yaml";
import { replicaPlaceholder } from "../../components/prometheus/kubernetes";
import { brokerDirs, BrokerDirs, RunningBroker, startBroker, waitStatus } from "../support/broker-process";
import { ProcessGroup, waitFor } from "../support/processes";
import { boundAppTraffic, workloadPod } from "../support/network-policies";
import { checkConfig } from "../support/promtool";
import { TsuruBrokerClient, TsuruPool } from "../support/tsuru-broker-client";
import { loopbackNetwork } from "../../components/config/network";

const namespace = "prometheus-tenants";
const settings = {
    environment: "test",
    region: "us-east-1",
    namespace,
    thanosNamespace: "prometheus",
    network: loopbackNetwork("grafana"),
    grafanaNamespace: "grafana",
    grafanaOrgs: { shop: 4 },
    poolNamespaces: { pattern: "tsuru-{pool}", pools: { legacy: "default" } },
    poolPlans: { restricted: ["small"] },
};
const pool: TsuruPool = { name: "shop", cluster: { name: "production", addresses: ["https://10.0.0.1:6443"] } };

interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string };
    [key: string]: any;
}

function renderedManifests(dirs: BrokerDirs, instance: string): Manifest[] {
    const dir = path.join(dirs.render, instance);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith(".yaml"))
        .flatMap((entry) => yaml.loadAll(fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8")) as Manifest[])
        .filter(Boolean);
}

/** An app's units and the instance's pods under the instance stack's rendered NetworkPolicy (cyclonus' matcher). */
function appTraffic(dirs: BrokerDirs, instance: string, app: { name: string; namespace: string; port: number }) {
    const policies = renderedManifests(dirs, instance).filter((manifest) => manifest.kind === "NetworkPolicy");
    assert.deepEqual(policies.map((policy) => policy.metadata.name), [`prometheus-${instance}`]);
    return boundAppTraffic(policies, workloadPod(renderedManifests(dirs, instance), "StatefulSet", `prometheus-${instance}`), app);
}

function renderedPrometheusYml(dirs: BrokerDirs, instance: string): string {
    const configMap = renderedManifests(dirs, instance).find((manifest) => manifest.kind === "ConfigMap" && manifest.metadata.name === `prometheus-${instance}-config`);
    assert.ok(configMap, `no rendered ConfigMap prometheus-${instance}-config`);
    return configMap.data["prometheus.yml.tmpl"];
}

function scrapeJobs(prometheusYml: string): any[] {
    return (yaml.load(prometheusYml) as { scrape_configs: any[] }).scrape_configs;
}

describe("broker: Tsuru's service API through the real engine (child process, file backend, render target)", function () {
    this.timeout(15 * 60 * 1000);
    const group = new ProcessGroup();
    const dirs = brokerDirs(fs.mkdtempSync(path.join(os.tmpdir(), "paas-broker-")), settings);
    let broker: RunningBroker;
    let client: TsuruBrokerClient;
    /** What the first bind of `shop` handed out. */
    let shopPassword = "";

    before(async () => {
        broker = await startBroker(group, dirs);
        client = broker.client;
    });

    after(async () => {
        await group.stopAll();
        fs.rmSync(dirs.root, { recursive: true, force: true });
    });

    describe("plans, names and credentials", () => {
        it("lists the plan catalog as {name, description}, pool-aware", async () => {
            const all = await client.plans();
            assert.equal(all.status, 200);
            assert.deepEqual((all.json as { name: string }[]).map((plan) => plan.name), ["small", "medium", "large", "xlarge"]);
            for (const plan of all.json as { name: string; description: string }[]) assert.equal(typeof plan.description, "string");
            const restricted = await client.plans({ name: "restricted" });
            assert.deepEqual(restricted.json, [{ name: "small", description: (all.json as any[])[0].description }]);
        });

        it("answers 401 to wrong credentials and logs it without the password", async () => {
            const wrong = client.withCredentials("prometheus", "not-the-password");
            assert.equal((await wrong.plans()).status, 401);
            const create = await wrong.create({ name: "intruder", team: "x", plan: "small" });
            assert.equal(create.status, 401);
            assert.match(String((create.json as any).message), /credentials/);
            await waitFor("the refusal in the broker's log", () => (fs.readFileSync(broker.process.logFile, "utf8").includes("wrong service credentials") ? true : undefined), { timeoutMs: 5_000 });
            const log = fs.readFileSync(broker.process.logFile, "utf8");
            assert.ok(!log.includes("not-the-password") && !log.includes("broker-test-password"), "a password reached the log");
        });

        it("refuses names Kubernetes cannot take, the name 'plans', unknown plans and a missing team, saying what is allowed", async () => {
            for (const name of ["My_Prom", "UPPER", "a".repeat(41), "ends-"]) {
                const response = await client.create({ name, team: "shop", plan: "small" });
                assert.equal(response.status, 400, name);
                assert.match((response.json as any).message, /DNS-1123 label of at most 40 characters/, name);
            }
            const plans = await client.create({ name: "plans", team: "shop", plan: "small" });
            assert.equal(plans.status, 400);
            assert.match((plans.json as any).message, /reserved/);
            const unknownPlan = await client.create({ name: "nope", team: "shop", plan: "huge" });
            assert.equal(unknownPlan.status, 400);
            assert.match((unknownPlan.json as any).message, /unknown plan 'huge'; allowed: small, medium, large, xlarge/);
            const poolPlan = await client.create({ name: "nope", team: "shop", plan: "large" }, { name: "restricted" });
            assert.equal(poolPlan.status, 400);
            assert.match((poolPlan.json as any).message, /in pool 'restricted'; allowed: small/);
            assert.equal((await client.withEncoding("json").create({ name: "nope", team: "", plan: "small" })).status, 400);
        });

        it("answers 404 for an unknown instance on remove, info, status and bind", async () => {
            assert.equal((await client.remove("ghost")).status, 404);
            assert.equal((await client.info("ghost")).status, 404);
            assert.equal((await client.status("ghost")).status, 404);
            assert.equal((await client.bindApp("ghost", { name: "web", namespace: "tsuru-shop" })).status, 404);
            assert.deepEqual(Object.keys((await client.remove("ghost")).json as object), ["message"]);
        });
    });

    describe("the lifecycle of one instance (form encoding)", () => {
        it("create answers 201 at once, status is 202, a duplicate is 409", async () => {
            const started = Date.now();
            const created = await client.create({ name: "shop", team: "shop", plan: "small", tags: ["env=test", "tier=gold"], description: "shop metrics", parameters: { retention: { extra: "1d" }, "a.b": ["x", "y"] } }, pool);
            assert.equal(created.status, 201, created.text);
            assert.ok(Date.now() - started < 1_000, `create took ${Date.now() - started} ms`);
            assert.equal((await client.status("shop")).status, 202);
            const duplicate = await client.create({ name: "shop", team: "shop", plan: "small" }, pool);
            assert.equal(duplicate.status, 409);
            const record = yaml.load(fs.readFileSync(path.join(dirs.backend, "workspace", "Pulumi.instance-shop.yaml"), "utf8")) as any;
            assert.deepEqual(record.config["prometheus-paas-instance:tags"], ["env=test", "tier=gold"]);
            assert.deepEqual(record.config["prometheus-paas-instance:parameters"], { retention: { extra: "1d" }, "a.b": ["x", "y"] });
            assert.equal(record.config["prometheus-paas-instance:pool"], "shop");
        });

        it("accepts a bind while provisioning: 201 with string env vars (the URL, user and password), applied once provisioning runs: the scrape job, the discovery Role and the NetworkPolicy admitting the app's units", async () => {
            const bound = await client.bindApp("shop", { name: "shop-web", namespace: "tsuru-shop" }, pool);
            assert.equal(bound.status, 201, bound.text);
            const { PROMETHEUS_PASSWORD: password, ...rest } = bound.json as Record<string, string>;
            assert.deepEqual(rest, {
                PROMETHEUS_URL: `http://prometheus-shop.${namespace}.svc:9090`,
                PROMETHEUS_USERNAME: "shop",
                PROMETHEUS_INSTANCE: "shop",
                PROMETHEUS_HISTORY_URL: `http://prometheus-shop.${namespace}.svc:9091`,
            });
            assert.match(password, /^[A-Za-z0-9_-]{32}$/);
            shopPassword = password;
            assert.equal((await client.bindApp("shop", { name: "shop-web", namespace: "tsuru-shop" }, pool)).status, 409);
            await waitStatus(client, "shop", 204);
            const prometheusYml = renderedPrometheusYml(dirs, "shop");
            const job = scrapeJobs(prometheusYml).find((scrape) => scrape.job_name === "tsuru-app-shop-web");
            assert.ok(job, "the bound app's job is not in the rendered prometheus.yml");
            assert.deepEqual(job.kubernetes_sd_configs[0].namespaces.names, ["tsuru-shop"]);
            const result = checkConfig(prometheusYml.split(replicaPlaceholder).join("prometheus-shop-0"));
            assert.ok(result.ok, result.output);
            assert.ok(renderedManifests(dirs, "shop").some((manifest) => manifest.kind === "Role" && manifest.metadata.namespace === "tsuru-shop"), "no discovery Role in the app's namespace");
            assert.deepEqual(appTraffic(dirs, "shop", { name: "shop-web", namespace: "tsuru-shop", port: 8888 }), { scrape: true, query: true, storeApi: false }, "the instance's NetworkPolicy with the bound app");
        });

        it("the bound password is the instance's: its web Secret holds its bcrypt hash; it is encrypted in the stack's config and absent from ConfigMaps and the broker's log", async () => {
            const manifests = renderedManifests(dirs, "shop");
            const web = manifests.find((manifest) => manifest.kind === "Secret" && manifest.metadata.name === "prometheus-shop-web");
            assert.ok(web, "no web Secret rendered");
            const webYml = yaml.load(Buffer.from(web.data["web.yml"], "base64").toString("utf8")) as { basic_auth_users: Record<string, string> };
            assert.ok(bcrypt.compareSync(shopPassword, webYml.basic_auth_users.shop), "the web config does not accept the bound password");
            for (const manifest of manifests.filter((candidate) => candidate.kind !== "Secret")) {
                assert.ok(!JSON.stringify(manifest).includes(shopPassword), `${manifest.kind}/${manifest.metadata.name} holds the password`);
            }
            const stackFile = fs.readFileSync(path.join(dirs.backend, "workspace", "Pulumi.instance-shop.yaml"), "utf8");
            assert.ok(!stackFile.includes(shopPassword), "the password is in plain text in the stack's config");
            assert.match(String((yaml.load(stackFile) as any).config["prometheus-paas-instance:password"].secure), /^v1:/);
            assert.ok(!fs.readFileSync(broker.process.logFile, "utf8").includes(shopPassword), "the password reached the broker's log");
            const again = await client.bindJob("shop", { name: "password-check", pool: "shop", cluster: "production" });
            assert.equal((again.json as Record<string, string>).PROMETHEUS_PASSWORD, shopPassword, "a second bind hands out another password");
            assert.equal((await client.unbindJob("shop", "password-check")).status, 200);
            await waitStatus(client, "shop", 204);
        });

        it("each instance's stack provisions its Grafana datasources (its Prometheus and its history front, its credentials in secureJsonData, its team's Grafana organization) in Grafana's namespace; the front forwards to the tenants' Query as shop", async () => {
            const manifests = renderedManifests(dirs, "shop");
            const secret = manifests.find((manifest) => manifest.kind === "Secret" && manifest.metadata.name === "grafana-datasource-tsuru-shop");
            assert.ok(secret, "no datasource Secret rendered for the broker's instance");
            assert.equal(secret.metadata.namespace, "grafana");
            assert.equal((secret.metadata as any).labels.grafana_datasource, "1");
            const file = yaml.load(Buffer.from(secret.data["tsuru-shop.yaml"], "base64").toString("utf8")) as { datasources: any[] };
            assert.deepEqual(file.datasources.map((source) => [source.name, source.url, source.jsonData.prometheusType]), [
                ["Prometheus shop (test)", `http://prometheus-shop.${namespace}.svc:9090`, "Prometheus"],
                ["Prometheus shop history (test)", `http://prometheus-shop.${namespace}.svc:9091`, "Thanos"],
            ]);
            for (const source of file.datasources) assert.deepEqual([source.basicAuthUser, source.secureJsonData, source.orgId], ["shop", { basicAuthPassword: shopPassword }, 4]);
            const web = manifests.find((manifest) => manifest.kind === "Secret" && manifest.metadata.name === "prometheus-shop-web")!;
            const front = JSON.parse(Buffer.from(web.data["history-front.json"], "base64").toString("utf8"));
            const forward = front.apps.http.servers.history.routes.find((route: any) => route.handle[0].handler === "reverse_proxy").handle[0];
            assert.deepEqual([forward.upstreams, forward.headers.request.set], [[{ dial: "thanos-query-tenants.prometheus.svc:9090" }], { "THANOS-TENANT": ["shop"] }]);
        });

        it("info lists label/value strings: URLs (Prometheus and its history), the Grafana datasources' names, plan, apps, jobs, state, last error", async () => {
            const info = await client.info("shop");
            assert.equal(info.status, 200);
            const entries = info.json as Record<string, unknown>[];
            for (const entry of entries) {
                assert.deepEqual(Object.keys(entry).sort(), ["label", "value"]);
                assert.equal(typeof entry.value, "string");
            }
            const value = (label: string) => entries.find((entry) => entry.label === label)?.value;
            assert.equal(value("Prometheus URL"), `http://prometheus-shop.${namespace}.svc:9090`);
            assert.equal(value("Prometheus user"), "shop");
            assert.ok(!info.text.includes(shopPassword), "info shows the password");
            assert.equal(value("History URL"), `http://prometheus-shop.${namespace}.svc:9091`);
            assert.equal(value("Grafana datasources"), "Prometheus shop (test), Prometheus shop history (test)");
            assert.match(String(value("Plan")), /^small: /);
            assert.equal(value("Apps"), "shop-web (tsuru-shop)");
            assert.equal(value("Jobs"), "-");
            assert.equal(value("State"), "up");
            assert.equal(value("Last error"), "-");
        });

        it("binds a job (namespace from its pool) and an app known only by its pool; unbinds re-render, and the NetworkPolicy then denies the unbound app's units both ways", async () => {
            const job = await client.bindJob("shop", { name: "nightly-report", pool: "shop", cluster: "production" });
            assert.equal(job.status, 201, job.text);
            assert.equal(typeof (job.json as any).PROMETHEUS_URL, "string");
            const legacy = await client.bindApp("shop", { name: "old-app", pool: "legacy", parameters: { port: "9100", path: "/stats" } });
            assert.equal(legacy.status, 201, legacy.text);
            await waitStatus(client, "shop", 204);
            let jobs = scrapeJobs(renderedPrometheusYml(dirs, "shop"));
            const jobScrape = jobs.find((scrape) => scrape.job_name === "tsuru-job-nightly-report");
            assert.deepEqual(jobScrape?.kubernetes_sd_configs[0].namespaces.names, ["tsuru-shop"]);
            const legacyScrape = jobs.find((scrape) => scrape.job_name === "tsuru-app-old-app");
            assert.deepEqual(legacyScrape?.kubernetes_sd_configs[0].namespaces.names, ["default"]);
            assert.equal(legacyScrape.metrics_path, "/stats");

            assert.equal((await client.unbindApp("shop", "shop-web", pool)).status, 200);
            assert.equal((await client.unbindApp("shop", "shop-web", pool)).status, 404);
            assert.equal((await client.unbindApp("shop", "old-app")).status, 200);
            assert.equal((await client.unbindJob("shop", "nightly-report")).status, 200);
            assert.equal((await client.unbindJob("shop", "nightly-report")).status, 404);
            await waitStatus(client, "shop", 204);
            jobs = scrapeJobs(renderedPrometheusYml(dirs, "shop"));
            assert.deepEqual(jobs.map((scrape) => scrape.job_name), ["prometheus", "thanos-sidecar"]);
            assert.ok(!renderedManifests(dirs, "shop").some((manifest) => manifest.kind === "Role"), "discovery Roles remain after unbind");
            assert.deepEqual(appTraffic(dirs, "shop", { name: "shop-web", namespace: "tsuru-shop", port: 8888 }), { scrape: false, query: false, storeApi: false }, "the instance's NetworkPolicy after unbind");
        });

        it("update to another plan resizes the instance", async () => {
            assert.equal((await client.update("shop", { team: "shop", plan: "nope" })).status, 400);
            const updated = await client.update("shop", { team: "shop", plan: "medium", tags: ["env=test"] }, pool);
            assert.equal(updated.status, 200, updated.text);
            assert.equal((await client.status("shop")).status, 202);
            await waitStatus(client, "shop", 204);
            const statefulSet = renderedManifests(dirs, "shop").find((manifest) => manifest.kind === "StatefulSet")!;
            const prometheus = statefulSet.spec.template.spec.containers.find((container: any) => container.name === "prometheus");
            assert.equal(prometheus.resources.limits.memory, "2560Mi"); // medium: 1024Mi for the process + 1536Mi tmpfs
            assert.equal((await client.update("ghost", { team: "shop", plan: "small" })).status, 404);
        });

        it("remove destroys the resources, then the stack: manifests gone, stack gone", async () => {
            const removed = await client.remove("shop", pool);
            assert.equal(removed.status, 200, removed.text);
            await waitFor("shop to be gone", async () => ((await client.status("shop")).status === 404 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250 });
            assert.equal(fs.existsSync(path.join(dirs.render, "shop")), false, "rendered manifests remain");
            assert.equal(fs.existsSync(path.join(dirs.backend, "workspace", "Pulumi.instance-shop.yaml")), false, "the stack's config remains");
            const stacks = path.join(dirs.backend, ".pulumi", "stacks", "prometheus-paas-instance");
            const left = fs.existsSync(stacks) ? fs.readdirSync(stacks).filter((file) => file.startsWith("instance-shop.")) : [];
            assert.deepEqual(left, [], "the stack remains in the backend");
        });
    });

    describe("JSON encoding", () => {
        it("goes through create, bind (namespace from the pool rule), status, remove", async () => {
            const json = client.withEncoding("json");
            assert.equal((await json.create({ name: "blog", team: "blog", plan: "small", parameters: { note: "json" } }, { name: "blog" })).status, 201);
            const bound = await json.bindApp("blog", { name: "blog-web", pool: "blog" });
            assert.equal(bound.status, 201, bound.text);
            assert.equal((bound.json as any).PROMETHEUS_INSTANCE, "blog");
            assert.equal((bound.json as any).PROMETHEUS_USERNAME, "blog");
            assert.match((bound.json as any).PROMETHEUS_PASSWORD, /^[A-Za-z0-9_-]{32}$/);
            assert.notEqual((bound.json as any).PROMETHEUS_PASSWORD, shopPassword, "another instance's bind returned the same password");
            await waitStatus(json, "blog", 204);
            const job = scrapeJobs(renderedPrometheusYml(dirs, "blog")).find((scrape) => scrape.job_name === "tsuru-app-blog-web");
            assert.deepEqual(job?.kubernetes_sd_configs[0].namespaces.names, ["tsuru-blog"]);
            assert.equal((await json.remove("blog")).status, 200);
            await waitFor("blog to be gone", async () => ((await json.status("blog")).status === 404 ? true : undefined), { timeoutMs: 120_000, intervalMs: 250 });
        });
    });

    describe("concurrency and crashes", () => {
        const names = Array.from({ length: 20 }, (_, index) => `tenant-${String(index).padStart(2, "0")}`);

        it("20 concurrent creates are all accepted; the broker SIGKILLed mid-provision and restarted finishes every one", async () => {
            const responses = await Promise.all(names.map((name) => client.create({ name, team: "load", plan: "small" })));
            assert.deepEqual(responses.map((response) => response.status), names.map(() => 201));
            // Kill it while some stacks are up and the others are running or queued.
            await waitFor("a first instance up", async () => {
                const statuses = await Promise.all(names.map(async (name) => (await client.status(name)).status));
                return statuses.includes(204) && statuses.includes(202) ? true : undefined;
            }, { timeoutMs: 180_000, intervalMs: 250 });
            broker.process.kill("SIGKILL");
            await broker.process.exited;

            broker = await startBroker(group, dirs, { name: "broker-restarted" });
            client = broker.client;
            const log = () => fs.readFileSync(broker.process.logFile, "utf8");
            assert.match(log(), /resuming instances whose last operation did not finish/);
            for (const name of names) await waitStatus(client, name, 204, 300_000);
            const states = await Promise.all(names.map(async (name) => {
                const info = (await client.info(name)).json as { label: string; value: string }[];
                return info.find((entry) => entry.label === "State")?.value;
            }));
            assert.deepEqual(states, names.map(() => "up"));
            // Same settings and objstore.yml: the instances already up are not re-applied.
            assert.doesNotMatch(log(), /re-applying instances recorded with other broker settings/);
            for (const name of names) assert.ok(renderedManifests(dirs, name).some((manifest) => manifest.kind === "StatefulSet"), `${name} has no StatefulSet`);
        });
    });
});
