/**
 * Tenancy of history through the real tools, as the program renders them (DESIGN.md test layer 5): two tenants'
 * Prometheus pods with their sidecars (live heads) and a block of each tenant in the bucket (history) behind the
 * store gateway; the platform's Query and the tenants' Query over the same endpoints; each instance's history front
 * (Caddy) as its pod runs it. A tenant reaches history only through its front, with its instance's credentials.
 */
import { strict as assert } from "assert";
import * as path from "path";
import * as yaml from "js-yaml";
import { queryHttpPort, thanosPorts } from "../../components/thanos/defaults";
import { basicAuth, Credentials, DataPathStage, MatrixSeries, metricValue, VectorSample } from "../support/data-path";
import type { LocalPod } from "../support/local-pods";
import { findManifest } from "../support/manifests";
import { runToCompletion, waitFor, waitForHttp } from "../support/processes";
import { prometheusApi } from "../support/prometheus";
import { completedBlockRange, createBlocks, openMetricsGauge, TimeRange } from "../support/tsdb";
import { toolBinary } from "../support/tools";

const metric = "paas_e2e_tenancy";
const stepMs = 60_000;

interface ApiAnswer<T> {
    status: number;
    body: { status?: string; data?: T; warnings?: string[]; error?: string } | undefined;
    text: string;
}

describe("e2e: tenancy of history (two tenants' sidecars and bucket blocks, store, the platform's and the tenants' Query, each instance's history front, as rendered)", function () {
    this.timeout(6 * 60_000);
    const stage = new DataPathStage("tenancy");
    const { config, sandbox } = stage;
    // A complete 2h block of each tenant, older than the heads: history served by the store gateway only.
    const range: TimeRange = completedBlockRange(Date.now(), 6 * 3600_000);
    const tenants = ["shop", "blog"] as const;
    const pods: Record<string, LocalPod[]> = {};
    let platformQuery: LocalPod;
    let tenantsQuery: LocalPod;

    const front = (tenant: string) => pods[tenant][0];
    const credentials = (tenant: string): Credentials => stage.credentialsOf(front(tenant));
    const frontUrl = (tenant: string, apiPath: string) => front(tenant).url(9091, apiPath);
    /** One request to an HTTP API; the body parsed when it is JSON. */
    const call = async <T>(url: string, init: RequestInit = {}): Promise<ApiAnswer<T>> => {
        const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
        const text = await response.text();
        let body: ApiAnswer<T>["body"];
        try { body = JSON.parse(text); } catch { body = undefined; }
        return { status: response.status, body, text };
    };
    const asTenant = (tenant: string, headers: Record<string, string> = {}): RequestInit => ({ headers: { ...basicAuth(credentials(tenant)).headers as Record<string, string>, ...headers } });
    /** A successful answer's data; fails on anything else, warnings included (a partial answer proves nothing). */
    const data = async <T>(url: string, init: RequestInit = {}): Promise<T> => {
        const answer = await call<T>(url, init);
        assert.equal(answer.status, 200, `${url}: ${answer.text}`);
        assert.equal(answer.body?.status, "success", `${url}: ${answer.text}`);
        return answer.body!.data as T;
    };
    const tenantsOf = (series: readonly { metric: Record<string, string> }[]) => [...new Set(series.map((item) => item.metric.tenant))].sort();
    const rangeParams = (query: string) => new URLSearchParams({ query, start: String(range.start / 1000), end: String((range.end - 1) / 1000), step: "300" });

    before(async () => {
        await stage.up();
        const { cluster } = stage;
        // The fronts' upstream names the tenants' Query Service: its pod is scheduled first, so the name resolves.
        [tenantsQuery] = await cluster.schedule("Deployment", "thanos-query-tenants");
        for (const statefulSet of stage.prometheusStatefulSets()) {
            const scheduled = await cluster.schedule("StatefulSet", statefulSet);
            pods[stage.instanceOf(scheduled[0]).name] = scheduled;
        }
        assert.deepEqual(Object.keys(pods).sort(), [...tenants].sort());
        for (const tenant of tenants) {
            // One replica per tenant: Query deduplicates replicas anyway, and the second's sidecar stays down.
            const pod = front(tenant);
            await pod.runInitContainers();
            await pod.start("prometheus");
            await pod.start("thanos-sidecar");
            await pod.start("history");
            await waitForHttp(pod.url(thanosPorts.http, "/-/ready"), { timeoutMs: 60_000, process: pod.processes.get("thanos-sidecar") });
            await waitFor(`${pod.name}'s front to pass its readiness probe as rendered`, async () => (await pod.probe("history", "readinessProbe")) || undefined, { timeoutMs: 30_000, intervalMs: 300, process: pod.processes.get("history") });
            // The tenant's history: a block with its labels, as its sidecar ships them; blog's series has a label shop's has not.
            const labels = { ...stage.expectedExternalLabels(pod), [config.thanos.replicaLabel]: `${tenant}-history` };
            const series = [{ labels: { series: "a", ...(tenant === "blog" ? { only_in_blog: "secret" } : {}) }, value: (index: number) => (tenant === "blog" ? 1000 : 0) + index }];
            const [block] = await createBlocks(openMetricsGauge(metric, series, range, stepMs), path.join(sandbox.root, "blocks", tenant));
            await runToCompletion("thanos tools bucket upload-blocks", toolBinary("thanos"), [
                "tools", "bucket", "upload-blocks", `--objstore.config-file=${stage.objstoreFile(pod)}`, `--path=${path.dirname(block)}`,
                ...Object.entries(labels).map(([name, value]) => `--label=${name}="${value}"`),
            ], { timeoutMs: 60_000 });
        }
        platformQuery = await stage.startStoreAndQuery(tenants.length);
        const process = await tenantsQuery.start("query");
        for (const query of [platformQuery, tenantsQuery]) {
            await waitFor(`${query.name} to see both sidecars and the store with both blocks`, async () => {
                const stores = await prometheusApi<Record<string, { lastError: string | null; minTime: number }[]>>(query.url(queryHttpPort, "/api/v1/stores"));
                const healthy = Object.values(stores).flat().filter((store) => store.lastError === null);
                return (healthy.length === tenants.length + 1 && (stores.store ?? []).some((store) => store.minTime <= range.start)) || undefined;
            }, { timeoutMs: 60_000, intervalMs: 500, process });
        }
        // Live heads: each Prometheus's first scrape of itself and its sidecar (within one 30 s interval of its start).
        await waitFor("both tenants' first scrapes", async () => {
            const live = await prometheusApi<{ result: VectorSample[] }>(platformQuery.url(queryHttpPort, `/api/v1/query?${new URLSearchParams({ query: "up" })}`));
            return tenantsOf(live.result).length === tenants.length || undefined;
        }, { timeoutMs: 90_000, intervalMs: 1_000 });
        assert.equal(await metricValue(stage.cluster.pod("thanos-store-0").url(thanosPorts.http, "/metrics"), "thanos_bucket_store_blocks_loaded"), 2);
        stage.failed = false;
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") stage.failed = true;
    });

    after(() => stage.stop());

    it("tenancy: with shop's credentials its front returns only shop's series on the instant, range, series, labels and label-values APIs (live heads and bucket history)", async () => {
        const live = await data<{ result: VectorSample[] }>(frontUrl("shop", `/api/v1/query?${new URLSearchParams({ query: "up" })}`), asTenant("shop"));
        assert.ok(live.result.length > 0, "shop's live series through its front");
        assert.deepEqual(tenantsOf(live.result), ["shop"]);
        // POST form-encoded, as Grafana sends range queries.
        const history = await data<{ result: MatrixSeries[] }>(frontUrl("shop", "/api/v1/query_range"), {
            method: "POST", body: rangeParams(metric), headers: { ...asTenant("shop").headers as Record<string, string>, "Content-Type": "application/x-www-form-urlencoded" },
        });
        assert.equal(history.result.length, 1, JSON.stringify(history.result.map((series) => series.metric)));
        assert.equal(history.result[0].metric.tenant, "shop");
        assert.ok(history.result[0].values.every(([, value]) => Number(value) < 1000), "shop's values, not blog's");
        const series = await data<Record<string, string>[]>(frontUrl("shop", `/api/v1/series?${new URLSearchParams({ "match[]": metric, start: String(range.start / 1000), end: String(range.end / 1000) })}`), asTenant("shop"));
        assert.deepEqual(series.map((labels) => labels.tenant), ["shop"]);
        const labelNames = await data<string[]>(frontUrl("shop", `/api/v1/labels?${new URLSearchParams({ start: String(range.start / 1000) })}`), asTenant("shop"));
        assert.ok(labelNames.includes("series") && !labelNames.includes("only_in_blog"), labelNames.join(", "));
        assert.deepEqual(await data<string[]>(frontUrl("shop", `/api/v1/label/tenant/values?${new URLSearchParams({ start: String(range.start / 1000) })}`), asTenant("shop")), ["shop"]);
        assert.deepEqual(await data<string[]>(frontUrl("shop", `/api/v1/label/only_in_blog/values?${new URLSearchParams({ start: String(range.start / 1000) })}`), asTenant("shop")), []);
        const exemplars = await data<unknown[]>(frontUrl("shop", `/api/v1/query_exemplars?${new URLSearchParams({ query: metric, start: String(range.start / 1000), end: String(range.end / 1000) })}`), asTenant("shop"));
        assert.deepEqual(exemplars, []);
    });

    it("tenancy: a query naming tenant=\"blog\" (or matching every tenant) returns nothing of blog", async () => {
        for (const query of [`${metric}{tenant="blog"}`, `${metric}{tenant=~".+"}`, `${metric}{tenant!="shop"}`, `${metric}{only_in_blog="secret"}`, `sum by (tenant) (${metric})`]) {
            const result = await data<{ result: MatrixSeries[] }>(frontUrl("shop", `/api/v1/query_range?${rangeParams(query)}`), asTenant("shop"));
            assert.ok(result.result.every((series) => series.metric.tenant === "shop" && series.values.every(([, value]) => Number(value) < 1000)), `${query}: ${JSON.stringify(result.result)}`);
        }
        const series = await data<Record<string, string>[]>(frontUrl("shop", `/api/v1/series?${new URLSearchParams({ "match[]": `${metric}{tenant="blog"}`, start: String(range.start / 1000), end: String(range.end / 1000) })}`), asTenant("shop"));
        assert.ok(series.every((labels) => labels.tenant === "shop"), JSON.stringify(series));
    });

    it("tenancy: shop's credentials with a forged THANOS-TENANT: blog header (any case) or a tenant parameter return nothing of blog", async () => {
        for (const headers of [{ "THANOS-TENANT": "blog" }, { "thanos-tenant": "blog" }, { "X-Scope-OrgID": "blog", "X-Tenant": "blog" }] as Record<string, string>[]) {
            const result = await data<{ result: MatrixSeries[] }>(frontUrl("shop", `/api/v1/query_range?${rangeParams(metric)}`), asTenant("shop", headers));
            assert.deepEqual(tenantsOf(result.result), ["shop"], JSON.stringify(headers));
        }
        const withParameter = await data<{ result: MatrixSeries[] }>(frontUrl("shop", `/api/v1/query_range?${rangeParams(metric)}&tenant=blog`), asTenant("shop"));
        assert.deepEqual(tenantsOf(withParameter.result), ["shop"]);
        // The tenants' Query itself trusts the header as sent: why tenants reach it only through their fronts.
        const direct = await data<{ result: MatrixSeries[] }>(tenantsQuery.url(queryHttpPort, `/api/v1/query_range?${rangeParams(metric)}`), { headers: { "THANOS-TENANT": "blog" } });
        assert.deepEqual(tenantsOf(direct.result), ["blog"]);
        // Blog's own front, for contrast: the same request returns blog's series only.
        const blog = await data<{ result: MatrixSeries[] }>(frontUrl("blog", `/api/v1/query_range?${rangeParams(metric)}`), asTenant("blog", { "THANOS-TENANT": "shop" }));
        assert.deepEqual(tenantsOf(blog.result), ["blog"]);
    });

    it("tenancy: no credentials, a wrong password or another instance's credentials get 401 on every path", async () => {
        for (const apiPath of ["/api/v1/query?query=up", "/api/v1/targets", "/api/v1/status/buildinfo", "/"]) {
            assert.equal((await call(frontUrl("shop", apiPath))).status, 401, apiPath);
            assert.equal((await call(frontUrl("shop", apiPath), basicAuth({ username: "shop", password: "not-the-password-of-shop" }))).status, 401, apiPath);
            assert.equal((await call(frontUrl("shop", apiPath), asTenant("blog"))).status, 401, `${apiPath} with blog's credentials`);
        }
    });

    it("tenancy: targets, metadata, rules, alerts, stores, status, the UI and the admin API are refused to an authenticated tenant (403), never forwarded", async () => {
        for (const apiPath of [
            "/api/v1/targets", "/api/v1/metadata", "/api/v1/rules", "/api/v1/alerts", "/api/v1/stores", "/api/v1/status/tsdb", "/api/v1/status/flags",
            "/api/v1/status/buildinfo", "/api/v1/status/config", "/api/v1/targets/metadata", "/", "/graph", "/-/ready", "/metrics",
            "//api/v1/targets", "/api/v1/query/../targets", "/api/v1/label/../../v1/targets/values",
        ]) {
            const answer = await call(frontUrl("shop", apiPath), asTenant("shop"));
            assert.equal(answer.status, 403, `${apiPath}: ${answer.status} ${answer.text.slice(0, 200)}`);
        }
        const admin = await call(frontUrl("shop", "/api/v1/admin/tsdb/snapshot"), { ...asTenant("shop"), method: "POST" });
        assert.equal(admin.status, 403);
        // The platform's Query answers targets with every tenant's: the refusal is the front's, not Query's.
        const targets = await data<{ activeTargets: { labels: Record<string, string> }[] }>(platformQuery.url(queryHttpPort, "/api/v1/targets"));
        assert.deepEqual(tenantsOf(targets.activeTargets.map((target) => ({ metric: target.labels }))), ["blog", "shop"]);
    });

    it("tenancy: the platform's Query over the same sidecars and store returns both tenants, history and live", async () => {
        const history = await data<{ result: MatrixSeries[] }>(platformQuery.url(queryHttpPort, `/api/v1/query_range?${rangeParams(metric)}`));
        assert.deepEqual(tenantsOf(history.result), ["blog", "shop"]);
        const live = await data<{ result: VectorSample[] }>(platformQuery.url(queryHttpPort, `/api/v1/query?${new URLSearchParams({ query: "up" })}`));
        assert.deepEqual(tenantsOf(live.result), ["blog", "shop"]);
    });

    it("tenancy: a new password reaches the running front without a restart (caddy --watch on the refreshed Secret), as it reaches Prometheus", async () => {
        const before = credentials("shop");
        const rotated = "tenancy-rotated-password-0123456789";
        await stage.stack.setConfig("prometheus-paas:instancePasswords.shop", { value: rotated, secret: true }, true);
        await stage.stack.up();
        stage.cluster.reloadManifests();
        const process = front("shop").processes.get("history")!;
        assert.ok(front("shop").refreshVolumes().includes("web/history-front.json"), "the kubelet's refresh of the web Secret");
        const asRotated = basicAuth({ username: "shop", password: rotated });
        await waitFor("the front to take the new password", async () => (await call(frontUrl("shop", `/api/v1/query?query=up`), asRotated)).status === 200 || undefined, { timeoutMs: 30_000, intervalMs: 500, process });
        assert.equal((await call(frontUrl("shop", "/api/v1/query?query=up"), basicAuth(before))).status, 401, "the old password");
        assert.equal((await call(front("shop").url(9090, "/api/v1/query?query=up"), asRotated)).status, 200, "Prometheus re-reads web.yml too");
        assert.equal(front("shop").processes.get("history"), process, "the same process");
        assert.equal(process.hasExited, false, "still running");
    });

    it("tenancy: each instance's rendered Grafana datasources reach its own Prometheus and its history front with its credentials, and no password is in a ConfigMap", async () => {
        const { cluster } = stage;
        for (const tenant of tenants) {
            const secret = findManifest(cluster.manifests, "Secret", `grafana-datasource-prometheus-${tenant}`);
            const file = secret.stringData?.[`prometheus-${tenant}.yaml`] ?? Buffer.from(secret.data[`prometheus-${tenant}.yaml`], "base64").toString("utf8");
            const sources = (yaml.load(file) as { datasources: { name: string; url: string; basicAuthUser: string; secureJsonData: { basicAuthPassword: string } }[] }).datasources;
            assert.deepEqual(sources.map((source) => source.name), [`Prometheus ${tenant} (${config.environment})`, `Prometheus ${tenant} history (${config.environment})`]);
            for (const source of sources) {
                assert.deepEqual([source.basicAuthUser, source.secureJsonData.basicAuthPassword], [tenant, credentials(tenant).password]);
                // The Service's host:port as the cluster routes it: to this tenant's pod.
                const url = `http://${cluster.resolveServiceAddresses(new URL(source.url).host)}`;
                const answer = await data<{ result: VectorSample[] }>(`${url}/api/v1/query?${new URLSearchParams({ query: "up" })}`, basicAuth({ username: source.basicAuthUser, password: source.secureJsonData.basicAuthPassword }));
                assert.ok(answer.result.length > 0, source.name);
                // Prometheus itself has no tenant label in its TSDB (it is external); the history front adds it.
                assert.ok(answer.result.every((sample) => sample.metric.tenant === undefined || sample.metric.tenant === tenant), `${source.name}: ${JSON.stringify(tenantsOf(answer.result))}`);
            }
        }
        const passwords = tenants.map((tenant) => credentials(tenant).password);
        for (const configMap of cluster.manifests.filter((manifest) => manifest.kind === "ConfigMap")) {
            const text = JSON.stringify(configMap.data ?? {});
            assert.ok(passwords.every((password) => !text.includes(password)), `a password in ConfigMap ${configMap.metadata.name}`);
        }
    });
});
