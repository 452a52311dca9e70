// Tsuru API client for service registration (contract: shared/reference/tsuru-api.md §A).
// No Pulumi imports: this module is captured by value into the serialized dynamic provider.

/** Tuning and credentials of a {@link TsuruClient}. */
export interface TsuruClientOptions {
    /** Base URL of the Tsuru API, e.g. `https://tsuru.example.com` (routes are appended as `/1.0/...`). */
    apiUrl: string;
    /** Tsuru API token, sent as `Authorization: bearer <token>`. */
    token: string;
    /** Per-attempt timeout in milliseconds (default 15000). */
    timeoutMs?: number;
    /** Retries after the first attempt, for network errors, timeouts and 502/503/504 (default 3). */
    maxRetries?: number;
    /** First backoff delay in milliseconds, doubled on each retry (default 500). */
    backoffMs?: number;
    /** Upper bound of a single backoff delay in milliseconds (default 8000). */
    maxBackoffMs?: number;
    /** Further strings that must never appear in error messages (e.g. the service password). */
    redact?: string[];
    /** Observer called before each retry; it never receives credentials. */
    onRetry?: (event: TsuruRetryEvent) => void;
}

/** What a retry observer is told. */
export interface TsuruRetryEvent {
    method: string;
    path: string;
    /** The attempt that just failed, starting at 1. */
    attempt: number;
    delayMs: number;
    reason: string;
}

/** The whole record Tsuru keeps for a service; create and update both send all of it. */
export interface TsuruServiceRecord {
    /** Service name (Tsuru's `id`). */
    id: string;
    /** Owner team. */
    team: string;
    /** Cluster name → broker URL; `production` is the default endpoint. */
    endpoints: Record<string, string>;
    /** Basic-auth user Tsuru presents to the broker. */
    username: string;
    /** Basic-auth password Tsuru presents to the broker. */
    password: string;
    /** Whether Tsuru picks the endpoint by the instance's cluster (create only). */
    multiCluster: boolean;
    /** How Tsuru encodes bodies sent to the broker. */
    encoding: "form" | "json";
}

export type TsuruFailureKind = "http" | "timeout" | "network";

/** A failed Tsuru API call. Carries no credentials. */
export class TsuruApiError extends Error {
    constructor(
        readonly method: string,
        readonly path: string,
        readonly kind: TsuruFailureKind,
        /** HTTP status, when Tsuru answered. */
        readonly status: number | undefined,
        /** Tsuru's plain-text error message (or the network/timeout reason). */
        readonly tsuruMessage: string,
        readonly attempts: number,
    ) {
        const what = status !== undefined ? `${status} ${tsuruMessage}` : tsuruMessage;
        const tries = attempts > 1 ? ` (after ${attempts} attempts)` : "";
        super(`Tsuru API ${method} ${path} failed: ${what}${tries}`);
        this.name = "TsuruApiError";
    }
}

const RETRYABLE_STATUS = [502, 503, 504];
const MAX_MESSAGE_CHARS = 500;

export class TsuruClient {
    private readonly base: string;
    private readonly timeoutMs: number;
    private readonly maxRetries: number;
    private readonly backoffMs: number;
    private readonly maxBackoffMs: number;

    constructor(private readonly options: TsuruClientOptions) {
        if (!options.token) {
            throw new Error("TsuruClient: an API token is required");
        }
        this.base = options.apiUrl.replace(/\/+$/, "");
        this.timeoutMs = options.timeoutMs ?? 15000;
        this.maxRetries = Math.max(0, options.maxRetries ?? 3);
        this.backoffMs = options.backoffMs ?? 500;
        this.maxBackoffMs = options.maxBackoffMs ?? 8000;
    }

    /** `POST /1.0/services` (201); 409 when the name is taken. */
    async createService(record: TsuruServiceRecord): Promise<void> {
        await this.request("POST", "/1.0/services", serviceForm(record, true), [record.password]);
    }

    /** `PUT /1.0/services/{id}` with the whole record (Tsuru answers 400 when endpoints or password are missing). */
    async updateService(record: TsuruServiceRecord): Promise<void> {
        await this.request("PUT", servicePath(record.id), serviceForm(record, false), [record.password]);
    }

    /** `DELETE /1.0/services/{id}`. */
    async deleteService(id: string): Promise<void> {
        await this.request("DELETE", servicePath(id));
    }

    /** The service's documentation, or `undefined` when the service does not exist (the cheap existence probe). */
    async getServiceDoc(id: string): Promise<string | undefined> {
        try {
            return (await this.request("GET", `${servicePath(id)}/doc`)).body;
        } catch (err) {
            if (err instanceof TsuruApiError && err.status === 404) {
                return undefined;
            }
            throw err;
        }
    }

    /** `PUT /1.0/services/{id}/doc`. */
    async setServiceDoc(id: string, doc: string): Promise<void> {
        await this.request("PUT", `${servicePath(id)}/doc`, [["doc", doc]]);
    }

    /**
     * One call with retries. Only network errors, timeouts and 502/503/504 are retried: Tsuru's 4xx
     * answers are final. Resolves on 2xx, otherwise throws {@link TsuruApiError}.
     */
    async request(
        method: string,
        path: string,
        form?: Array<[string, string]>,
        secrets: string[] = [],
    ): Promise<{ status: number; body: string; attempts: number }> {
        const hidden = [this.options.token, ...(this.options.redact ?? []), ...secrets];
        const headers: Record<string, string> = {
            Authorization: `bearer ${this.options.token}`,
            Accept: "text/plain, application/json",
        };
        let body: string | undefined;
        if (form) {
            headers["Content-Type"] = "application/x-www-form-urlencoded";
            body = new URLSearchParams(form).toString();
        }
        for (let attempt = 1; ; attempt++) {
            let failure: TsuruApiError;
            try {
                const res = await fetch(this.base + path, {
                    method,
                    headers,
                    body,
                    redirect: "manual",
                    signal: AbortSignal.timeout(this.timeoutMs),
                });
                const text = await res.text();
                if (res.status >= 200 && res.status < 300) {
                    return { status: res.status, body: text, attempts: attempt };
                }
                failure = new TsuruApiError(method, path, "http", res.status,
                    cleanMessage(text, res.statusText, hidden), attempt);
                if (!RETRYABLE_STATUS.includes(res.status)) {
                    throw failure;
                }
            } catch (err) {
                if (err instanceof TsuruApiError) {
                    throw err;
                }
                failure = describeFetchError(err, method, path, attempt, this.timeoutMs, hidden);
            }
            if (attempt > this.maxRetries) {
                throw failure;
            }
            const delayMs = this.delayFor(attempt);
            this.options.onRetry?.({ method, path, attempt, delayMs, reason: failure.tsuruMessage });
            await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
    }

    private delayFor(attempt: number): number {
        const ceiling = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
        // Half fixed, half jitter: retries of several stacks do not hit Tsuru in lockstep.
        return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    }
}

/** The path of one service; the name is escaped although check() already restricts it. */
export function servicePath(id: string): string {
    return `/1.0/services/${encodeURIComponent(id)}`;
}

function serviceForm(record: TsuruServiceRecord, create: boolean): Array<[string, string]> {
    const form: Array<[string, string]> = [
        ["id", record.id],
        ["username", record.username],
        ["password", record.password],
        ["team", record.team],
        ["encoding", record.encoding],
    ];
    for (const cluster of Object.keys(record.endpoints).sort()) {
        form.push([`endpoints.${cluster}`, record.endpoints[cluster]]);
    }
    if (create) {
        form.push(["multi-cluster", record.multiCluster ? "true" : "false"]);
    }
    return form;
}

function describeFetchError(
    err: unknown, method: string, path: string, attempt: number, timeoutMs: number, hidden: string[],
): TsuruApiError {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === "TimeoutError" || e?.name === "AbortError") {
        return new TsuruApiError(method, path, "timeout", undefined, `timed out after ${timeoutMs} ms`, attempt);
    }
    const reason = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
    return new TsuruApiError(method, path, "network", undefined,
        redactAll(`network error: ${reason}`, hidden), attempt);
}

function cleanMessage(text: string, statusText: string, hidden: string[]): string {
    let message = text.trim() || statusText || "(empty body)";
    if (message.length > MAX_MESSAGE_CHARS) {
        message = `${message.slice(0, MAX_MESSAGE_CHARS)}…`;
    }
    return redactAll(message, hidden);
}

function redactAll(text: string, hidden: string[]): string {
    let out = text;
    for (const secret of hidden) {
        if (secret && secret.length >= 4) {
            out = out.split(secret).join("[redacted]");
        }
    }
    return out;
}
