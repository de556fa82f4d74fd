/**
 * Test helpers of `lab/datasets/` for tests in other folders: episode records on catalog instances, examples with
 * chosen fields, planted catalog instances, and canary personal data and secrets.
 * @module
 */
export { CANARIES, challenge, example, record, type RecordSpec } from "./_fixtures.ts";
