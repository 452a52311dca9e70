/**
 * A tenant's history: the platform's second Thanos Query enforces the `tenant` external label from a header
 * (`--query.enforce-tenancy`), and each instance's front (Caddy) is the only way a tenant reaches it. The front
 * authenticates the caller with the instance's own credentials, sets the header to the instance's tenant (the
 * caller's copy replaced, so no tenant picks another) and passes only the APIs Query enforces tenancy on.
 * Pure renderers shared by both platforms; no Pulumi imports.
 */
import { historyFrontDefaults, thanosPorts } from "./defaults";

/** The external label every instance carries (components/prometheus/render.ts): its value is the instance's name. */
const tenantLabel = "tenant";

/**
 * Thanos' default tenant header. The front overwrites it: Query honours `THANOS-TENANT` even when another header
 * name is configured (verified), so a custom name would leave the default one open to forgery.
 */
const tenantHeader = "THANOS-TENANT";

/** Answered by the front itself without credentials (the probes); it reveals nothing. */
const historyFrontHealthPath = historyFrontDefaults.liveness.path;

/**
 * The APIs Thanos Query enforces tenancy on, with the methods Grafana uses. Not targets, metadata, rules, alerts,
 * stores or status: Query returns every tenant's there, or panics (status/tsdb). Label names in a path are
 * Prometheus' classic names (UTF-8 names travel `U__`-escaped), which also keeps `..` out of the path.
 */
const tenantApis: readonly { readonly path: RegExp; readonly methods: readonly ("GET" | "POST")[] }[] = [
    { path: /^\/api\/v1\/(query|query_range|query_exemplars|series|labels)$/, methods: ["GET", "POST"] },
    { path: /^\/api\/v1\/label\/[a-zA-Z_][a-zA-Z0-9_]*\/values$/, methods: ["GET"] },
];

/** The flags that make a Query enforce the tenant; its gRPC (which enforces nothing) stays inside its pod. */
export function tenancyQueryArgs(): string[] {
    return [
        "--query.enforce-tenancy",
        `--query.tenant-label-name=${tenantLabel}`,
        `--query.tenant-header=${tenantHeader}`,
    ];
}

/** gRPC address of the tenants' Query: loopback only, since its StoreAPI serves every tenant to any client. */
export const tenancyQueryGrpcAddress = `localhost:${thanosPorts.grpc}`;

/**
 * The front's command (the Caddy image's binary). `watch` reloads the config when its file changes: on Kubernetes a
 * new password reaches the mounted Secret, and the front follows without a restart, as Prometheus re-reads web.yml.
 */
export function historyFrontCommand(configFile: string, options: { watch: boolean }): string[] {
    return ["caddy", "run", "--config", configFile, ...(options.watch ? ["--watch"] : [])];
}

export interface HistoryFrontInput {
    /** The instance's name: its tenant label value and its basic auth user. */
    readonly tenant: string;
    readonly username: string;
    /** bcrypt hash of the instance's password, the one in its Prometheus web config. */
    readonly passwordHash: string;
    /** host:port of the tenants' Query HTTP API. */
    readonly upstream: string;
}

/**
 * Caddy's JSON config of one instance's front. Every request but the health path is authenticated first, so an
 * unauthenticated caller learns nothing (401) and an authenticated one gets 403 outside the tenant APIs. bcrypt
 * results are cached (Caddy's hash cache), as Prometheus' exporter-toolkit does. The caller's Authorization header
 * is not passed on: Query needs none, and the instance's password has no business in its logs.
 */
export function renderHistoryFront(input: HistoryFrontInput): string {
    if (input.tenant === "" || input.username === "") throw new Error("history front: tenant and username must not be empty");
    if (!/^\$2[aby]\$\d{2}\$/.test(input.passwordHash)) throw new Error(`history front: the password hash of '${input.username}' is not a bcrypt hash`);
    const authenticate = {
        handler: "authentication",
        providers: {
            http_basic: {
                hash: { algorithm: "bcrypt" },
                accounts: [{ username: input.username, password: input.passwordHash }],
                realm: `history of ${input.tenant}`,
                hash_cache: {},
            },
        },
    };
    const forward = {
        handler: "reverse_proxy",
        upstreams: [{ dial: input.upstream }],
        headers: { request: { set: { [tenantHeader]: [input.tenant] }, delete: ["Authorization"] } },
    };
    const config = {
        admin: { disabled: true, config: { persist: false } },
        logging: { logs: { default: { level: "WARN", encoder: { format: "json" } } } },
        apps: {
            http: {
                servers: {
                    history: {
                        listen: [`0.0.0.0:${historyFrontDefaults.httpPort}`],
                        automatic_https: { disable: true },
                        routes: [
                            { match: [{ path: [historyFrontHealthPath] }], handle: [{ handler: "static_response", status_code: 200, body: "OK" }], terminal: true },
                            { handle: [authenticate] },
                            ...tenantApis.map((api) => ({ match: [{ path_regexp: { pattern: api.path.source }, method: [...api.methods] }], handle: [forward], terminal: true })),
                            {
                                handle: [{
                                    handler: "static_response",
                                    status_code: 403,
                                    body: "Not served to tenants: this front passes only query, query_range, query_exemplars, series, labels and label values.\n",
                                }],
                            },
                        ],
                    },
                },
            },
        },
    };
    return JSON.stringify(config, null, 2);
}
