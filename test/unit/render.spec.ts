import { strict as assert } from "assert";
import * as yaml from "js-yaml";
import { renderDatasources } from "../../components/grafana/datasources";
import { discoveryRules, renderKubernetesInstanceFiles, replicaPlaceholder } from "../../components/prometheus/kubernetes-spec";
import { instanceAlertRuleGroups, prometheusArgs, renderPrometheusConfig, tsuruAppScrapeJob } from "../../components/prometheus/render";
import { thanosCompactorSpec } from "../../components/thanos/kubernetes-spec";
import { compactorArgs, ignoreDeletionMarksDelay, queryArgs, renderObjstoreConfig, sidecarArgs, storeArgs } from "../../components/thanos/render";
import { renderHistoryFront } from "../../components/thanos/tenancy";
import { stablePasswordHash } from "../../components/prometheus/web-auth";
import { kubernetesInstance, minimalConfig } from "../support/fixtures";

const labels = { environment: "test", region: "us-east-1", product: "tsuru", replicaLabel: "prometheus_replica" };

describe("prometheus renderer", () => {
    const config = minimalConfig();
    const instance = kubernetesInstance(config);

    it("discovers every unit of a bound Tsuru app with role pod in the app's namespace", () => {
        const job = tsuruAppScrapeJob(instance.apps[0], instance.plan);
        assert.equal(job.job_name, "tsuru-app-checkout-api");
        assert.deepEqual(job.kubernetes_sd_configs, [{
            role: "pod",
            namespaces: { names: ["tsuru-pool-a"] },
            selectors: [{ role: "pod", label: "tsuru.io/app-name=checkout-api" }],
        }]);
        const relabel = job.relabel_configs!;
        assert.deepEqual(relabel[0], { source_labels: ["__meta_kubernetes_pod_label_tsuru_io_app_name"], regex: "checkout-api", action: "keep" });
        assert.ok(relabel.some((r) => r.source_labels?.[0] === "__meta_kubernetes_pod_label_tsuru_io_is_build" && r.action === "drop" && r.regex === "true"));
        assert.ok(relabel.some((r) => r.source_labels?.[0] === "__meta_kubernetes_pod_label_tsuru_io_is_isolated_run" && r.action === "drop"));
        const address = relabel.find((r) => r.target_label === "__address__");
        assert.deepEqual(address, { source_labels: ["__meta_kubernetes_pod_ip"], regex: "(.+)", target_label: "__address__", replacement: "$1:8888" });
        for (const target of ["app", "process", "pod", "namespace"]) {
            assert.ok(relabel.some((r) => r.target_label === target), `no ${target} label`);
        }
    });

    it("honours the app's port, path, scheme and process filter", () => {
        const job = tsuruAppScrapeJob({ name: "worker", namespace: "ns", port: 9100, path: "/internal/metrics", scheme: "https", processes: ["worker", "cron"] }, instance.plan);
        assert.equal(job.metrics_path, "/internal/metrics");
        assert.equal(job.scheme, "https");
        assert.equal(job.relabel_configs!.find((r) => r.target_label === "__address__")!.replacement, "$1:9100");
        assert.ok(job.relabel_configs!.some((r) => r.source_labels?.[0] === "__meta_kubernetes_pod_label_tsuru_io_app_process" && r.action === "keep" && r.regex === "worker|cron"));
    });

    it("scrapes app units whose /metrics sends no Content-Type as the Prometheus text format", () => {
        const document = yaml.load(renderKubernetesInstanceFiles({ instance, labels, alertmanagers: [] }).prometheusYml) as { scrape_configs: { job_name: string; fallback_scrape_protocol?: string }[] };
        const appJobs = document.scrape_configs.filter((job) => job.job_name.startsWith("tsuru-app-"));
        assert.ok(appJobs.length > 0);
        for (const job of appJobs) assert.equal(job.fallback_scrape_protocol, "PrometheusText0.0.4", job.job_name);
    });

    it("applies the plan's scrape limits to every app job", () => {
        const job = tsuruAppScrapeJob(instance.apps[0], instance.plan);
        assert.equal(job.sample_limit, 20000);
        assert.equal(job.label_limit, 64);
        assert.equal(job.target_limit, 50);
    });

    it("renders external labels with tenant, team and a replica placeholder, plus self-scrape jobs", () => {
        const files = renderKubernetesInstanceFiles({ instance, labels, alertmanagers: [] });
        const document = yaml.load(files.prometheusYml) as any;
        assert.deepEqual(document.global.external_labels, {
            environment: "test", region: "us-east-1", product: "tsuru", tenant: "payments", team: "payments", prometheus_replica: replicaPlaceholder,
        });
        assert.deepEqual(document.scrape_configs.map((job: any) => job.job_name), ["prometheus", "thanos-sidecar", "tsuru-app-checkout-api"]);
        assert.deepEqual(document.rule_files, ["/etc/prometheus/rules/*.yml"]);
        assert.equal(document.alerting, undefined);
    });

    it("renders Alertmanager targets from URLs", () => {
        const text = renderPrometheusConfig({
            externalLabels: { tenant: "x" }, scrapeInterval: "30s", scrapeTimeout: "10s", scrapeJobs: [], ruleDir: "/rules",
            alertmanagers: ["http://alertmanager.monitoring:9093", "https://am.example.com/prefix/"], webAuth: { username: "x", passwordFile: "/web/password" },
        });
        assert.deepEqual((yaml.load(text) as any).alerting.alertmanagers, [
            { scheme: "http", static_configs: [{ targets: ["alertmanager.monitoring:9093"] }] },
            { scheme: "https", path_prefix: "/prefix", static_configs: [{ targets: ["am.example.com"] }] },
        ]);
    });

    it("keeps tenant rules in their own file beside the instance alerts", () => {
        const withRules = kubernetesInstance(minimalConfig({
            instances: [{ name: "p", plan: "small", team: "t", rules: [{ name: "g", rules: [{ record: "r:up", expr: "sum(up)" }] }] }],
        }));
        const files = renderKubernetesInstanceFiles({ instance: withRules, labels, alertmanagers: [] }).ruleFiles;
        assert.deepEqual(Object.keys(files).sort(), ["instance-alerts.yml", "tenant-rules.yml"]);
        assert.deepEqual(yaml.load(files["tenant-rules.yml"]), { groups: [{ name: "g", rules: [{ record: "r:up", expr: "sum(up)" }] }] });
    });

    it("derives the tmpfs alert threshold from the plan", () => {
        const rule = instanceAlertRuleGroups(instance)[0].rules.find((r) => r.alert === "PrometheusTSDBNearlyFull")!;
        assert.match(rule.expr, new RegExp(`/ ${512 * 1024 * 1024} > 0.85$`));
        const alerts = instanceAlertRuleGroups(instance)[0].rules.map((r) => r.alert);
        assert.deepEqual(alerts, ["PrometheusTargetDown", "PrometheusTSDBNearlyFull", "PrometheusConfigReloadFailed", "ThanosSidecarUploadFailing"]);
    });

    it("runs Prometheus with 2h/2h blocks, small chunk segments, lifecycle behind the web config and the plan's retention", () => {
        const args = prometheusArgs({ configFile: "/c/prometheus.yml", tsdbPath: "/prometheus", plan: instance.plan, webConfigFile: "/web/web.yml" });
        for (const flag of ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--storage.tsdb.max-block-chunk-segment-size=16MB", "--web.enable-lifecycle", "--web.config.file=/web/web.yml",
            "--storage.tsdb.retention.time=12h", "--storage.tsdb.retention.size=384MB", "--storage.tsdb.path=/prometheus"]) {
            assert.ok(args.includes(flag), `missing ${flag} in ${args.join(" ")}`);
        }
    });
});

describe("thanos renderer", () => {
    it("renders objstore.yml with the SDK credential chain when no keys are given", () => {
        const document = yaml.load(renderObjstoreConfig({ bucket: "b", endpoint: "s3.eu-west-1.amazonaws.com", region: "eu-west-1", kmsKeyArn: "arn:aws:kms:k" })) as any;
        assert.equal(document.type, "S3");
        assert.equal(document.config.aws_sdk_auth, true);
        assert.equal(document.config.access_key, undefined);
        assert.deepEqual(document.config.sse_config, { type: "SSE-KMS", kms_key_id: "arn:aws:kms:k" });
        assert.equal(document.config.bucket_lookup_type, "auto");
    });

    it("renders static credentials and path-style lookup for an existing endpoint", () => {
        const document = yaml.load(renderObjstoreConfig({ bucket: "b", endpoint: "minio:9000", region: "us-east-1", pathStyle: true, insecure: true, accessKey: "ak", secretKey: "sk" })) as any;
        assert.deepEqual(document.config, {
            bucket: "b", endpoint: "minio:9000", region: "us-east-1", insecure: true, signature_version2: false,
            bucket_lookup_type: "path", access_key: "ak", secret_key: "sk",
        });
    });

    it("gives the sidecar envsubst reloading of config and rules, through the http reloader with the instance's credentials", () => {
        const args = sidecarArgs({ tsdbPath: "/p", objstoreFile: "/o.yml", configTemplate: "/t.tmpl", configOut: "/out.yml", ruleDir: "/rules", prometheusHttpClientFile: "/web/client.yml" });
        assert.deepEqual(args.slice(0, 1), ["sidecar"]);
        for (const flag of ["--prometheus.http-client-file=/web/client.yml", "--reloader.method=http", "--reloader.config-file=/t.tmpl", "--reloader.config-envsubst-file=/out.yml", "--reloader.rule-dir=/rules", "--tsdb.path=/p", "--objstore.config-file=/o.yml", "--prometheus.url=http://localhost:9090"]) {
            assert.ok(args.includes(flag), flag);
        }
    });

    it("deduplicates on the replica label in query, downsamples automatically (history past the raw retention) and passes each endpoint", () => {
        const args = queryArgs({ endpoints: ["dnssrv+_grpc._tcp.a", "dnssrv+_grpc._tcp.b"], replicaLabel: "prometheus_replica", audience: "platform" });
        assert.ok(args.includes("--query.replica-label=prometheus_replica"));
        assert.ok(args.includes("--query.auto-downsampling"));
        assert.deepEqual(args.filter((a) => a.startsWith("--endpoint=")), ["--endpoint=dnssrv+_grpc._tcp.a", "--endpoint=dnssrv+_grpc._tcp.b"]);
    });

    it("tenancy: the history front authenticates before anything but its health path, forwards only the enforced APIs with the tenant set, and refuses a hash that is not bcrypt or an empty tenant", () => {
        const hash = stablePasswordHash({ username: "shop", password: "shop-password-0123456789" });
        const config = JSON.parse(renderHistoryFront({ tenant: "shop", username: "shop", passwordHash: hash, upstream: "q:9090" }));
        const routes = config.apps.http.servers.history.routes;
        assert.deepEqual(routes.map((route: any) => route.handle[0].handler), ["static_response", "authentication", "reverse_proxy", "reverse_proxy", "static_response"]);
        assert.deepEqual(routes[0].match, [{ path: ["/-/healthy"] }]);
        assert.equal(routes[1].match, undefined, "authentication applies to every other path");
        const forwarded = ["/api/v1/query", "/api/v1/query_range", "/api/v1/query_exemplars", "/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values"];
        const refused = ["/api/v1/targets", "/api/v1/metadata", "/api/v1/rules", "/api/v1/alerts", "/api/v1/stores", "/api/v1/status/tsdb", "/api/v1/label/../values", "/api/v1/query/", "/"];
        const matches = (path: string) => routes.slice(2, 4).some((route: any) => new RegExp(route.match[0].path_regexp.pattern).test(path));
        assert.deepEqual(forwarded.filter((path) => !matches(path)), []);
        assert.deepEqual(refused.filter(matches), []);
        assert.equal(routes[4].handle[0].status_code, 403);
        assert.deepEqual(routes[2].handle[0].headers.request, { set: { "THANOS-TENANT": ["shop"] }, delete: ["Authorization"] });
        assert.equal(config.admin.disabled, true);
        assert.throws(() => renderHistoryFront({ tenant: "shop", username: "shop", passwordHash: "plaintext", upstream: "q:9090" }), /password hash of 'shop' is not a bcrypt hash/);
        assert.throws(() => renderHistoryFront({ tenant: "", username: "shop", passwordHash: hash, upstream: "q:9090" }), /tenant and username must not be empty/);
    });

    it("tenancy: the tenants' Query enforces the tenant label from Thanos' own header and keeps gRPC on loopback; the platform's does neither", () => {
        const tenants = queryArgs({ endpoints: [], replicaLabel: "prometheus_replica", audience: "tenants" });
        const platform = queryArgs({ endpoints: [], replicaLabel: "prometheus_replica", audience: "platform" });
        assert.deepEqual(tenants.filter((arg) => !platform.includes(arg)), ["--grpc-address=localhost:10901", "--query.enforce-tenancy", "--query.tenant-label-name=tenant", "--query.tenant-header=THANOS-TENANT"]);
        assert.deepEqual(platform.filter((arg) => !tenants.includes(arg)), ["--grpc-address=0.0.0.0:10901"]);
    });

    it("passes retention per resolution, the delays and replica deduplication (penalty) to the compactor", () => {
        const args = compactorArgs({ dataDir: "/d", objstoreFile: "/o", thanos: minimalConfig().thanos });
        for (const flag of ["compact", "--wait", "--retention.resolution-raw=30d", "--retention.resolution-5m=90d", "--retention.resolution-1h=1y", "--delete-delay=48h", "--consistency-delay=30m", "--deduplication.replica-label=prometheus_replica", "--deduplication.func=penalty"]) {
            assert.ok(args.includes(flag), flag);
        }
    });

    it("the store ignores blocks marked for deletion after half the compactor's delete delay", () => {
        const thanos = minimalConfig().thanos;
        assert.ok(storeArgs({ dataDir: "/d", objstoreFile: "/o", thanos }).includes("--ignore-deletion-marks-delay=1d"));
        assert.equal(ignoreDeletionMarksDelay({ deleteDelay: "0s" }), "0s");
        assert.equal(ignoreDeletionMarksDelay({ deleteDelay: "1h" }), "30m");
        assert.equal(ignoreDeletionMarksDelay({ deleteDelay: "5m" }), "150s");
    });
});

describe("compactor scratch on Kubernetes", () => {
    const compactor = (scratch: Record<string, string>) => thanosCompactorSpec(minimalConfig({ thanos: { compactor: { scratch } } }).thanos, "thanos", "objstore") as any;

    it("an emptyDir whose size is also the container's ephemeral-storage request and limit (the scheduler reserves it)", () => {
        const spec = compactor({ size: "200Gi" });
        const container = spec.template.spec.containers[0];
        assert.equal(container.resources.requests["ephemeral-storage"], "200Gi");
        assert.equal(container.resources.limits["ephemeral-storage"], "200Gi");
        assert.deepEqual(spec.template.spec.volumes.find((volume: { name: string }) => volume.name === "data").emptyDir, { sizeLimit: "200Gi" });
        assert.equal(spec.volumeClaimTemplates, undefined);
    });

    it("with a storage class, a volume claim per pod of that size, deleted with the StatefulSet, and no emptyDir", () => {
        const spec = compactor({ size: "300Gi", storageClass: "fast-ssd" });
        assert.deepEqual(spec.volumeClaimTemplates, [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "fast-ssd", resources: { requests: { storage: "300Gi" } } } }]);
        assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Delete" });
        assert.equal(spec.template.spec.volumes.some((volume: { name: string }) => volume.name === "data"), false);
        assert.ok(spec.template.spec.containers[0].volumeMounts.some((mount: { name: string }) => mount.name === "data"));
        assert.equal(spec.template.spec.containers[0].resources.requests["ephemeral-storage"], undefined);
    });
});

describe("grafana datasources renderer", () => {
    it("renders a provisioning file Grafana accepts", () => {
        const document = yaml.load(renderDatasources([{ name: "Thanos", url: "http://thanos-query:9090", flavor: "Thanos", isDefault: true }])) as any;
        assert.equal(document.apiVersion, 1);
        assert.deepEqual(document.datasources[0], {
            name: "Thanos", type: "prometheus", access: "proxy", url: "http://thanos-query:9090", isDefault: true, editable: false,
            jsonData: { prometheusType: "Thanos", timeInterval: "30s" },
        });
    });
});

describe("Kubernetes discovery RBAC", () => {
    const job = (role: string) => ({ job_name: role, kubernetes_sd_configs: [{ role }] });

    it("grants only what the jobs' discovery roles read: pods for role pod", () => {
        assert.deepEqual(discoveryRules([job("pod"), job("pod")]), [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
        assert.deepEqual(discoveryRules([{ job_name: "static", static_configs: [{ targets: ["x:1"] }] }]), []);
    });

    it("widens only for a job whose role needs more (endpoints reads services and pods too)", () => {
        assert.deepEqual(discoveryRules([job("pod"), job("endpointslice")]), [
            { apiGroups: [""], resources: ["pods", "services"], verbs: ["get", "list", "watch"] },
            { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] },
        ]);
        assert.throws(() => discoveryRules([job("node")]), /no RBAC rule for Kubernetes discovery role 'node'/);
    });
});
