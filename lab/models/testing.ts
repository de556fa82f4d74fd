/**
 * Test support of `lab/models/`: a toy vehicle-fleet schema unrelated to the ERP sandbox, lab-mini pretrained on it
 * (in a temp directory), task families the base parser cannot express with their gold SQL, and what the fleet
 * tests share (tools, chat lines the trainer cannot use, the share of tasks answered right); for the models
 * client, a question as messages, the models config with its entries pointed at the placeholder model, and fast
 * retries.
 * @module
 */
export {
  chatLine,
  type FamilyTask,
  familyTasks,
  fleet,
  FLEET_SQL,
  run,
  sqlAccuracy,
  SQL_TOOLS,
  type TempFleet,
  tempFleet,
  toolDefs,
  UNUSABLE_CHAT_LINES,
} from "./lab_mini/testdata/fleet.ts";
export { ask, FAST_RETRY, loadPlaceholderModels, type PlaceholderModels } from "./_test_client.ts";
