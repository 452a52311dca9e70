// Tsuru service registration as a Pulumi dynamic resource.
// The provider object is serialized into the state by Pulumi's closure serializer, so it holds no
// credentials: the API token is read when the provider runs (configure hook or TSURU_TOKEN).
import * as pulumi from "@pulumi/pulumi";
import { TsuruApiError, TsuruClient, TsuruServiceRecord } from "./client";

/** Stack config key the provider reads the API token from (`pulumi config set --secret tsuru:token ...`). */
export const TSURU_TOKEN_CONFIG_KEY = "tsuru:token";
/** Environment variable used when the config key is not set. */
export const TSURU_TOKEN_ENV = "TSURU_TOKEN";
/** Optional stack config: per-request timeout of Tsuru API calls, in ms. */
export const TSURU_TIMEOUT_CONFIG_KEY = "tsuru:requestTimeoutMs";
/** Optional stack config: retries of a Tsuru API call on network errors, timeouts and 502/503/504. */
export const TSURU_RETRIES_CONFIG_KEY = "tsuru:maxRetries";

/** Type token: `pulumi-nodejs:dynamic/paas-tsuru:TsuruService` (dynamic resources live in the pulumi-nodejs package). */
const MODULE = "paas-tsuru";
const TYPE = "TsuruService";

// Pulumi's placeholder for values unknown during preview (runtime/rpc.ts). Not imported: it would drag
// the Pulumi runtime into the serialized provider.
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const MAX_ID_LENGTH = 40;
const ID_PATTERN = /^[a-z][a-z0-9-]*$/;
// Cluster names become form fields `endpoints.<cluster>`: no dots.
const CLUSTER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const TEAM_PATTERN = /^[^\s/]+$/;

export interface TsuruServiceArgs {
    /** Base URL of the Tsuru API to register with, e.g. `https://tsuru.example.com`; changing it replaces. */
    readonly apiUrl: pulumi.Input<string>;
    /** Service name in Tsuru: ≤ 40 lowercase letters, digits or dashes, starting with a letter; changing it replaces. */
    readonly serviceId: pulumi.Input<string>;
    /** Team that owns the service in Tsuru. */
    readonly team: pulumi.Input<string>;
    /** The broker URL (registered as `production`), or a map cluster name → broker URL. */
    readonly endpoints: pulumi.Input<string | Record<string, pulumi.Input<string>>>;
    /** Basic-auth user Tsuru presents to the broker (default: the service id). */
    readonly username?: pulumi.Input<string>;
    /** Basic-auth password Tsuru presents to the broker; kept secret in inputs and outputs. */
    readonly password: pulumi.Input<string>;
    /** Tsuru picks the endpoint of the instance's cluster; changing it replaces (Tsuru sets it on create only). */
    readonly multiCluster?: pulumi.Input<boolean>;
    /** How Tsuru encodes its requests to the broker: `form` (default) or `json`. */
    readonly encoding?: pulumi.Input<"form" | "json">;
    /** Text shown by `tsuru service-doc`, set through the doc route. */
    readonly documentation?: pulumi.Input<string>;
    /** On create, take over a service of that name that already exists instead of failing (409). */
    readonly adopt?: pulumi.Input<boolean>;
}

/** Normalized inputs, as check() returns them and as kept in the state. */
export type TsuruServiceState = Omit<TsuruServiceRecord, "id"> & {
    apiUrl: string;
    serviceId: string;
    documentation?: string;
    adopt: boolean;
};

/** Defaults for the HTTP behaviour of the provider; stack config overrides timeout and retries. */
export interface TsuruServiceProviderOptions {
    /** Per-request timeout in ms (default 15000). */
    timeoutMs?: number;
    /** Retries on network errors, timeouts and 502/503/504 (default 3). */
    maxRetries?: number;
    /** First backoff delay in ms, doubled per retry (default 500). */
    backoffMs?: number;
    /** Ceiling of one backoff delay in ms (default 8000). */
    maxBackoffMs?: number;
}

type Failure = { property: string; reason: string };

/**
 * Validates and normalizes TsuruService inputs. Values still unknown (preview) are passed through
 * unchecked. Reasons never quote the password.
 */
export function validateServiceInputs(news: Record<string, unknown>):
    { inputs: Record<string, unknown>; failures: Failure[] } {
    const failures: Failure[] = [];
    const out: Record<string, unknown> = { ...news };
    const known = (v: unknown) => v !== UNKNOWN;

    const apiUrl = news.apiUrl;
    if (known(apiUrl)) {
        const reason = httpUrlProblem(apiUrl, true);
        if (reason) {
            failures.push({ property: "apiUrl", reason });
        } else {
            out.apiUrl = (apiUrl as string).replace(/\/+$/, "");
        }
    }

    const id = news.serviceId;
    if (known(id) && (typeof id !== "string" || id.length > MAX_ID_LENGTH || !ID_PATTERN.test(id))) {
        failures.push({
            property: "serviceId",
            reason: `must be 1-${MAX_ID_LENGTH} characters of lowercase letters, digits and dashes, starting ` +
                `with a letter (got ${JSON.stringify(id)})`,
        });
    }

    const team = news.team;
    if (known(team) && (typeof team !== "string" || !TEAM_PATTERN.test(team))) {
        failures.push({ property: "team", reason: `must be a non-empty Tsuru team name without spaces or "/" (got ${JSON.stringify(team)})` });
    }

    let endpoints = news.endpoints;
    if (typeof endpoints === "string" && known(endpoints)) {
        endpoints = { production: endpoints };
    }
    if (known(endpoints)) {
        if (endpoints === null || typeof endpoints !== "object" || Array.isArray(endpoints)
            || Object.keys(endpoints).length === 0) {
            failures.push({
                property: "endpoints",
                reason: "must be the broker URL or a non-empty map of cluster name to broker URL",
            });
        } else {
            for (const [cluster, url] of Object.entries(endpoints as Record<string, unknown>)) {
                if (!CLUSTER_PATTERN.test(cluster)) {
                    failures.push({
                        property: `endpoints.${cluster}`,
                        reason: "cluster names must be letters, digits, '-' or '_', starting with a letter or digit",
                    });
                }
                const reason = known(url) ? httpUrlProblem(url, false) : undefined;
                if (reason) {
                    failures.push({ property: `endpoints.${cluster}`, reason });
                }
            }
            out.endpoints = endpoints;
        }
    }

    const multi = news.multiCluster ?? false;
    if (known(multi) && typeof multi !== "boolean") {
        failures.push({ property: "multiCluster", reason: "must be true or false" });
    }
    out.multiCluster = multi;
    // Tsuru sends every instance of a single-cluster service to the production endpoint.
    if (multi === false && endpoints && typeof endpoints === "object" && !Array.isArray(endpoints)
        && Object.keys(endpoints).length > 0 && !("production" in endpoints)) {
        failures.push({
            property: "endpoints",
            reason: "needs a \"production\" entry unless multiCluster is true (Tsuru uses it for every instance)",
        });
    }

    const username = news.username;
    if (username === undefined || username === null || username === "") {
        out.username = id;
    } else if (known(username) && (typeof username !== "string" || username.includes(":"))) {
        failures.push({ property: "username", reason: "must be a string without ':' (it is a basic-auth user)" });
    }

    const password = news.password;
    if (known(password) && (typeof password !== "string" || password.length === 0)) {
        failures.push({ property: "password", reason: "is required: a non-empty string (generate it with @pulumi/random)" });
    }

    const encoding = news.encoding ?? "form";
    if (known(encoding) && encoding !== "form" && encoding !== "json") {
        failures.push({ property: "encoding", reason: `must be "form" or "json" (got ${JSON.stringify(encoding)})` });
    }
    out.encoding = encoding;

    const doc = news.documentation;
    if (doc !== undefined && doc !== null && known(doc) && typeof doc !== "string") {
        failures.push({ property: "documentation", reason: "must be a string" });
    }

    const adopt = news.adopt ?? false;
    if (known(adopt) && typeof adopt !== "boolean") {
        failures.push({ property: "adopt", reason: "must be true or false" });
    }
    out.adopt = adopt;

    return { inputs: withoutUndefined(out), failures };
}

/** The provider host turns results into protobuf Structs, which reject `undefined` values. */
function withoutUndefined(obj: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function httpUrlProblem(value: unknown, base: boolean): string | undefined {
    const example = base ? "https://tsuru.example.com" : "https://prometheus-broker.example.com";
    const allowed = `must be an absolute http(s) URL without credentials${base ? ", query or fragment" : ""}, e.g. ${example}`;
    if (typeof value !== "string" || value === "") {
        return allowed;
    }
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return `${allowed} (got ${JSON.stringify(value)})`;
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password
        || (base && (url.search || url.hash))) {
        return `${allowed} (got ${JSON.stringify(url.protocol === "http:" || url.protocol === "https:" ? url.origin + url.pathname : value)})`;
    }
    return undefined;
}

/** Fields whose change means a new Tsuru service rather than an update. */
const REPLACE_KEYS = ["serviceId", "multiCluster", "apiUrl"] as const;
/** Fields sent by update; `adopt` only matters on create. */
const UPDATE_KEYS = ["team", "endpoints", "username", "password", "encoding", "documentation"] as const;

export class TsuruServiceProvider implements pulumi.dynamic.ResourceProvider {
    // Set only in the provider process, by configure(); never serialized with a value.
    private token: string | undefined;
    private timeoutMs: number | undefined;
    private maxRetries: number | undefined;

    constructor(private readonly options: TsuruServiceProviderOptions = {}) {}

    async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
        const get = (key: string): string | undefined => {
            try {
                return req.config.get(key) || undefined;
            } catch {
                return undefined; // no Configure call happened: no config at all
            }
        };
        this.token = get(TSURU_TOKEN_CONFIG_KEY);
        this.timeoutMs = positiveInt(get(TSURU_TIMEOUT_CONFIG_KEY), TSURU_TIMEOUT_CONFIG_KEY, 1);
        this.maxRetries = positiveInt(get(TSURU_RETRIES_CONFIG_KEY), TSURU_RETRIES_CONFIG_KEY, 0);
    }

    async check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
        return validateServiceInputs(news);
    }

    async diff(_id: string, olds: TsuruServiceState, news: TsuruServiceState): Promise<pulumi.dynamic.DiffResult> {
        const changed = (key: keyof TsuruServiceState) => {
            const a = olds[key];
            const b = news[key];
            if (a === UNKNOWN || b === UNKNOWN || containsUnknown(b)) return true;
            return canonical(a) !== canonical(b);
        };
        const replaces = REPLACE_KEYS.filter((k) => changed(k));
        const updates = UPDATE_KEYS.filter((k) => changed(k));
        return {
            changes: replaces.length + updates.length > 0,
            replaces,
            // Same name on the same Tsuru: the new one cannot be created while the old one exists.
            deleteBeforeReplace: replaces.length > 0 && !changed("serviceId"),
        };
    }

    async create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
        const state = mustBeValid(inputs);
        const client = this.client(state);
        const record = toRecord(state);
        const what = `Tsuru service "${state.serviceId}" on ${state.apiUrl}`;
        try {
            // Probe first: a 409 after a retried POST then means our own earlier attempt got through.
            const exists = (await client.getServiceDoc(state.serviceId)) !== undefined;
            if (exists && !state.adopt) {
                throw new Error(alreadyExists(what, state.serviceId));
            }
            if (exists) {
                await client.updateService(record);
            } else {
                try {
                    await client.createService(record);
                } catch (err) {
                    if (!(err instanceof TsuruApiError && err.status === 409)) throw err;
                    if (err.attempts === 1 && !state.adopt) {
                        throw new Error(alreadyExists(what, state.serviceId));
                    }
                    await client.updateService(record);
                }
            }
        } catch (err) {
            throw explain(err, "create", what);
        }
        const outs = stateOutputs(state);
        if (state.documentation !== undefined) {
            try {
                await client.setServiceDoc(state.serviceId, state.documentation);
            } catch (err) {
                // Registered but not documented: keep it in the state so the next update retries the doc.
                throw new ResourceInitError(state.serviceId, outs,
                    [explain(err, "set the documentation of", what).message]);
            }
        }
        return { id: state.serviceId, outs };
    }

    async read(id: string, props?: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
        const apiUrl = typeof props?.apiUrl === "string" ? props.apiUrl : undefined;
        if (!apiUrl) {
            throw new Error(`Cannot read Tsuru service "${id}": the state has no apiUrl (use TsuruService.get(name, id, { apiUrl }))`);
        }
        const what = `Tsuru service "${id}" on ${apiUrl}`;
        let doc: string | undefined;
        try {
            const password = typeof props?.password === "string" ? props.password : undefined;
            doc = await this.client({ apiUrl, password }).getServiceDoc(id);
        } catch (err) {
            throw explain(err, "read", what);
        }
        if (doc === undefined) {
            return { id: "" }; // gone: refresh drops it from the state
        }
        const { __provider: _ignored, ...known } = props ?? {};
        const importing = known.serviceId === undefined;
        const outs = withoutUndefined({
            ...known,
            serviceId: id,
            // An empty doc and no documentation input are the same thing.
            documentation: doc === "" && known.documentation === undefined ? undefined : doc,
        });
        return importing ? { id, props: outs, inputs: outs } : { id, props: outs };
    }

    async update(id: string, olds: TsuruServiceState, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
        const state = mustBeValid(news);
        const client = this.client(state);
        const what = `Tsuru service "${id}" on ${state.apiUrl}`;
        try {
            await client.updateService(toRecord(state));
            if (state.documentation !== undefined || olds.documentation !== undefined) {
                await client.setServiceDoc(id, state.documentation ?? "");
            }
        } catch (err) {
            if (err instanceof TsuruApiError && err.status === 404) {
                throw new Error(`${what} no longer exists: run \`pulumi refresh\` so that the next \`pulumi up\` ` +
                    `registers it again (Tsuru said: ${err.tsuruMessage})`);
            }
            throw explain(err, "update", what);
        }
        return { outs: stateOutputs(state) };
    }

    async delete(id: string, props: TsuruServiceState): Promise<void> {
        const what = `Tsuru service "${id}" on ${props.apiUrl}`;
        try {
            await this.client(props).deleteService(id);
        } catch (err) {
            if (err instanceof TsuruApiError && err.status === 404) {
                return; // already gone
            }
            if (err instanceof TsuruApiError && err.status === 403 && /instance/i.test(err.tsuruMessage)) {
                throw new Error(`Cannot delete ${what}: it still has service instances. Remove them first ` +
                    `(\`tsuru service-instance-list\`, then \`tsuru service-instance-remove ${id} <instance>\`) and ` +
                    `run pulumi again. Tsuru said: ${err.tsuruMessage}`);
            }
            throw explain(err, "delete", what);
        }
    }

    private client(state: Pick<TsuruServiceState, "apiUrl"> & Partial<TsuruServiceState>): TsuruClient {
        const token = this.token ?? (process.env[TSURU_TOKEN_ENV] || undefined);
        if (!token) {
            throw new Error(`No Tsuru API token for ${state.apiUrl}: set it with ` +
                `\`pulumi config set --secret ${TSURU_TOKEN_CONFIG_KEY} <token>\` or the ${TSURU_TOKEN_ENV} ` +
                "environment variable of the pulumi process");
        }
        return new TsuruClient({
            apiUrl: state.apiUrl,
            token,
            timeoutMs: this.timeoutMs ?? this.options.timeoutMs,
            maxRetries: this.maxRetries ?? this.options.maxRetries,
            backoffMs: this.options.backoffMs,
            maxBackoffMs: this.options.maxBackoffMs,
            redact: state.password ? [state.password] : [],
        });
    }
}

/** A create that registered the service but failed afterwards: Pulumi keeps it and retries with an update. */
class ResourceInitError extends Error {
    constructor(readonly id: string, readonly properties: Record<string, unknown>, readonly reasons: string[]) {
        super(reasons.join("; "));
    }
}

function mustBeValid(inputs: Record<string, unknown>): TsuruServiceState {
    const { inputs: normalized, failures } = validateServiceInputs(inputs);
    if (failures.length > 0) {
        throw new Error(`Invalid TsuruService inputs: ${failures.map((f) => `${f.property} ${f.reason}`).join("; ")}`);
    }
    return normalized as unknown as TsuruServiceState;
}

function toRecord(s: TsuruServiceState): TsuruServiceRecord {
    return {
        id: s.serviceId, team: s.team, endpoints: s.endpoints, username: s.username,
        password: s.password, multiCluster: s.multiCluster, encoding: s.encoding,
    };
}

function stateOutputs(s: TsuruServiceState): Record<string, unknown> {
    const { __provider: _ignored, ...outs } = s as unknown as Record<string, unknown>;
    return withoutUndefined(outs);
}

function alreadyExists(what: string, id: string): string {
    return `${what} already exists and is not managed by this stack. To manage it from this stack, set ` +
        "`adopt: true` on the TsuruService and run `pulumi up` again: its endpoints, username, password and " +
        "documentation are then overwritten with the stack's (the broker's credentials change). Otherwise choose " +
        `another serviceId, or remove it with \`tsuru service-destroy ${id}\`. (\`pulumi import\` cannot adopt ` +
        "dynamic-provider resources: the engine does not hand the provider code to Read on import, pulumi/pulumi#16175.)";
}

function explain(err: unknown, action: string, what: string): Error {
    if (err instanceof TsuruApiError && err.status === 401) {
        return new Error(`Tsuru rejected the API token while trying to ${action} ${what} (401: ${err.tsuruMessage}). ` +
            `Set a valid token with \`pulumi config set --secret ${TSURU_TOKEN_CONFIG_KEY} <token>\` or ${TSURU_TOKEN_ENV}.`);
    }
    if (err instanceof TsuruApiError && err.status === 403) {
        return new Error(`Tsuru refused to ${action} ${what} (403: ${err.tsuruMessage}): the token's user needs ` +
            "the service permissions on the service's team");
    }
    if (err instanceof TsuruApiError) {
        return new Error(`Could not ${action} ${what}: ${err.message}`);
    }
    return err instanceof Error ? err : new Error(String(err));
}

function positiveInt(text: string | undefined, key: string, min: number): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
        throw new Error(`Stack config ${key} must be an integer ≥ ${min} (got ${JSON.stringify(text)})`);
    }
    return n;
}

function canonical(value: unknown): string {
    if (value === undefined || value === null || value === "") return "";
    if (typeof value === "object" && !Array.isArray(value)) {
        const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return JSON.stringify(entries);
    }
    return JSON.stringify(value);
}

function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (value && typeof value === "object") {
        return Object.values(value as Record<string, unknown>).some(containsUnknown);
    }
    return false;
}

const defaultProvider = new TsuruServiceProvider();

/**
 * A service registered in a Tsuru API (what `tsuru service-create` does by hand), kept in sync on each
 * `pulumi up`. The provider reads the API token at run time from stack config `tsuru:token` or the
 * TSURU_TOKEN environment variable; it is never stored in the state.
 */
export class TsuruService extends pulumi.dynamic.Resource {
    // `declare`: ES2022 class fields would otherwise reset the outputs set by the base constructor.
    declare public readonly apiUrl: pulumi.Output<string>;
    declare public readonly serviceId: pulumi.Output<string>;
    declare public readonly team: pulumi.Output<string>;
    declare public readonly endpoints: pulumi.Output<Record<string, string>>;
    declare public readonly username: pulumi.Output<string>;
    declare public readonly password: pulumi.Output<string>;
    declare public readonly multiCluster: pulumi.Output<boolean>;
    declare public readonly encoding: pulumi.Output<"form" | "json">;
    declare public readonly documentation: pulumi.Output<string | undefined>;
    declare public readonly adopt: pulumi.Output<boolean>;

    /** Reads an existing service without managing it (its apiUrl is needed to know which Tsuru to ask). */
    static get(name: string, id: pulumi.Input<string>, state: { apiUrl: pulumi.Input<string> },
        opts?: pulumi.CustomResourceOptions): TsuruService {
        return new TsuruService(name, state as TsuruServiceArgs, { ...opts, id });
    }

    /** `provider` is for tests (faster timeouts); programs keep the default. */
    constructor(name: string, args: TsuruServiceArgs, opts?: pulumi.CustomResourceOptions,
        provider: TsuruServiceProvider = defaultProvider) {
        if (!opts?.id) {
            assertKnownArgs(name, args);
        }
        const props: Record<string, unknown> = {
            apiUrl: args.apiUrl,
            serviceId: args.serviceId,
            team: args.team,
            endpoints: args.endpoints,
            username: args.username,
            password: args.password === undefined ? undefined : pulumi.secret(args.password),
            multiCluster: args.multiCluster,
            encoding: args.encoding,
            documentation: args.documentation,
            adopt: args.adopt,
        };
        super(provider, name, props,
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password"] }), MODULE, TYPE);
    }
}

/** Fails fast, before any engine call, on args that are already known and invalid. */
function assertKnownArgs(name: string, args: TsuruServiceArgs): void {
    const plain = (v: unknown): unknown => {
        if (v === undefined || typeof v === "string" || typeof v === "boolean") return v;
        if (v && typeof v === "object" && !pulumi.Output.isInstance(v) && !(v instanceof Promise)) {
            const out: Record<string, unknown> = {};
            for (const [k, inner] of Object.entries(v)) out[k] = plain(inner);
            return out;
        }
        return UNKNOWN;
    };
    const { failures } = validateServiceInputs({
        apiUrl: plain(args.apiUrl),
        serviceId: plain(args.serviceId),
        team: plain(args.team),
        endpoints: plain(args.endpoints),
        username: plain(args.username),
        password: UNKNOWN, // secrets are only checked by the provider
        multiCluster: plain(args.multiCluster),
        encoding: plain(args.encoding),
        documentation: plain(args.documentation),
        adopt: plain(args.adopt),
    });
    if (failures.length > 0) {
        throw new Error(`TsuruService "${name}": ${failures.map((f) => `${f.property} ${f.reason}`).join("; ")}`);
    }
}
