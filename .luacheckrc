-- luacheck configuration for the Redis scripts (store/lua, see store/scripts.go).
-- Redis runs them as Lua 5.1 with these globals, read-only.
std = "lua51"
read_globals = {"redis", "KEYS", "ARGV", "cjson", "cmsgpack", "bit"}

-- A script runs with the libraries its "-- uses:" header line names
-- prepended (store/scripts.go), so the scripts see the libraries' local
-- functions; luacheck checks each file alone, so they are declared here.
local libs = {
  -- lib/keys.lua
  "link_bucket", "record_key", "backlog_key", "pacing_key", "migration_key", "summary_key", "token_key",
  "user_token_key", "link_key", "index_key", "index_set_key", "unlinked_key",
  -- lib/link.lua
  "link_chat_of", "link_username_of", "link_chat", "index_add", "index_del", "index_users", "index_clear",
  -- lib/gcra.lua
  "gcra_now", "gcra_wait", "gcra",
  -- lib/events.lua
  "EV_LINKED", "EV_UNLINKED", "EV_SENT", "EV_FAILED", "ev_log", "ev_append", "ev_unlinked",
  -- lib/claim.lua
  "claim_limit", "claim",
  -- lib/op.lua
  "queue_op", "drop_op", "settle_op",
  -- lib/settle.lua
  "lease_chat", "settle",
  -- lib/bc.lua
  "EV_BC_FINISHED", "bc_key", "bc_flight_key", "bc_failures_key", "bc_recipients_key", "bc_template_key",
  "bc_running_key", "bc_fail", "bc_check_done", "bc_cancel_unsent", "bc_settled",
}
files["store/lua"] = {read_globals = libs}
-- A library defines functions for the scripts that include it: unused
-- within the library itself.
files["store/lua/lib"] = {read_globals = libs, ignore = {"211"}}
