import { PolicyPack } from "@pulumi/policy";
import { packName, policies } from "./policies";

// The engine reads only what PolicyPack needs; our extra fields (check, scope) stay internal.
new PolicyPack(packName, {
    policies: policies.map(({ check, scope, ...policy }) => policy),
    enforcementLevel: "mandatory",
});
