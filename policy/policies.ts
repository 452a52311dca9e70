/**
 * Every policy of the pack, in the order of docs/pipeline-and-ci.md. Each is a plain object with a pure `check`
 * besides the engine-facing validateResource/validateStack, so tests evaluate them without the engine.
 */
import type { PaasPolicy } from "./lib/model";
import { imagesPinned, memoryLimits, nonRoot } from "./rules/containers";
import { deleteOnlyCompactor, noWildcardActions, s3ScopedToBucket } from "./rules/iam";
import { instancesNamespaceDefaultDeny, loadBalancerInternal, noPublicIngress } from "./rules/network";
import { externalLabelsSet, externalLabelsUnique, flushOnShutdown, memoryCoversTmpfs, retentionBelowTmpfs, sidecarFlags, tmpfsSizeLimit, webAuthRequired } from "./rules/prometheus";
import { logRetention, noCredentialsInConfigMaps, noPlaintextCredentialsInContainers, tsuruPasswordSecret } from "./rules/secrets";
import { ecsEfsTransitEncryption, efsEncrypted, s3BucketEncrypted, s3Lifecycle, s3PublicAccessBlocked, s3TlsOnly, tsdbNotOnNfs } from "./rules/storage";
import { compactorSingleton, historyReadable, tenancySealed } from "./rules/thanos";

export const packName = "prometheus-paas";

export const policies: readonly PaasPolicy[] = [
    // Storage and data
    s3BucketEncrypted,
    s3PublicAccessBlocked,
    s3TlsOnly,
    s3Lifecycle,
    efsEncrypted,
    ecsEfsTransitEncryption,
    tsdbNotOnNfs,
    // Prometheus on tmpfs, with a Thanos sidecar
    tmpfsSizeLimit,
    memoryCoversTmpfs,
    retentionBelowTmpfs,
    sidecarFlags,
    flushOnShutdown,
    externalLabelsSet,
    externalLabelsUnique,
    webAuthRequired,
    // Thanos
    compactorSingleton,
    historyReadable,
    tenancySealed,
    // Network
    noPublicIngress,
    loadBalancerInternal,
    instancesNamespaceDefaultDeny,
    // IAM
    noWildcardActions,
    s3ScopedToBucket,
    deleteOnlyCompactor,
    // Containers
    imagesPinned,
    memoryLimits,
    nonRoot,
    // Secrets and logs
    noCredentialsInConfigMaps,
    noPlaintextCredentialsInContainers,
    tsuruPasswordSecret,
    logRetention,
];

export function policyNamed(name: string): PaasPolicy {
    const found = policies.find((policy) => policy.name === name);
    if (found === undefined) throw new Error(`no policy named ${name}; policies: ${policies.map((p) => p.name).join(", ")}`);
    return found;
}

export * from "./lib/model";
export { secretPathsKey, unknownObject, unknownString } from "./lib/values";
export type { EnforcementLevel, PolicyResource, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
