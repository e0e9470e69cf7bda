package auth

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvKeysFile is the environment variable that names the keys file.
const EnvKeysFile = "NOTIFIER_API_KEYS_FILE"

// MaxFileSize bounds the size of a keys file, in bytes.
const MaxFileSize = 1 << 20

// Scope is a permission that an API key holds.
type Scope string

// The scopes a key may hold.
const (
	// ScopeLink allows CreateLinkToken, GetLinkURL, GetStatus, WatchStatus,
	// Unlink and CreateBrowserSession.
	ScopeLink Scope = "link"
	// ScopeNotify allows Notify, GetNotification, EditNotification,
	// DeleteNotification, GetStatus and WatchStatus.
	ScopeNotify Scope = "notify"
	// ScopeEvents allows ListEvents and WatchEvents: the event log, which
	// names every user and may carry their messages.
	ScopeEvents Scope = "events"
)

// allScopes are the scopes a keys file may name, in the order messages
// list them.
func allScopes() []Scope { return []Scope{ScopeLink, ScopeNotify, ScopeEvents} }

// AnonymousName is the caller name used when the service runs open.
const AnonymousName = "anonymous"

// validName restricts key names to what is safe in logs and metric labels.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// emptySHA256 is the SHA-256 of the empty string, which is never a valid key.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// key is one configured API key: its name, the SHA-256 of the secret, its
// scopes and its optional rate limit.
type key struct {
	name   string
	hash   [32]byte
	scopes []Scope
	rate   *keyRate // nil: unlimited
	bots   []string // nil: every bot
}

// validBot is the form of a bot id (as NOTIFIER_BOTS_FILE's).
var validBot = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// keyRate is the rate limit of one API key: a token bucket refilled with
// perSecond tokens a second that holds at most burst, one token a call.
type keyRate struct {
	// perSecond is the sustained number of calls a second (> 0).
	perSecond float64
	// burst is how many calls may be made at once after a pause (≥ 1).
	burst int
	// spec is the rate as written in the file ("50/s"), for messages.
	spec string
}

// Limits on the rate fields of a keys file.
const (
	maxRatePerSecond = 1e6
	maxBurst         = 1_000_000
)

// rateSpec matches "<number>/<unit>": "50/s", "0.5/s", "600/m", "1000/h".
var rateSpec = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)/(s|m|h)$`)

// parseRate parses a rate field ("50/s", "600/m", "1000/h") and a burst
// (nil: the default, one second's worth of calls and at least 1).
func parseRate(spec string, burst *int) (*keyRate, error) {
	if spec == "" {
		if burst != nil {
			return nil, errors.New("burst without rate: give rate too, e.g. rate: 50/s")
		}
		return nil, nil
	}
	m := rateSpec.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil {
		return nil, fmt.Errorf("invalid rate %q: want <calls>/<s|m|h>, e.g. 50/s, 600/m or 1000/h", spec)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return nil, fmt.Errorf("invalid rate %q: %w", spec, err)
	}
	per := map[string]float64{"s": 1, "m": 60, "h": 3600}[m[2]]
	r := &keyRate{perSecond: n / per, spec: strings.TrimSpace(spec)}
	if r.perSecond <= 0 || r.perSecond > maxRatePerSecond {
		return nil, fmt.Errorf("invalid rate %q: must be above 0 and at most %g/s", spec, float64(maxRatePerSecond))
	}
	switch {
	case burst == nil:
		r.burst = max(1, int(math.Ceil(r.perSecond)))
	case *burst < 1 || *burst > maxBurst:
		return nil, fmt.Errorf("invalid burst %d: must be 1 to %d", *burst, maxBurst)
	default:
		r.burst = *burst
	}
	return r, nil
}

// KeySet is an immutable set of API keys as loaded from a keys file. A nil
// *KeySet means that no keys are configured (open mode).
type KeySet struct {
	keys []key
}

// Len reports how many keys the set holds.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Names returns the names of the keys in file order. It never returns
// hashes, so it is safe to log.
func (s *KeySet) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, len(s.keys))
	for i, k := range s.keys {
		names[i] = k.name
	}
	return names
}

// fileDoc is the document stored in a keys file.
type fileDoc struct {
	Keys *[]fileKey `yaml:"keys" json:"keys"`
}

// fileKey is one entry of a keys file.
type fileKey struct {
	Name   string   `yaml:"name" json:"name"`
	SHA256 string   `yaml:"sha256" json:"sha256"`
	Scopes []string `yaml:"scopes" json:"scopes"`
	// Rate and Burst are optional: without them the key is unlimited.
	Rate  string `yaml:"rate" json:"rate"`
	Burst *int   `yaml:"burst" json:"burst"`
	// Bots limits the key to these bots (ids of NOTIFIER_BOTS_FILE);
	// absent: every bot.
	Bots *[]string `yaml:"bots" json:"bots"`
}

// LoadFile reads and validates a keys file in YAML or JSON. It is strict:
// unknown fields, an empty or malformed name, a duplicate name or hash, a
// sha256 that is not 64 hex digits, an unknown or repeated scope, a key
// without scopes, a malformed rate, a burst without a rate or a bad bots
// list (empty, a malformed or repeated bot id) is an error
// that names the entry. A file with "keys: []"
// loads as a set that admits nobody. Files larger than MaxFileSize are
// rejected.
func LoadFile(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("API keys file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("API keys file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("API keys file %s: larger than %d bytes", path, MaxFileSize)
	}
	ks, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("API keys file %s: %w", path, err)
	}
	return ks, nil
}

// Parse validates a keys document in YAML or JSON, with the same rules as
// LoadFile.
func Parse(data []byte) (*KeySet, error) {
	var doc fileDoc
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty document: expected a top-level \"keys\" list")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, errors.New("invalid JSON: data after the top-level object")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
		var extra any
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, errors.New("invalid YAML: more than one document")
		}
	}
	if doc.Keys == nil {
		return nil, errors.New("missing top-level \"keys\" list")
	}
	ks := &KeySet{keys: make([]key, 0, len(*doc.Keys))}
	names := make(map[string]int)
	hashes := make(map[[32]byte]int)
	for i, fk := range *doc.Keys {
		k, err := validateKey(fk)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", entryName(i, fk.Name), err)
		}
		if j, dup := names[k.name]; dup {
			return nil, fmt.Errorf("%s: duplicate name, also used by key #%d", entryName(i, fk.Name), j+1)
		}
		if j, dup := hashes[k.hash]; dup {
			return nil, fmt.Errorf("%s: duplicate sha256, also used by %s", entryName(i, fk.Name), entryName(j, (*doc.Keys)[j].Name))
		}
		names[k.name] = i
		hashes[k.hash] = i
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// entryName describes entry i (0-based) of the file for error messages.
func entryName(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("key #%d", i+1)
	}
	return fmt.Sprintf("key #%d (%q)", i+1, name)
}

// validateKey checks one file entry and converts it.
func validateKey(fk fileKey) (key, error) {
	var k key
	switch {
	case fk.Name == "":
		return k, errors.New("empty name")
	case !validName.MatchString(fk.Name):
		return k, errors.New("invalid name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	case fk.Name == AnonymousName:
		return k, fmt.Errorf("name %q is reserved for open mode", AnonymousName)
	case fk.Name == SessionCallerName:
		return k, fmt.Errorf("name %q is reserved for browser sessions", SessionCallerName)
	}
	k.name = fk.Name
	if len(fk.SHA256) != 64 {
		return k, fmt.Errorf("sha256 must be 64 hex digits, got %d characters", len(fk.SHA256))
	}
	h, err := hex.DecodeString(fk.SHA256)
	if err != nil {
		return k, errors.New("sha256 must be 64 hex digits")
	}
	if strings.EqualFold(fk.SHA256, emptySHA256) {
		return k, errors.New("sha256 is the hash of an empty key")
	}
	copy(k.hash[:], h)
	if len(fk.Scopes) == 0 {
		return k, fmt.Errorf("no scopes: give at least one of %s", quoteScopes(allScopes()))
	}
	for _, s := range fk.Scopes {
		sc := Scope(s)
		if !slices.Contains(allScopes(), sc) {
			return k, fmt.Errorf("unknown scope %q: want %s", s, quoteScopes(allScopes()))
		}
		if slices.Contains(k.scopes, sc) {
			return k, fmt.Errorf("scope %q listed twice", s)
		}
		k.scopes = append(k.scopes, sc)
	}
	if k.rate, err = parseRate(fk.Rate, fk.Burst); err != nil {
		return k, err
	}
	if k.bots, err = parseBots(fk.Bots); err != nil {
		return k, err
	}
	return k, nil
}

// parseBots checks a key's bots list: absent is every bot; listed, 1-256
// distinct well-formed ids.
func parseBots(bots *[]string) ([]string, error) {
	if bots == nil {
		return nil, nil
	}
	if len(*bots) == 0 || len(*bots) > 256 {
		return nil, errors.New("bots: list 1 to 256 bot ids, or leave it out for every bot")
	}
	out := make([]string, 0, len(*bots))
	for _, b := range *bots {
		if !validBot.MatchString(b) {
			return nil, fmt.Errorf("bots: invalid bot id %q: want 1-32 of a-z, 0-9, _ and -", b)
		}
		if slices.Contains(out, b) {
			return nil, fmt.Errorf("bots: %q listed twice", b)
		}
		out = append(out, b)
	}
	return out, nil
}
