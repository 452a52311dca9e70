/**
 * Pure renderers for Thanos: objstore.yml and the flags of sidecar, store, query and compactor.
 * Shared by the Kubernetes and ECS implementations; no Pulumi imports.
 */
import * as yaml from "js-yaml";
import type { ThanosConfig } from "../config/types";
import { prometheusWebPort } from "../prometheus/defaults";
import { parseDurationSeconds, prometheusDuration } from "../units";
import { queryHttpPort, storeSyncInterval, thanosPorts } from "./defaults";
import { tenancyQueryArgs, tenancyQueryGrpcAddress } from "./tenancy";

/**
 * Who a Query serves: the platform's own Grafana and alerting read every tenant; the tenants' Query enforces the
 * `tenant` label and is reached only through each instance's history front (tenancy.ts).
 */
export type QueryAudience = "platform" | "tenants";

export interface ObjstoreInput {
    readonly bucket: string;
    /** host[:port], no scheme. */
    readonly endpoint: string;
    readonly region: string;
    readonly pathStyle?: boolean;
    readonly insecure?: boolean;
    /** Static credentials; without them the AWS SDK's default chain is used (task role, IRSA). */
    readonly accessKey?: string;
    readonly secretKey?: string;
    readonly kmsKeyArn?: string;
}

export function renderObjstoreConfig(input: ObjstoreInput): string {
    const config: Record<string, unknown> = {
        bucket: input.bucket,
        endpoint: input.endpoint,
        region: input.region,
        insecure: input.insecure ?? false,
        signature_version2: false,
        bucket_lookup_type: input.pathStyle ? "path" : "auto",
    };
    if (input.accessKey !== undefined && input.secretKey !== undefined) {
        config.access_key = input.accessKey;
        config.secret_key = input.secretKey;
    } else {
        config.aws_sdk_auth = true;
    }
    if (input.kmsKeyArn !== undefined) {
        config.sse_config = { type: "SSE-KMS", kms_key_id: input.kmsKeyArn };
    }
    return yaml.dump({ type: "S3", config, prefix: "" }, { lineWidth: -1 });
}

/** The regional S3 endpoint Thanos should use for a bucket created in AWS. */
export function awsS3Endpoint(region: string): string {
    return `s3.${region}.amazonaws.com`;
}

export interface SidecarArgsInput {
    readonly tsdbPath: string;
    readonly objstoreFile: string;
    /** Config template with $(VAR) placeholders, and where the reloader writes the substituted file. */
    readonly configTemplate: string;
    readonly configOut: string;
    readonly ruleDir: string;
    /** The instance's credentials for Prometheus' API, used by the sidecar and its reloader (the `http` method). */
    readonly prometheusHttpClientFile: string;
}

export function sidecarArgs(input: SidecarArgsInput): string[] {
    return [
        "sidecar",
        "--log.format=logfmt",
        `--tsdb.path=${input.tsdbPath}`,
        `--prometheus.url=http://localhost:${prometheusWebPort}`,
        `--prometheus.http-client-file=${input.prometheusHttpClientFile}`,
        `--objstore.config-file=${input.objstoreFile}`,
        `--reloader.config-file=${input.configTemplate}`,
        `--reloader.config-envsubst-file=${input.configOut}`,
        `--reloader.rule-dir=${input.ruleDir}`,
        // `signal` would SIGHUP the first process named prometheus on the host; `http` posts /-/reload with the credentials.
        "--reloader.method=http",
        `--grpc-address=0.0.0.0:${thanosPorts.grpc}`,
        `--http-address=0.0.0.0:${thanosPorts.http}`,
    ];
}

/** Where a component reads objstore.yml: a mounted file (Kubernetes Secret), or inline (ECS, task-role auth, no secret in it). */
export type ObjstoreSource = { readonly objstoreFile: string; readonly objstoreConfig?: undefined } | { readonly objstoreConfig: string; readonly objstoreFile?: undefined };

function objstoreFlag(source: ObjstoreSource): string {
    return source.objstoreFile !== undefined ? `--objstore.config-file=${source.objstoreFile}` : `--objstore.config=${source.objstoreConfig}`;
}

/**
 * The store stops reading a block marked for deletion after half the compactor's delete delay (Thanos' own
 * guidance): the compacted or downsampled replacement is loaded by then, and the marked block is still in the
 * bucket while any query may read it. At 0s (delete at once) both are immediate.
 */
export function ignoreDeletionMarksDelay(compactor: Pick<ThanosConfig["compactor"], "deleteDelay">): string {
    return prometheusDuration(Math.floor(parseDurationSeconds(compactor.deleteDelay)! / 2));
}

export function storeArgs(input: { dataDir: string; thanos: ThanosConfig } & ObjstoreSource): string[] {
    return [
        "store",
        "--log.format=logfmt",
        `--data-dir=${input.dataDir}`,
        objstoreFlag(input),
        // Thanos' 15m default would hide a flushed head for up to 15 minutes after a restart.
        `--sync-block-duration=${storeSyncInterval}`,
        `--ignore-deletion-marks-delay=${ignoreDeletionMarksDelay(input.thanos.compactor)}`,
        `--grpc-address=0.0.0.0:${thanosPorts.grpc}`,
        `--http-address=0.0.0.0:${thanosPorts.http}`,
    ];
}

/**
 * Query fans out to every StoreAPI endpoint and deduplicates HA replicas on the replica label. A range query
 * without max_source_resolution reads blocks up to step/5 (auto-downsampling): without it, Query reads raw blocks
 * only, and history past the raw retention (5m and 1h blocks) would return nothing. Steps under 25m stay raw.
 * The tenants' Query also enforces the tenant, and keeps its gRPC (which enforces nothing) inside its pod.
 */
export function queryArgs(input: { endpoints: readonly string[]; replicaLabel: string; audience: QueryAudience }): string[] {
    const tenants = input.audience === "tenants";
    return [
        "query",
        "--log.format=logfmt",
        `--http-address=0.0.0.0:${queryHttpPort}`,
        `--grpc-address=${tenants ? tenancyQueryGrpcAddress : `0.0.0.0:${thanosPorts.grpc}`}`,
        `--query.replica-label=${input.replicaLabel}`,
        "--query.auto-downsampling",
        ...(tenants ? tenancyQueryArgs() : []),
        ...input.endpoints.map((endpoint) => `--endpoint=${endpoint}`),
    ];
}

/**
 * The bucket's one compactor. It deduplicates HA replicas: with the replica label ignored, a pair's blocks form
 * one stream, and their overlapping blocks (2h blocks of both replicas, and the short blocks a shutdown flush
 * uploads) are merged by vertical compaction into one copy. The merge is `penalty`, the algorithm Query uses at
 * read time: replicas scrape at different times, so their samples never share timestamps, and Thanos' default
 * one-to-one merge (for receivers that copy identical samples) would interleave both replicas' samples.
 * Consistency delay: a fresh block is left alone until its ULID is that old, so a block still uploading (meta.json
 * is written last, but an upload can stop half-way) is never compacted.
 */
export function compactorArgs(input: { dataDir: string; thanos: ThanosConfig } & ObjstoreSource): string[] {
    const { compactor, replicaLabel } = input.thanos;
    return [
        "compact",
        "--log.format=logfmt",
        "--wait",
        `--data-dir=${input.dataDir}`,
        objstoreFlag(input),
        `--http-address=0.0.0.0:${thanosPorts.http}`,
        `--consistency-delay=${compactor.consistencyDelay}`,
        `--retention.resolution-raw=${compactor.retentionRaw}`,
        `--retention.resolution-5m=${compactor.retention5m}`,
        `--retention.resolution-1h=${compactor.retention1h}`,
        `--delete-delay=${compactor.deleteDelay}`,
        // Also turns vertical compaction on, which a flush needs within one replica's own blocks too: a flushed
        // head overlaps the block Prometheus cuts later from the same head when only the container restarted.
        `--deduplication.replica-label=${replicaLabel}`,
        "--deduplication.func=penalty",
    ];
}
