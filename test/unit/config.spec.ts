import { strict as assert } from "assert";
import { parseStackConfig } from "../../components/config/stack";
import { scrapeTimeout } from "../../components/plans";
import { assertProblem, problemsOf } from "../support/config-problems";
import { minimalRawConfig } from "../support/fixtures";

function withInstance(patch: Record<string, unknown>): Record<string, unknown> {
    const raw = minimalRawConfig();
    const [instance] = raw.instances as Record<string, unknown>[];
    return { ...raw, instances: [{ ...instance, ...patch }] };
}

describe("stack config", () => {
    it("applies defaults to a minimal stack", () => {
        const config = parseStackConfig(minimalRawConfig());
        assert.equal(config.product, "tsuru");
        assert.equal(config.kubernetes.namespace, "prometheus");
        assert.equal(config.thanos.replicaLabel, "prometheus_replica");
        assert.equal(config.thanos.compactor.replicas, 1);
        const [instance] = config.instances;
        assert.equal(instance.replicas, 1);
        assert.equal(instance.platform, "kubernetes");
        assert.equal(instance.plan.name, "small");
        assert.deepEqual(instance.apps[0], { name: "checkout-api", namespace: "tsuru-pool-a", port: 8888, path: "/metrics", scheme: "http" });
        assert.equal(config.grafana.namespace, "prometheus");
        assert.equal(config.bucketCredentials, undefined);
    });

    it("derives the scrape timeout from the interval: 10s, or the interval when shorter", () => {
        const plans = parseStackConfig({ ...minimalRawConfig(), plans: { small: { scrapeInterval: "5s" }, medium: { scrapeInterval: "1m" }, large: { scrapeInterval: "20s", scrapeTimeout: "15s" } } }).plans;
        assert.deepEqual([scrapeTimeout(plans.small), scrapeTimeout(plans.medium), scrapeTimeout(plans.large)], ["5s", "10s", "15s"]);
    });

    it("merges plan overrides onto the built-in catalog and adds new plans", () => {
        const config = parseStackConfig({
            ...minimalRawConfig(),
            plans: {
                small: { scrapeInterval: "15s" },
                huge: {
                    description: "Huge", cpu: "4", memory: "16Gi", tmpfs: "8Gi", retentionTime: "24h", retentionSize: "6Gi",
                    scrapeInterval: "30s", sampleLimit: 500000, labelLimit: 64, targetLimit: 2000,
                },
            },
        });
        assert.equal(config.plans.small.scrapeInterval, "15s");
        assert.equal(config.plans.small.tmpfsMiB, 512);
        assert.equal(config.plans.huge.tmpfsMiB, 8192);
        assert.equal(config.plans.huge.retentionSizeMiB, 6144);
    });

    describe("rejects bad input with the offending key and what is allowed", () => {
        it("a Grafana organization that is not a positive id, or a key that is not a team name", () => {
            assertProblem({ ...minimalRawConfig(), grafana: { orgs: { payments: 0 } } }, "prometheus-paas:grafana.orgs.payments", "Grafana organization id");
            assertProblem({ ...minimalRawConfig(), grafana: { orgs: { "-bad team": 2 } } }, "prometheus-paas:grafana.orgs", "Tsuru team name");
        });

        it("an unknown plan name", () => {
            assertProblem(withInstance({ plan: "gigantic" }), "prometheus-paas:instances[0].plan", "unknown plan 'gigantic'", "allowed: small, medium, large, xlarge");
        });

        it("an instance name that is not a DNS-1123 label", () => {
            assertProblem(withInstance({ name: "My_Prom" }), "prometheus-paas:instances[0].name", "DNS-1123 label");
        });

        it("an instance name longer than 40 characters", () => {
            assertProblem(withInstance({ name: "a".repeat(41) }), "prometheus-paas:instances[0].name", "at most 40 characters");
        });

        it("an app name that is not a DNS-1123 label", () => {
            assertProblem(withInstance({ apps: [{ name: "Checkout_API", namespace: "tsuru" }] }), "prometheus-paas:instances[0].apps[0].name", "DNS-1123 label");
        });

        it("an app namespace that is not a DNS-1123 label", () => {
            assertProblem(withInstance({ apps: [{ name: "checkout", namespace: "Tsuru.Pool" }] }), "prometheus-paas:instances[0].apps[0].namespace", "DNS-1123 label");
        });

        it("an invalid Prometheus label name in externalLabels", () => {
            assertProblem(withInstance({ externalLabels: { "cost-center": "x" } }), "prometheus-paas:instances[0].externalLabels.cost-center", "[a-zA-Z_][a-zA-Z0-9_]*");
        });

        it("a reserved '__' label name", () => {
            assertProblem(withInstance({ externalLabels: { __meta: "x" } }), "externalLabels.__meta", "reserved by Prometheus");
        });

        it("an external label the platform sets itself", () => {
            assertProblem(withInstance({ externalLabels: { tenant: "other" } }), "externalLabels.tenant", "reserved: environment, region, product, tenant, team, prometheus_replica");
        });

        it("an invalid replica label name", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { replicaLabel: "replica-name" } }, "prometheus-paas:thanos.replicaLabel", "Prometheus label name");
        });

        it("duplicate instances", () => {
            const raw = minimalRawConfig();
            const [instance] = raw.instances as unknown[];
            assertProblem({ ...raw, instances: [instance, instance] }, "prometheus-paas:instances[1].name", "duplicate instance 'payments'");
        });

        it("an app bound twice to one instance", () => {
            const app = { name: "checkout", namespace: "tsuru" };
            assertProblem(withInstance({ apps: [app, app] }), "instances[0].apps[1].name", "bound twice");
        });

        it("a retention size equal to the tmpfs size", () => {
            assertProblem({ ...minimalRawConfig(), plans: { small: { retentionSize: "512Mi" } } },
                "prometheus-paas:plans.small.retentionSize", "must stay below the tmpfs size 512MB", "at most 75% of tmpfs (384Mi)");
        });

        it("a retention size above the tmpfs size", () => {
            assertProblem({ ...minimalRawConfig(), plans: { medium: { tmpfs: "1Gi", retentionSize: "2Gi" } } }, "plans.medium.retentionSize", "below the tmpfs size");
        });

        it("a retention time shorter than three 2h blocks", () => {
            assertProblem({ ...minimalRawConfig(), plans: { small: { retentionTime: "4h" } } }, "plans.small.retentionTime", "6h or more");
        });

        it("a scrape interval under 5s", () => {
            assertProblem({ ...minimalRawConfig(), plans: { small: { scrapeInterval: "2s" } } }, "prometheus-paas:plans.small.scrapeInterval: 2s is too short; allowed: 5s or more");
        });

        it("a scrape timeout above the plan's interval", () => {
            assertProblem({ ...minimalRawConfig(), plans: { small: { scrapeInterval: "15s", scrapeTimeout: "20s" } } },
                "prometheus-paas:plans.small.scrapeTimeout: 20s is above the scrape interval 15s", "allowed: more than 0s, at most the interval");
        });

        it("a malformed size quantity", () => {
            assertProblem({ ...minimalRawConfig(), plans: { small: { tmpfs: "512MB" } } }, "prometheus-paas:plans.small.tmpfs", "Kubernetes binary quantity");
        });

        it("a new plan that lacks fields", () => {
            assertProblem({ ...minimalRawConfig(), plans: { tiny: { tmpfs: "256Mi" } } }, "prometheus-paas:plans.tiny", "missing: description, cpu, memory");
        });

        it("compactor replicas above one", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { replicas: 2 } } },
                "prometheus-paas:thanos.compactor.replicas", "singleton per bucket; allowed: 0 or 1 (got 2)");
        });

        it("a raw retention below the 40h 5m downsampling needs (history would never be downsampled; Thanos refuses it)", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { retentionRaw: "36h" } } },
                "prometheus-paas:thanos.compactor.retentionRaw", "must be 0d (forever) or at least 40h");
        });

        it("a downsampled retention shorter than the raw one, or a 1h retention shorter than the 5m one", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { retentionRaw: "60d", retention5m: "30d" } } },
                "prometheus-paas:thanos.compactor.retention5m", "must be at least retentionRaw (60d)");
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { retention1h: "60d" } } },
                "prometheus-paas:thanos.compactor.retention1h", "must be at least retention5m (90d)");
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { retentionRaw: "0d" } } },
                "prometheus-paas:thanos.compactor.retention5m", "must be at least retentionRaw (0d, forever)");
        });

        it("a 5m retention below the 10 days 1h downsampling needs", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { retentionRaw: "2d", retention5m: "7d" } } },
                "prometheus-paas:thanos.compactor.retention5m", "must be 0d (forever) or at least 10d");
        });

        it("retentions that fit: raw at the 40h floor, equal retentions, all forever", () => {
            for (const compactor of [{ retentionRaw: "40h", retention5m: "10d", retention1h: "10d" }, { retentionRaw: "1y", retention5m: "1y", retention1h: "1y" }, { retentionRaw: "0d", retention5m: "0d", retention1h: "0d" }]) {
                assert.deepEqual(parseStackConfig({ ...minimalRawConfig(), thanos: { compactor } }).thanos.compactor, { ...parseStackConfig(minimalRawConfig()).thanos.compactor, ...compactor });
            }
        });

        it("a compactor scratch that is not a quantity, or a storage class that is not an object name", () => {
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { scratch: { size: "100GB" } } } }, "prometheus-paas:thanos.compactor.scratch.size", "Kubernetes binary quantity");
            assertProblem({ ...minimalRawConfig(), thanos: { compactor: { scratch: { storageClass: "Fast SSD" } } } }, "prometheus-paas:thanos.compactor.scratch.storageClass", "DNS-1123 subdomain");
        });

        it("an unknown top-level key", () => {
            assertProblem({ ...minimalRawConfig(), retentionDays: 30 }, "prometheus-paas: unknown key(s) 'retentionDays'", "allowed keys: environment, region");
        });

        it("an unknown nested key", () => {
            assertProblem(withInstance({ replica: 2 }), "prometheus-paas:instances[0]: unknown key(s) 'replica'", "replicas");
        });

        it("an unknown bucket type", () => {
            assertProblem({ ...minimalRawConfig(), bucket: { type: "gcs", bucket: "x" } }, "prometheus-paas:bucket.type: allowed: 's3', 'existing' (got 'gcs')");
        });

        it("a missing required key", () => {
            const { environment: _, ...raw } = minimalRawConfig();
            assertProblem(raw, "prometheus-paas:environment: is required");
        });

        it("only one of the bucket credentials", () => {
            assertProblem({ ...minimalRawConfig(), bucketAccessKey: "AKIA" }, "prometheus-paas:bucketAccessKey", "set both bucketAccessKey and bucketSecretKey");
        });

        it("a rule with both alert and record", () => {
            assertProblem(withInstance({ rules: [{ name: "g", rules: [{ alert: "A", record: "b", expr: "up" }] }] }), "instances[0].rules[0].rules[0]", "exactly one of 'alert' or 'record'");
        });

        it("an HA replica count above three", () => {
            assertProblem(withInstance({ replicas: 4 }), "prometheus-paas:instances[0].replicas", "at most 3");
        });

        it("bounds, lengths and types in this config's words, never zod's", () => {
            const bucket = { type: "existing", bucket: "ab", endpoint: "minio:9000" };
            const problems = problemsOf({
                ...withInstance({ replicas: 1.5, apps: [{ name: "a", namespace: "b", port: 0 }] }),
                region: 7,
                bucket,
                plans: { small: { sampleLimit: 0, description: "" } },
                thanos: { query: { replicas: 11 } },
                alertmanagers: "http://am:9093",
            });
            assert.deepEqual(problems.filter((problem) => /String must|Number must|Expected .*, received|Invalid (enum|discriminator|input)|Required$/.test(problem)), [], problems.join("\n"));
            for (const expected of [
                "prometheus-paas:region: must be a string (got number)",
                "prometheus-paas:bucket.bucket: must be at least 3 characters",
                "prometheus-paas:plans.small.sampleLimit: must be more than 0 (got 0)",
                "prometheus-paas:plans.small.description: must not be empty",
                "prometheus-paas:thanos.query.replicas: must be at most 10 (got 11)",
                "prometheus-paas:instances[0].replicas: must be a whole number",
                "prometheus-paas:instances[0].apps[0].port: must be at least 1 (got 0)",
                "prometheus-paas:alertmanagers: must be an array (got string)",
            ]) {
                assert.ok(problems.includes(expected), `missing '${expected}' in:\n${problems.join("\n")}`);
            }
        });

        it("every schema problem at once, not just the first", () => {
            const problems = problemsOf({ ...withInstance({ replica: 2 }), thanos: { compactor: { replicas: 3 } } });
            assert.ok(problems.some((problem) => problem.includes("thanos.compactor.replicas")), problems.join("\n"));
            assert.ok(problems.some((problem) => problem.includes("unknown key(s) 'replica'")), problems.join("\n"));
        });
    });
});

describe("stack config: tsuru registration", () => {
    const tsuru = { apiUrl: "https://tsuru.example.com", team: "platform", endpoints: "https://broker.example.com" };

    it("defaults the service id and encoding", () => {
        const config = parseStackConfig({ ...minimalRawConfig(), tsuru });
        assert.equal(config.tsuru!.serviceId, "prometheus");
        assert.equal(config.tsuru!.encoding, "form");
    });

    it("rejects a service id Tsuru would refuse, naming the key", () => {
        assertProblem({ ...minimalRawConfig(), tsuru: { ...tsuru, serviceId: "Prometheus_Service" } }, "prometheus-paas:tsuru.serviceId", "lowercase letters, digits and dashes");
    });

    it("rejects an endpoint that is not an http(s) URL", () => {
        assertProblem({ ...minimalRawConfig(), tsuru: { ...tsuru, endpoints: "broker:8080" } }, "prometheus-paas:tsuru.endpoints");
    });

    it("rejects an unknown encoding", () => {
        assertProblem({ ...minimalRawConfig(), tsuru: { ...tsuru, encoding: "xml" } }, "prometheus-paas:tsuru.encoding: allowed: 'form', 'json' (got 'xml')");
    });
});

describe("stack config: instancePasswords (the instances' web passwords, set as secrets)", () => {
    it("accepts a password per declared instance; the others get a generated one", () => {
        const config = parseStackConfig({ ...minimalRawConfig(), instancePasswords: { payments: "payments-password-0123" } });
        assert.equal(config.instances[0].name, "payments");
    });

    it("names the key of a password for an instance the stack does not declare, with the declared ones", () => {
        assertProblem({ ...minimalRawConfig(), instancePasswords: { paymnts: "payments-password-0123" } }, "prometheus-paas:instancePasswords.paymnts: names no instance; declared: payments");
    });

    it("refuses a password shorter than 16 characters, naming the key", () => {
        assertProblem({ ...minimalRawConfig(), instancePasswords: { payments: "short" } }, "prometheus-paas:instancePasswords.payments: is 5 characters; give at least 16");
    });
});

describe("stack config: kubernetes.network (where the NetworkPolicies' peers are)", () => {
    const withNetwork = (network: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({ ...minimalRawConfig(), ...rest, kubernetes: { network } });
    const apiServer = { cidrs: ["10.0.0.10/32"] };

    it("derives every peer but the API server: Grafana's namespace, DNS, Tsuru's API, Alertmanager from its in-cluster URL, the bucket from its endpoint", () => {
        const network = parseStackConfig({
            ...withNetwork({ apiServer }, { alertmanagers: ["http://alertmanager.monitoring.svc:9093", "https://10.1.2.3"] }),
            grafana: { namespace: "grafana" },
            bucket: { type: "existing", bucket: "thanos", endpoint: "minio.storage.svc.cluster.local" },
        }).kubernetes.network!;
        assert.deepEqual(network, {
            grafana: { namespace: "grafana", pods: { "app.kubernetes.io/name": "grafana" } },
            tsuru: { namespace: "tsuru-system" },
            dns: { namespace: "kube-system", pods: { "k8s-app": "kube-dns" }, ports: [53] },
            apiServer: { cidrs: ["10.0.0.10/32"], ports: [443, 6443] },
            alertmanagers: [{ namespace: "monitoring", ports: [9093] }, { cidrs: ["10.1.2.3/32"], ports: [443] }],
            bucket: { namespace: "storage", ports: [443] },
        });
    });

    it("reaches AWS S3 on 443 outside the private ranges, and an IPv4 endpoint at its address and port", () => {
        assert.deepEqual(parseStackConfig({ ...withNetwork({ apiServer }), bucket: { type: "s3" } }).kubernetes.network!.bucket, {
            cidrs: ["0.0.0.0/0"], except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"], ports: [443],
        });
        assert.deepEqual(parseStackConfig({ ...withNetwork({ apiServer }), bucket: { type: "existing", bucket: "thanos", endpoint: "192.168.5.5:9000" } }).kubernetes.network!.bucket, { cidrs: ["192.168.5.5/32"], ports: [9000] });
    });

    it("requires the API server's addresses, saying where to find them", () => {
        assertProblem(withNetwork({ bucket: { namespace: "storage" } }), "prometheus-paas:kubernetes.network.apiServer: is required", "kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes");
    });

    it("requires the bucket's or Alertmanager's place when their host names neither an in-cluster Service nor an address", () => {
        assertProblem({ ...withNetwork({ apiServer }), bucket: { type: "existing", bucket: "thanos", endpoint: "minio.example.com:9000" } }, "prometheus-paas:kubernetes.network.bucket: is required: bucket.endpoint minio.example.com:9000");
        assertProblem(withNetwork({ apiServer, bucket: { namespace: "storage" } }, { alertmanagers: ["http://am.example.com:9093"] }), "prometheus-paas:kubernetes.network.alertmanager: is required: alertmanagers entry http://am.example.com:9093");
    });

    it("refuses a peer with both a namespace and cidrs, pods without a namespace, an except outside its cidrs, a bad CIDR, label or port", () => {
        assertProblem(withNetwork({ apiServer, grafana: { namespace: "grafana", cidrs: ["10.0.0.0/8"] } }), "prometheus-paas:kubernetes.network.grafana", "give either namespace");
        assertProblem(withNetwork({ apiServer, tsuru: { pods: { app: "tsuru-api" } } }), "prometheus-paas:kubernetes.network.tsuru.pods", "set namespace");
        assertProblem(withNetwork({ apiServer: { cidrs: ["10.0.0.0/24"], except: ["10.0.1.0/28"] } }), "prometheus-paas:kubernetes.network.apiServer.except[0]", "10.0.1.0/28 lies inside none of cidrs (10.0.0.0/24)");
        assertProblem(withNetwork({ apiServer: { cidrs: ["10.0.0.0/24"], except: ["10.0.0.0/24"] } }), "prometheus-paas:kubernetes.network.apiServer.except[0]", "strict subset");
        assertProblem(withNetwork({ apiServer: { cidrs: ["10.0.0.300/32"] } }), "prometheus-paas:kubernetes.network.apiServer.cidrs[0]", "IPv4 CIDR block");
        assertProblem(withNetwork({ apiServer, grafana: { namespace: "grafana", pods: { "-bad": "x" } } }), "prometheus-paas:kubernetes.network.grafana.pods", "Kubernetes label keys");
        assertProblem(withNetwork({ apiServer: { ...apiServer, ports: [0] } }), "prometheus-paas:kubernetes.network.apiServer.ports[0]", "ports are 1-65535");
        assertProblem(withNetwork({ apiServer, ingress: {} }), "prometheus-paas:kubernetes.network", "allowed keys: grafana, tsuru, dns, apiServer, alertmanager, bucket");
    });

    it("refuses a peer in an instances' namespace (its default deny would cut the peer off), Grafana's default included", () => {
        assertProblem({ ...withNetwork({ apiServer, bucket: { namespace: "storage" } }), grafana: { namespace: "prometheus" } }, "prometheus-paas:kubernetes.network.grafana: namespace 'prometheus' is an instances' namespace");
        assertProblem(withNetwork({ apiServer, bucket: { namespace: "prometheus" } }), "prometheus-paas:kubernetes.network.bucket: namespace 'prometheus' is an instances' namespace");
        assert.equal(parseStackConfig(withNetwork({ apiServer, bucket: { namespace: "storage" } })).kubernetes.network!.grafana.namespace, "grafana");
    });

    it("is not needed by a stack without a Kubernetes half", () => {
        const raw = { ...minimalRawConfig(), instances: [] };
        delete (raw as Record<string, unknown>).kubernetes;
        assert.equal(parseStackConfig(raw).kubernetes.network, undefined);
    });
});
