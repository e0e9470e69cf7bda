package store

// Internal tests of the script files: each loads (with its libraries, plain
// and with the allow-oom flag where the server has script flags), and the
// key names lib/keys.lua derives are the ones keys.go builds.

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestScriptsLoad(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	r := NewRedis(c, "load")
	names, err := fs.Glob(luaFiles, "lua/*.lua")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded scripts: %v", err)
	}
	for _, file := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "lua/"), ".lua")
		t.Run(name, func(t *testing.T) {
			header := mustReadLua(name + ".lua")
			if i := strings.Index(header, "\n\n"); i >= 0 {
				header = header[:i]
			}
			for _, want := range []string{"-- " + name + ".lua: ", "-- KEYS[1", "-- Returns "} {
				if !strings.Contains(header, want) {
					t.Errorf("header does not list %q", want)
				}
			}
			src := scriptSource(name)
			if !strings.HasSuffix(src, mustReadLua(name+".lua")) {
				t.Fatal("the script's own text does not end its source")
			}
			if err := c.ScriptLoad(t.Context(), src).Err(); err != nil {
				t.Fatalf("SCRIPT LOAD: %v", err)
			}
			if r.supportsScriptFlags(t.Context()) {
				if err := newOOMScript(r, name).flagged.Load(t.Context(), c).Err(); err != nil {
					t.Fatalf("SCRIPT LOAD with allow-oom: %v", err)
				}
			}
		})
	}
}

func TestScriptSourcePrependsLibraries(t *testing.T) {
	src := scriptSource("settle_claim")
	var at []int
	for _, lib := range []string{"lib/keys.lua", "lib/link.lua", "lib/gcra.lua", "lib/settle.lua", "lib/claim.lua",
		"settle_claim.lua"} {
		i := strings.Index(src, mustReadLua(lib))
		if i < 0 {
			t.Fatalf("%s not in the source", lib)
		}
		at = append(at, i)
	}
	for i := 1; i < len(at); i++ {
		if at[i] <= at[i-1] {
			t.Fatalf("files out of order at %d: offsets %v", i, at)
		}
	}
	if src := scriptSource("pause"); src != mustReadLua("pause.lua") {
		t.Fatal("a script without libraries is not its file alone")
	}
}

func TestLuaKeysMatchGo(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	const p, id, chat, user, token = "{tgn}", "n1", "-100123", "user|1", "tok"
	got, err := c.Eval(t.Context(), mustReadLua("lib/keys.lua")+`
local p, id, chat, user, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
return {record_key(p, id), backlog_key(p, chat), pacing_key(p, chat), migration_key(p, chat),
  summary_key(p, user), token_key(p, token), user_token_key(p, user), link_key(p, user), index_key(p, chat),
  index_set_key(p, chat), unlinked_key(p, user)}
`, nil, p, id, chat, user, token).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	const chatID = -100123
	want := []string{recordKey(p, id), backlogKey(p, chatID), pacingKey(p, chatID), migrationKey(p, chatID),
		summaryKey(p, user), tokenKey(p, token), userTokenKey(p, user), linkKey(p, user), chatIndexKey(p, chatID),
		chatUsersKey(p, chatID), unlinkedKey(p, user)}
	if len(got) != len(want) {
		t.Fatalf("Lua keys %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d: Lua %q, Go %q", i, got[i], want[i])
		}
	}
}
