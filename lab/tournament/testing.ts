/**
 * Test helpers of `lab/tournament/` for tests and benches in other folders: the planted scripted model and its
 * setup (tournament config, strategies with a planted strong one, challenges and their reference SQL), the
 * options of a test run and the state it leaves in its store, and the store's episode insert.
 * @module
 */
export { AS_OF, plantedModel, plantedSetup, referenceSql } from "./_test_model.ts";
export { storedState, TEST_RUN_ID, testRunOptions } from "./_test_store.ts";
export { insertEpisodes } from "./store.ts";
