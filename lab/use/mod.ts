/**
 * Learning from use (seeds 003 and 004): corrections of `lab ask` answers and their diffs, edit-pattern analytics,
 * performance analytics with regression alerts, and learned routing.
 * @module
 */
