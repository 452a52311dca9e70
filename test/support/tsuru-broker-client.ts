/**
 * The Tsuru API server's side of the broker contract (tsuru/tsuru service/endpoint.go, payloads.go): the exact
 * paths, fields, headers and encodings Tsuru sends, so the tests talk to the broker the way Tsuru does.
 * Form: keys sorted, lists as repeated keys, `parameters.*` flattened; JSON: Go's encoder (trailing newline).
 * GET calls carry no body and no query; DELETE calls do carry a body; `Connection: close` on every call.
 */
import { randomBytes } from "crypto";

export type Encoding = "form" | "json";

export interface TsuruPool {
    readonly name: string;
    readonly provisioner?: string;
    readonly cluster?: { readonly name: string; readonly provisioner?: string; readonly addresses?: readonly string[] };
}

export interface BrokerResponse {
    readonly status: number;
    readonly text: string;
    readonly json?: unknown;
}

type FormValue = string | readonly string[] | undefined;

/** Tsuru's form flattening of parameters: nested keys joined by '.', list items '.0', '.' in a key as '\.'. */
export function flattenParameters(parameters: Record<string, unknown>, prefix = "parameters"): [string, string][] {
    const fields: [string, string][] = [];
    for (const [key, value] of Object.entries(parameters)) {
        const name = `${prefix}.${key.replace(/\./g, "\\.")}`;
        if (Array.isArray(value)) value.forEach((item, index) => fields.push(...flattenValue(`${name}.${index}`, item)));
        else fields.push(...flattenValue(name, value));
    }
    return fields;
}

function flattenValue(name: string, value: unknown): [string, string][] {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        const nested = flattenParameters(value as Record<string, unknown>, "");
        return nested.map(([key, item]) => [`${name}${key}`, item]);
    }
    if (Array.isArray(value)) return value.flatMap((item, index) => flattenValue(`${name}.${index}`, item));
    return [[name, String(value)]];
}

export class TsuruBrokerClient {
    constructor(
        readonly endpoint: string,
        readonly username: string,
        readonly password: string,
        readonly encoding: Encoding = "form",
        readonly user = "admin@example.com",
    ) {}

    withEncoding(encoding: Encoding): TsuruBrokerClient {
        return new TsuruBrokerClient(this.endpoint, this.username, this.password, encoding, this.user);
    }

    withCredentials(username: string, password: string): TsuruBrokerClient {
        return new TsuruBrokerClient(this.endpoint, username, password, this.encoding, this.user);
    }

    static eventId(): string {
        return randomBytes(12).toString("hex");
    }

    private poolHeaders(pool?: TsuruPool): Record<string, string> {
        if (pool === undefined) return {};
        const headers: Record<string, string> = { "X-Tsuru-Pool-Name": pool.name, "X-Tsuru-Pool-Provisioner": pool.provisioner ?? "kubernetes" };
        if (pool.cluster) {
            headers["X-Tsuru-Cluster-Name"] = pool.cluster.name;
            headers["X-Tsuru-Cluster-Provisioner"] = pool.cluster.provisioner ?? "kubernetes";
            // fetch joins repeated headers with ", " as Go's client would send them on separate lines.
            if (pool.cluster.addresses?.length) headers["X-Tsuru-Cluster-Addresses"] = pool.cluster.addresses.join(", ");
        }
        return headers;
    }

    /** One call: `form` fields in Tsuru's form names, `json` the JSON payload Tsuru's encoder would write. */
    async call(method: string, path: string, options: { form?: Record<string, FormValue>; parameters?: Record<string, unknown>; json?: Record<string, unknown>; evented?: boolean; pool?: TsuruPool } = {}): Promise<BrokerResponse> {
        const headers: Record<string, string> = {
            Authorization: `Basic ${Buffer.from(`${this.username}:${this.password}`).toString("base64")}`,
            Accept: "application/json",
            Connection: "close",
            ...this.poolHeaders(options.pool),
        };
        if (options.evented) {
            headers["X-Tsuru-User"] = this.user;
            headers["X-Tsuru-Eventid"] = TsuruBrokerClient.eventId();
        }
        let body: string | undefined;
        if (method !== "GET") {
            if (this.encoding === "json") {
                headers["Content-Type"] = "application/json";
                body = `${JSON.stringify({ ...(options.json ?? {}), ...(options.parameters ? { parameters: options.parameters } : {}) })}\n`;
            } else {
                headers["Content-Type"] = "application/x-www-form-urlencoded";
                const fields: [string, string][] = [];
                for (const [key, value] of Object.entries(options.form ?? {})) {
                    if (value === undefined) continue;
                    for (const item of typeof value === "string" ? [value] : value) fields.push([key, item]);
                }
                fields.push(...flattenParameters(options.parameters ?? {}));
                fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
                body = new URLSearchParams(fields).toString();
            }
        }
        const response = await fetch(`${this.endpoint.replace(/\/$/, "")}/${path.replace(/^\//, "")}`, { method, headers, body, redirect: "follow" });
        const text = await response.text();
        let json: unknown;
        try {
            json = text ? JSON.parse(text) : undefined;
        } catch {
            json = undefined;
        }
        return { status: response.status, text, json };
    }

    plans(pool?: TsuruPool): Promise<BrokerResponse> {
        return this.call("GET", "/resources/plans", { pool });
    }

    create(instance: { name: string; team: string; plan?: string; description?: string; tags?: string[]; parameters?: Record<string, unknown> }, pool?: TsuruPool): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        return this.call("POST", "/resources", {
            evented: true,
            pool,
            form: { name: instance.name, team: instance.team, user: this.user, eventid, tags: instance.tags?.length ? instance.tags : undefined, plan: instance.plan, description: instance.description },
            json: { name: instance.name, team: instance.team, user: this.user, eventID: eventid, tags: instance.tags ?? null, plan: instance.plan ?? "", description: instance.description ?? "" },
            parameters: instance.parameters,
        });
    }

    update(name: string, instance: { team: string; plan: string; description?: string; tags?: string[] }, pool?: TsuruPool): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        return this.call("PUT", `/resources/${name}`, {
            evented: true,
            pool,
            // Tsuru always sends plan, even empty.
            form: { description: instance.description ?? "", team: instance.team, plan: instance.plan, tags: instance.tags ?? [], user: this.user, eventid },
            json: { description: instance.description ?? "", team: instance.team, plan: instance.plan, tags: instance.tags ?? null, user: this.user, eventID: eventid },
        });
    }

    remove(name: string, pool?: TsuruPool): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        return this.call("DELETE", `/resources/${name}`, { evented: true, pool, form: { user: this.user, eventid }, json: { user: this.user, eventID: eventid } });
    }

    info(name: string, pool?: TsuruPool): Promise<BrokerResponse> {
        return this.call("GET", `/resources/${name}`, { pool });
    }

    status(name: string, pool?: TsuruPool): Promise<BrokerResponse> {
        return this.call("GET", `/resources/${name}/status`, { pool });
    }

    /** `app-internal-hosts` as Tsuru builds them: one per port of each non-headless Service of the app. */
    bindApp(name: string, app: { name: string; namespace?: string; pool?: string; parameters?: Record<string, unknown> }, pool?: TsuruPool): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        const hosts = [`${app.name}.example.com`];
        const internal = app.namespace ? [`tcp://${app.name}-web.${app.namespace}.svc.cluster.local:8888`] : [];
        return this.call("POST", `/resources/${name}/bind-app`, {
            evented: true,
            pool,
            form: {
                "app-name": app.name, "app-hosts": hosts, "app-host": hosts[0], "app-internal-hosts": internal,
                "app-pool-name": app.pool, "app-pool-provisioner": app.pool ? "kubernetes" : undefined,
                "app-cluster-name": pool?.cluster?.name, "app-cluster-provisioner": pool?.cluster ? "kubernetes" : undefined,
                "app-cluster-addresses": pool?.cluster?.addresses, user: this.user, eventid,
            },
            json: {
                appName: app.name, appHosts: hosts, appInternalHosts: internal, appPoolName: app.pool ?? "", appPoolProvisioner: app.pool ? "kubernetes" : "",
                appClusterName: pool?.cluster?.name ?? "", appClusterProvisioner: pool?.cluster ? "kubernetes" : "", appClusterAddresses: pool?.cluster?.addresses ?? null,
                user: this.user, eventID: eventid,
            },
            parameters: app.parameters,
        });
    }

    unbindApp(name: string, appName: string, pool?: TsuruPool): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        const hosts = [`${appName}.example.com`];
        return this.call("DELETE", `/resources/${name}/bind-app`, {
            evented: true,
            pool,
            form: { "app-name": appName, "app-hosts": hosts, "app-host": hosts[0], user: this.user, eventid },
            json: { appName, appHosts: hosts, user: this.user, eventID: eventid },
        });
    }

    bindJob(name: string, job: { name: string; pool: string; cluster?: string }): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        return this.call("PUT", `/resources/${name}/binds/jobs/${job.name}`, {
            evented: true,
            form: { "job-name": job.name, user: this.user, eventid, "job-pool-name": job.pool, "job-cluster-name": job.cluster },
            json: { jobName: job.name, user: this.user, eventID: eventid, jobPoolName: job.pool, jobClusterName: job.cluster ?? "" },
        });
    }

    unbindJob(name: string, job: string): Promise<BrokerResponse> {
        const eventid = TsuruBrokerClient.eventId();
        return this.call("DELETE", `/resources/${name}/binds/jobs/${job}`, { evented: true, form: { user: this.user, eventid }, json: { user: this.user, eventID: eventid } });
    }
}
