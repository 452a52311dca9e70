export { TsuruApiError, TsuruClient, servicePath } from "./client";
export type { TsuruClientOptions, TsuruFailureKind, TsuruRetryEvent, TsuruServiceRecord } from "./client";
export {
    TSURU_RETRIES_CONFIG_KEY,
    TSURU_TIMEOUT_CONFIG_KEY,
    TSURU_TOKEN_CONFIG_KEY,
    TSURU_TOKEN_ENV,
    TsuruService,
    TsuruServiceProvider,
    validateServiceInputs,
} from "./service";
export type { TsuruServiceArgs, TsuruServiceProviderOptions, TsuruServiceState } from "./service";
