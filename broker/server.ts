/**
 * The service API Tsuru calls (tsuru/tsuru service/endpoint.go; contract in docs/tsuru-and-broker.md):
 * plans, create, update, remove, info, status, bind/unbind of apps and jobs, and /healthz. Basic auth with the
 * service's credentials (constant-time compare), form or JSON bodies, errors as JSON {"message"}.
 * Bind while provisioning is accepted: the binding is recorded in the instance's stack config at once and the
 * next engine run (queued, coalesced with any other change) renders it — it is never lost and never answered 412.
 */
import { createHash, timingSafeEqual } from "crypto";
import fastifyBasicAuth from "@fastify/basic-auth";
import fastifyFormbody from "@fastify/formbody";
import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { InstanceRecord, instanceFromRecord } from "../components/broker/record";
import { BrokerSettings, poolNamespace } from "../components/broker/settings";
import { ConfigError } from "../components/config/errors";
import type { JobTarget, KubernetesApp } from "../components/config/types";
import { instanceDatasourceNames } from "../components/grafana/datasources";
import { prometheusWebPort } from "../components/prometheus/defaults";
import { historyFrontDefaults } from "../components/thanos/defaults";
import { webUsername } from "../components/prometheus/web-auth";
import type { InstanceState, Provisioner } from "./provisioner";
import { Body, bindAppRequest, bindJobRequest, createRequest, namespaceFromInternalHosts, updateRequest } from "./tsuru";

export interface Credentials {
    readonly username: string;
    readonly password: string;
}

export interface ServerOptions {
    readonly settings: BrokerSettings;
    readonly provisioner: Provisioner;
    readonly credentials: Credentials;
    readonly logger: Logger;
}

/** Instance names: DNS-1123 labels short enough for every object name derived from them. */
export const maxInstanceNameLength = 40;
const instanceNamePattern = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const reservedNames = new Set(["plans"]);

export class BrokerError extends Error {
    constructor(readonly statusCode: number, message: string) {
        super(message);
    }
}

export function checkInstanceName(name: string | undefined): string {
    if (name === undefined || name === "") throw new BrokerError(400, "name is required");
    if (reservedNames.has(name)) throw new BrokerError(400, `'${name}' is reserved (GET /resources/plans lists the plans); choose another name`);
    if (name.length > maxInstanceNameLength || !instanceNamePattern.test(name)) {
        throw new BrokerError(400,
            `invalid instance name '${name}': it names Kubernetes objects, so it must be a DNS-1123 label of at most ${maxInstanceNameLength} characters: ` +
            "lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (no uppercase, no '_')");
    }
    return name;
}

function digest(value: string): Buffer {
    return createHash("sha256").update(value, "utf8").digest();
}

/** Equal-length digests compared with timingSafeEqual: neither length nor content leaks through timing. */
export function credentialsMatch(expected: Credentials, username: string, password: string): boolean {
    const user = timingSafeEqual(digest(expected.username), digest(username));
    const pass = timingSafeEqual(digest(expected.password), digest(password));
    return user && pass;
}

function isJson(request: FastifyRequest): boolean {
    return (request.headers["content-type"] ?? "").startsWith("application/json");
}

function bodyOf(request: FastifyRequest): Body {
    const body = request.body;
    return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Body) : {};
}

/** Every value a string: Tsuru fails on anything else in an info list or a bind answer. */
function stringMap(values: Record<string, string | undefined>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

export function buildServer(options: ServerOptions): FastifyInstance {
    const { settings, provisioner, credentials } = options;
    const store = provisioner.store;
    const app = Fastify({
        loggerInstance: options.logger as unknown as FastifyBaseLogger,
        // Tsuru's event id names the request in every log line of it.
        requestIdHeader: "x-tsuru-eventid",
        requestIdLogLabel: "eventId",
        disableRequestLogging: false,
        bodyLimit: 1024 * 1024,
    });

    app.register(fastifyFormbody);
    app.addHook("onRequest", async (request) => {
        const user = request.headers["x-tsuru-user"];
        if (typeof user === "string") request.log = request.log.child({ user });
    });

    app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
        const statusCode = error.statusCode ?? 500;
        if (statusCode >= 500) request.log.error({ err: error }, "request failed");
        else request.log.warn({ statusCode, reason: error.message }, "request refused");
        void reply.code(statusCode).type("application/json").send({ message: error.message });
    });
    app.setNotFoundHandler((request, reply) => {
        void reply.code(404).send({ message: `no route ${request.method} ${request.url}` });
    });

    app.get("/healthz", async () => ({ status: "ok", instances: store.names().length, busy: provisioner.busy }));

    const prometheusUrl = (name: string) => `http://prometheus-${name}.${settings.namespace}.svc:${prometheusWebPort}`;
    /** The instance's history front: its tenant's data only, recent and past, with the same credentials. */
    const historyUrl = (name: string) => `http://prometheus-${name}.${settings.namespace}.svc:${historyFrontDefaults.httpPort}`;
    /** What a bound app gets: Tsuru keeps service variables private to the app, so the password travels here. */
    const envVars = async (name: string) => {
        const { username, password } = await provisioner.credentials(name);
        return stringMap({
            PROMETHEUS_URL: prometheusUrl(name),
            PROMETHEUS_USERNAME: username,
            PROMETHEUS_PASSWORD: password,
            PROMETHEUS_INSTANCE: name,
            PROMETHEUS_HISTORY_URL: historyUrl(name),
        });
    };

    const recordOf = (name: string): InstanceRecord => {
        const record = store.get(name);
        if (record === undefined) throw new BrokerError(404, `instance '${name}' not found`);
        return record;
    };

    const checkPlan = (plan: string | undefined, pool: string | undefined): string => {
        const offered = pool !== undefined && settings.poolPlans[pool] ? settings.poolPlans[pool] : Object.keys(settings.plans);
        if (plan === undefined || plan === "") throw new BrokerError(400, `a plan is required; allowed: ${offered.join(", ")}`);
        if (!offered.includes(plan)) {
            throw new BrokerError(400, `unknown plan '${plan}'${pool !== undefined && settings.poolPlans[pool] ? ` in pool '${pool}'` : ""}; allowed: ${offered.join(", ")}`);
        }
        return plan;
    };

    /** Validates the record's instance with the same rules as a stack's `instances` (400 naming the problem). */
    const validate = (name: string, record: Pick<InstanceRecord, "plan" | "team" | "apps" | "jobs">) => {
        try {
            instanceFromRecord(name, record, settings);
        } catch (error) {
            if (error instanceof ConfigError) throw new BrokerError(400, error.problems.join("; "));
            throw error;
        }
    };

    const change = async (name: string, edit: (record: InstanceRecord) => InstanceRecord) => {
        try {
            return await provisioner.change(name, edit);
        } catch (error) {
            if (store.get(name) === undefined) throw new BrokerError(404, `instance '${name}' not found`);
            throw error;
        }
    };

    const header = (request: FastifyRequest, name: string): string | undefined => {
        const value = request.headers[name];
        return Array.isArray(value) ? value[0] : value;
    };

    app.register(async (api) => {
        await api.register(fastifyBasicAuth, {
            authenticate: { realm: "prometheus-broker" },
            validate: async (username, password, request) => {
                if (!credentialsMatch(credentials, username, password)) {
                    // Tsuru turns a 401 on plans into a silent empty list: say it here.
                    request.log.warn({ basicAuthUser: username }, "wrong service credentials");
                    throw new BrokerError(401, "wrong service credentials");
                }
            },
        });
        api.addHook("onRequest", api.basicAuth);

        api.get("/resources/plans", async (request) => {
            const pool = header(request, "x-tsuru-pool-name");
            const names = pool !== undefined && settings.poolPlans[pool] ? settings.poolPlans[pool] : Object.keys(settings.plans);
            return names.map((name) => ({ name, description: settings.plans[name].description }));
        });

        api.post("/resources", async (request, reply) => {
            const body = createRequest(bodyOf(request), isJson(request));
            const name = checkInstanceName(body.name);
            const pool = header(request, "x-tsuru-pool-name");
            const plan = checkPlan(body.plan, pool);
            if (body.team === undefined || body.team === "") throw new BrokerError(400, "team is required");
            validate(name, { plan, team: body.team, apps: [], jobs: [] });
            const created = await provisioner.create(name, {
                plan,
                team: body.team,
                description: body.description,
                tags: body.tags,
                pool,
                cluster: header(request, "x-tsuru-cluster-name"),
                parameters: body.parameters,
                apps: [],
                jobs: [],
            });
            if (!created) throw new BrokerError(409, `instance '${name}' already exists`);
            request.log.info({ instance: name, plan, team: body.team }, "instance accepted");
            return reply.code(201).send();
        });

        api.put<{ Params: { name: string } }>("/resources/:name", async (request, reply) => {
            const { name } = request.params;
            const body = updateRequest(bodyOf(request), isJson(request));
            const current = recordOf(name);
            if (current.removing) throw new BrokerError(409, `instance '${name}' is being removed`);
            // Tsuru always sends `plan`, empty when the instance has none: keep the current one then.
            const plan = body.plan ? checkPlan(body.plan, current.pool) : current.plan;
            const team = body.team || current.team;
            validate(name, { ...current, plan, team });
            await change(name, (record) => ({ ...record, plan, team, description: body.description, tags: body.tags, parameters: { ...record.parameters, ...body.parameters } }));
            request.log.info({ instance: name, plan }, "instance update accepted");
            return reply.code(200).send();
        });

        api.delete<{ Params: { name: string } }>("/resources/:name", async (request, reply) => {
            const { name } = request.params;
            const current = recordOf(name);
            if (!current.removing) await change(name, (record) => ({ ...record, removing: true }));
            request.log.info({ instance: name }, "instance removal accepted");
            return reply.code(200).send();
        });

        api.get<{ Params: { name: string } }>("/resources/:name", async (request) => {
            const { name } = request.params;
            const record = recordOf(name);
            const plan = settings.plans[record.plan];
            const list = (items: { name: string; namespace: string }[]) => (items.length > 0 ? items.map((item) => `${item.name} (${item.namespace})`).join(", ") : "-");
            return [
                { label: "Prometheus URL", value: prometheusUrl(name) },
                // The password only goes to bound apps (PROMETHEUS_PASSWORD), never into info.
                { label: "Prometheus user", value: webUsername(name) },
                { label: "History URL", value: historyUrl(name) },
                { label: "Grafana datasources", value: settings.grafanaNamespace === undefined ? "-" : Object.values(instanceDatasourceNames(name, settings.environment)).join(", ") },
                { label: "Plan", value: plan ? `${plan.name}: ${plan.description}` : record.plan },
                { label: "Apps", value: list(record.apps) },
                { label: "Jobs", value: list(record.jobs) },
                { label: "State", value: provisioner.stateOf(name, record) },
                { label: "Last error", value: record.lastError || "-" },
            ];
        });

        api.get<{ Params: { name: string } }>("/resources/:name/status", async (request, reply) => {
            const { name } = request.params;
            const record = recordOf(name);
            const state: InstanceState = provisioner.stateOf(name, record);
            switch (state) {
                case "up":
                    return reply.code(204).send();
                case "failed":
                    // Tsuru shows a 200 body as the status; it throws a 500's body away.
                    return reply.code(200).type("text/plain").send(record.lastError || "failed");
                default:
                    return reply.code(202).type("text/plain").send(state === "removing" ? "removing" : "provisioning");
            }
        });

        api.post<{ Params: { name: string } }>("/resources/:name/bind-app", async (request, reply) => {
            const { name } = request.params;
            const body = bindAppRequest(bodyOf(request), isJson(request));
            if (!body.appName) throw new BrokerError(400, "app-name is required");
            const current = recordOf(name);
            if (current.removing) throw new BrokerError(412, `instance '${name}' is being removed`);
            if (current.apps.some((bound) => bound.name === body.appName)) throw new BrokerError(409, `app '${body.appName}' is already bound to '${name}'`);
            const namespace = namespaceFromInternalHosts(body.appInternalHosts) ?? (body.appPoolName ? poolNamespace(settings.poolNamespaces, body.appPoolName) : undefined);
            if (namespace === undefined) throw new BrokerError(400, `cannot tell the namespace of app '${body.appName}': Tsuru sent neither app-internal-hosts nor app-pool-name`);
            const target = appTarget(body.appName, namespace, body.parameters);
            validate(name, { ...current, apps: [...current.apps, target] });
            // Credentials first: a bind that cannot hand them out records nothing.
            const variables = await envVars(name);
            await change(name, (record) => ({ ...record, apps: [...record.apps.filter((bound) => bound.name !== target.name), target] }));
            request.log.info({ instance: name, app: target.name, namespace }, "app bound");
            return reply.code(201).send(variables);
        });

        api.delete<{ Params: { name: string } }>("/resources/:name/bind-app", async (request, reply) => {
            const { name } = request.params;
            const body = bindAppRequest(bodyOf(request), isJson(request));
            const current = recordOf(name);
            if (!current.apps.some((bound) => bound.name === body.appName)) throw new BrokerError(404, `app '${body.appName ?? ""}' is not bound to '${name}'`);
            await change(name, (record) => ({ ...record, apps: record.apps.filter((bound) => bound.name !== body.appName) }));
            request.log.info({ instance: name, app: body.appName }, "app unbound");
            return reply.code(200).send({});
        });

        api.put<{ Params: { name: string; job: string } }>("/resources/:name/binds/jobs/:job", async (request, reply) => {
            const { name, job } = request.params;
            const body = bindJobRequest(bodyOf(request), isJson(request));
            const current = recordOf(name);
            if (current.removing) throw new BrokerError(412, `instance '${name}' is being removed`);
            if (current.jobs.some((bound) => bound.name === job)) throw new BrokerError(409, `job '${job}' is already bound to '${name}'`);
            if (!body.jobPoolName) throw new BrokerError(400, `cannot tell the namespace of job '${job}': Tsuru sent no job-pool-name`);
            const target: JobTarget = { name: job, namespace: poolNamespace(settings.poolNamespaces, body.jobPoolName), port: 8888, path: "/metrics", scheme: "http" };
            validate(name, { ...current, jobs: [...current.jobs, target] });
            const variables = await envVars(name);
            await change(name, (record) => ({ ...record, jobs: [...record.jobs, target] }));
            request.log.info({ instance: name, job, namespace: target.namespace }, "job bound");
            return reply.code(201).send(variables);
        });

        api.delete<{ Params: { name: string; job: string } }>("/resources/:name/binds/jobs/:job", async (request, reply) => {
            const { name, job } = request.params;
            const current = recordOf(name);
            if (!current.jobs.some((bound) => bound.name === job)) throw new BrokerError(404, `job '${job}' is not bound to '${name}'`);
            await change(name, (record) => ({ ...record, jobs: record.jobs.filter((bound) => bound.name !== job) }));
            request.log.info({ instance: name, job }, "job unbound");
            return reply.code(200).send({});
        });
    });
    return app;
}

/** The scrape target of a bound app; bind parameters may set port, path, scheme and processes. */
function appTarget(name: string, namespace: string, parameters: Record<string, unknown>): KubernetesApp {
    const number = (value: unknown) => (typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : value);
    const processes = typeof parameters.processes === "string" ? parameters.processes.split(",").map((process) => process.trim()).filter(Boolean) : parameters.processes;
    const target: Record<string, unknown> = {
        name,
        namespace,
        port: number(parameters.port ?? 8888),
        path: parameters.path ?? "/metrics",
        scheme: parameters.scheme ?? "http",
    };
    if (processes !== undefined) target.processes = processes;
    return target as unknown as KubernetesApp;
}

