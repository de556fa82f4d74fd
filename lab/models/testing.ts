/**
 * Test data of `lab/models/` for tests in other folders: a toy vehicle-fleet schema unrelated to the ERP sandbox,
 * lab-mini pretrained on it, and task families the base parser cannot express, each with its gold SQL.
 * @module
 */
export { chatLine, type FamilyTask, familyTasks, fleet, FLEET_SQL, run } from "./lab_mini/testdata/fleet.ts";
