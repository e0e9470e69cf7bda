package store

// Redis scripts are files: store/lua/<name>.lua, embedded in the binary.
// Each opens with a header comment listing its KEYS, ARGV and what it
// returns. Helpers shared by several scripts live in store/lua/lib/*.lua; a
// script that needs them names them on one header line,
//
//	-- uses: lib/keys.lua lib/link.lua
//
// and loadScript prepends those files, in that order, to the script's text
// (a library needing another is listed after it). The script then sees
// the libraries' local functions as its own. The key names a script
// derives from values it reads are built by lib/keys.lua, which mirrors
// keys.go; every other key is built in Go (keys.go) and passed in KEYS,
// and the key prefix in ARGV.
//
// luacheck checks the files (.luacheckrc at the repository root; .ci/run
// runs `luacheck store/lua`).

import (
	"embed"
	"fmt"
	"path"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua lua/lib/*.lua
var luaFiles embed.FS

// usesPrefix starts the header line naming a script's libraries.
const usesPrefix = "-- uses:"

// scriptSource returns the text Redis runs for store/lua/<name>.lua: the
// libraries its "-- uses:" line names, then the script. It panics when a
// file is missing, which only a broken build can cause (every script is
// loaded by the tests).
func scriptSource(name string) string {
	src := mustReadLua(name + ".lua")
	var b strings.Builder
	for line := range strings.SplitSeq(src, "\n") {
		if !strings.HasPrefix(line, "--") {
			break // the header ends at the first line that is not a comment
		}
		if libs, ok := strings.CutPrefix(line, usesPrefix); ok {
			for _, lib := range strings.Fields(libs) {
				b.WriteString(mustReadLua(lib))
				b.WriteString("\n")
			}
		}
	}
	b.WriteString(src)
	return b.String()
}

// mustReadLua returns the embedded file store/lua/<file>.
func mustReadLua(file string) string {
	b, err := luaFiles.ReadFile(path.Join("lua", file))
	if err != nil {
		panic(fmt.Sprintf("store: embedded Redis script: %v", err))
	}
	return string(b)
}

// loadScript returns the script store/lua/<name>.lua (see scriptSource),
// run with its Run, EvalSha or Eval methods.
func loadScript(name string) *redis.Script {
	return redis.NewScript(scriptSource(name))
}
